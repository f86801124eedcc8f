"""``antigravity-proxy keys ...``: one named gateway key per teammate.

``keys add NAME`` generates a key, saves it in ``proxy.api_keys`` of the config
file (the rest of the file kept, see ``config_edit``) and prints it once, on
stdout, so ``KEY=$(antigravity-proxy keys add alice)`` works; everything else
goes to stderr. ``keys list`` shows names and fingerprints, never a key.
``keys revoke NAME`` removes one. A running gateway applies both at once: it
re-reads the keys whenever the config file changes (``apikeys.KeyRing``).

Exit status: 0 done, 2 bad input (a name that is invalid, taken or unknown).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Final

from antigravity_proxy.apikeys import (
    MAIN_KEY_NAME,
    ApiKey,
    check_name,
    fingerprint,
    generate_key,
)
from antigravity_proxy.config import Config, ConfigError
from antigravity_proxy.config_edit import Change, Edited, edit_api_keys

APPLIED: Final = (
    "a running gateway applies this at once (it re-reads proxy.api_keys when "
    "the config file changes); no restart needed"
)


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = commands.add_parser(
        "keys", help="named gateway keys, one per teammate (proxy.api_keys)"
    )
    sub = keys.add_subparsers(dest="keys_command", metavar="COMMAND")
    add = sub.add_parser("add", help="generate a key for NAME and print it once")
    add.add_argument("name", help="who the key is for, e.g. alice")
    listed = sub.add_parser("list", help="key names and fingerprints (never keys)")
    listed.add_argument("--json", action="store_true", help="print JSON")
    revoke = sub.add_parser("revoke", help="remove NAME's key")
    revoke.add_argument("name", help="the name shown by 'keys list'")
    keys.set_defaults(run=run, keys_parser=keys)


def run(config: Config, args: argparse.Namespace) -> int:
    if args.keys_command is None:
        args.keys_parser.print_help()
        return 0
    command = {"add": cmd_add, "list": cmd_list, "revoke": cmd_revoke}
    try:
        return command[args.keys_command](config, args)
    except (ValueError, OSError) as exc:
        message = exc.strerror if isinstance(exc, OSError) else str(exc)
        print(f"antigravity-proxy: {message}", file=sys.stderr)
        return 2


def cmd_add(config: Config, args: argparse.Namespace) -> int:
    name: str = args.name
    problem = check_name(name)
    if problem:
        raise ValueError(problem)
    key = generate_key()

    def add(keys: tuple[ApiKey, ...]) -> tuple[ApiKey, ...]:
        if any(k.name.casefold() == name.casefold() for k in keys):
            raise ValueError(
                f"a key named {name!r} exists already; "
                f'"antigravity-proxy keys revoke {name}" first to replace it'
            )
        return (*keys, ApiKey(name, key))

    edited = _edit(config, add)
    _say(f"added key {name!r} ({fingerprint(key)}) to {config.config_path}")
    _say_layout(config, edited)
    _say(APPLIED)
    _say("the key is shown this once; give it to its owner:")
    print(key)
    return 0


def cmd_list(config: Config, args: argparse.Namespace) -> int:
    main = config.proxy.api_key
    rows = [(MAIN_KEY_NAME, fingerprint(main), "proxy.api_key")] if main else []
    named = config.proxy.api_keys
    rows += [(k.name, fingerprint(k.key), "proxy.api_keys") for k in named]
    if args.json:
        fields = ("name", "fingerprint", "source")
        print(json.dumps([dict(zip(fields, row, strict=True)) for row in rows]))
        return 0
    table = [("NAME", "FINGERPRINT", "SOURCE"), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for name, tag, source in table:
        print(f"{name:<{widths[0]}}  {tag:<{widths[1]}}  {source}")
    return 0


def cmd_revoke(config: Config, args: argparse.Namespace) -> int:
    name: str = args.name
    if name.casefold() == MAIN_KEY_NAME:
        raise ValueError(
            f"the main key is proxy.api_key in {config.config_path}: "
            "replace it there and restart the gateway"
        )

    def revoke(keys: tuple[ApiKey, ...]) -> tuple[ApiKey, ...]:
        kept = tuple(k for k in keys if k.name.casefold() != name.casefold())
        if len(kept) == len(keys):
            known = ", ".join(k.name for k in keys) or "none"
            raise ValueError(f"no key named {name!r} (named keys: {known})")
        return kept

    edited = _edit(config, revoke)
    _say(f"revoked key {name!r} in {config.config_path}")
    _say_layout(config, edited)
    _say(APPLIED)
    return 0


def _edit(config: Config, change: Change) -> Edited:
    path = Path(config.config_path)
    if not config.config_path or not path.exists():
        raise ConfigError(
            f"{path}: no config file yet; 'antigravity-proxy serve' creates it"
        )
    return edit_api_keys(path, change)


def _say_layout(config: Config, edited: Edited) -> None:
    if not edited.kept_layout:
        _say(
            f"note: {config.config_path} was rewritten in plain YAML; "
            "its comments and layout could not be kept"
        )


def _say(line: str) -> None:
    print(line, file=sys.stderr)
