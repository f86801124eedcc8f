"""``antigravity-proxy accounts ...``: list, add, login, import, enable, disable,
remove, refresh-quota, warmup. Output never contains tokens.

Each command returns an exit status: 0 done, 1 the operation failed (Google or
the upstream said no), 2 bad input (unknown id, unreadable import file).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import requests

from antigravity_proxy.accounts import quota as quota_mod
from antigravity_proxy.accounts.edits import set_enabled
from antigravity_proxy.accounts.login import LoginOptions, login
from antigravity_proxy.accounts.oauth import OAuthError
from antigravity_proxy.accounts.onboarding import ImportFailed, Onboarding
from antigravity_proxy.accounts.store import Account, AccountLoadError, AccountNotFound
from antigravity_proxy.config import Config
from antigravity_proxy.errors import GatewayError
from antigravity_proxy.handlers.internal import DEFAULT_WARMUP_MODEL, warm_up
from antigravity_proxy.services import Services


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    accounts = commands.add_parser("accounts", help="manage the Google account pool")
    accounts.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    sub = accounts.add_subparsers(dest="accounts_command", required=True)
    sub.add_parser("list", help="show accounts, cooldowns and quota")
    add = sub.add_parser("add", help="add an account from a refresh token")
    add.add_argument("--refresh-token", required=True)
    log_in = sub.add_parser("login", help="sign in with Google (OAuth)")
    log_in.add_argument(
        "--no-browser", action="store_true", help="paste the redirect URL"
    )
    log_in.add_argument("--port", type=int, default=0, help="local callback port")
    imp = sub.add_parser("import", help="import accounts or refresh tokens")
    imp.add_argument("path", type=Path)
    for name in ("enable", "disable", "remove"):
        sub.add_parser(name, help=f"{name} an account").add_argument("id")
    refresh = sub.add_parser("refresh-quota", help="fetch quota now")
    refresh.add_argument("id", nargs="?")
    warm = sub.add_parser("warmup", help="one tiny request to start quota windows")
    warm.add_argument("id", nargs="?", help="one account (default: every usable one)")
    warm.add_argument("--model", default=DEFAULT_WARMUP_MODEL)
    accounts.set_defaults(run=run)


def run(config: Config, args: argparse.Namespace) -> int:
    services = Services.build(config)
    command: Callable[[Services, argparse.Namespace], int] = COMMANDS[
        args.accounts_command
    ]
    try:
        return command(services, args)
    except AccountNotFound as exc:
        print(f"antigravity-proxy: no account with id {exc}", file=sys.stderr)
        return 2
    except (ImportFailed, AccountLoadError, ValueError) as exc:
        print(f"antigravity-proxy: {exc}", file=sys.stderr)
        return 2
    except (OAuthError, GatewayError) as exc:
        print(f"antigravity-proxy: {exc}", file=sys.stderr)
        return 1


def cmd_list(services: Services, args: argparse.Namespace) -> int:
    accounts = services.store.all()
    if not accounts:
        print('no accounts yet: run "antigravity-proxy accounts login"')
        return 0
    cooldowns = services.state.active_cooldowns()
    rows = [_row(a, cooldowns, time.time()) for a in accounts]
    header = ["ID", "EMAIL", "TIER", "ENABLED", "COOLING DOWN UNTIL", "QUOTA"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )
    return 0


def _row(
    account: Account, cooldowns: dict[str, tuple[float, str]], now: float
) -> list[str]:
    keys = [k for k in cooldowns if k == account.id or k.startswith(account.id + ":")]
    cooling = ", ".join(
        f"{k.partition(':')[2] or 'all'} {_utc(cooldowns[k][0])} ({cooldowns[k][1]})"
        for k in sorted(keys)
    )
    return [
        account.id,
        account.email,
        account.tier or "-",
        _state(account, now),
        cooling or "-",
        _quota_summary(account) or "unknown",
    ]


def _state(account: Account, now: float) -> str:
    if account.usable(now):
        return "yes"
    if account.disabled:
        return (
            "no (invalid_grant)"
            if "invalid_grant" in (account.disabled_reason or "")
            else "no"
        )
    if account.forbidden:
        return "no (forbidden)"
    return "no"


def _quota_summary(account: Account) -> str:
    best: dict[str, int] = {}
    for model in account.quota_models:
        group = quota_mod.model_group(model.name) or model.name
        best[group] = max(best.get(group, 0), model.percentage)
    return " ".join(f"{g}={best[g]}%" for g in sorted(best))


def cmd_add(services: Services, args: argparse.Namespace) -> int:
    account = _onboarding(services).add_refresh_token(args.refresh_token)
    print(f"added {account.id} ({account.email})")
    return 0


def cmd_login(services: Services, args: argparse.Namespace) -> int:
    onboarding = _onboarding(services)
    oauth = onboarding.oauth

    def exchange(code: str, redirect_uri: str):  # type: ignore[no-untyped-def]
        with requests.Session() as session:
            return oauth.exchange_code(session, code, redirect_uri)

    options = LoginOptions(no_browser=args.no_browser, port=args.port)
    grant = login(oauth, exchange, options, say=print, ask=input)
    account = onboarding.add_grant(grant)
    print(f"signed in: {account.id} ({account.email})")
    return 0


def cmd_import(services: Services, args: argparse.Namespace) -> int:
    imported = _onboarding(services).import_path(args.path)
    for account in imported:
        print(f"imported {account.id} ({account.email})")
    return 0


def cmd_enable(services: Services, args: argparse.Namespace) -> int:
    services.store.update(args.id, lambda raw: set_enabled(raw, True))
    print(f"enabled {args.id}")
    return 0


def cmd_disable(services: Services, args: argparse.Namespace) -> int:
    services.store.update(
        args.id, lambda raw: set_enabled(raw, False, now=int(time.time()))
    )
    print(f"disabled {args.id}")
    return 0


def cmd_remove(services: Services, args: argparse.Namespace) -> int:
    services.store.remove(args.id)
    print(f"removed {args.id}")
    return 0


def cmd_refresh_quota(services: Services, args: argparse.Namespace) -> int:
    targets = [services.store.get(args.id)] if args.id else services.store.all()
    failed = 0
    for account in targets:
        try:
            updated = services.pool.refresh_quota(account)
            print(f"{updated.id}: {_quota_summary(updated) or 'no models'}")
        except (GatewayError, OAuthError) as exc:
            failed += 1
            print(f"{account.id}: quota refresh failed: {exc}", file=sys.stderr)
    return 1 if failed else 0


def cmd_warmup(services: Services, args: argparse.Namespace) -> int:
    """The same warm-up as ``POST /internal/warmup``, for one or every account."""
    if args.id:
        targets = [services.store.get(args.id)]
    else:
        now = time.time()
        targets = [a for a in services.store.all() if a.usable(now)]
    if not targets:
        print("no usable account to warm up", file=sys.stderr)
        return 1
    failed = 0
    for account in targets:
        result = warm_up(services, account, args.model)
        line = f"{account.id}: {result.body['message']}"
        if result.ok:
            print(line)
        else:
            failed += 1
            print(f"{line}: {result.body.get('error', '')}", file=sys.stderr)
    return 1 if failed else 0


def _onboarding(services: Services) -> Onboarding:
    return Onboarding(services.store, services.pool.oauth, services.upstream)


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


COMMANDS: Final[dict[str, Callable[[Services, argparse.Namespace], int]]] = {
    "list": cmd_list,
    "add": cmd_add,
    "login": cmd_login,
    "import": cmd_import,
    "enable": cmd_enable,
    "disable": cmd_disable,
    "remove": cmd_remove,
    "refresh-quota": cmd_refresh_quota,
    "warmup": cmd_warmup,
}
