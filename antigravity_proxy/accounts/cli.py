"""``antigravity-proxy accounts ...``: list, add, login, import, enable, disable,
remove, set-proxy, refresh-quota, warmup. Output never contains tokens, nor the
credentials of an account's proxy URL.

Each command returns an exit status: 0 done, 1 the operation failed (Google or
the upstream said no), 2 bad input (unknown id, unreadable import file).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from antigravity_proxy.accounts import cli_onboarding
from antigravity_proxy.accounts import quota as quota_mod
from antigravity_proxy.accounts.edits import set_enabled, set_proxy_url
from antigravity_proxy.accounts.oauth import OAuthError
from antigravity_proxy.accounts.onboarding import ImportFailed, Onboarding, is_pending
from antigravity_proxy.accounts.store import Account, AccountLoadError, AccountNotFound
from antigravity_proxy.banner import command_name
from antigravity_proxy.config import Config
from antigravity_proxy.errors import GatewayError
from antigravity_proxy.handlers.internal import DEFAULT_WARMUP_MODEL, warm_up
from antigravity_proxy.services import Services
from antigravity_proxy.upstream.egress import redact
from antigravity_proxy.usage import query as usage_query


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    accounts = commands.add_parser("accounts", help="manage the Google account pool")
    sub = accounts.add_subparsers(dest="accounts_command", metavar="COMMAND")
    listing = sub.add_parser("list", help="show accounts, cooldowns and quota")
    listing.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )
    cli_onboarding.add_arguments(sub)
    for name in ("enable", "disable", "remove"):
        sub.add_parser(name, help=f"{name} an account").add_argument(
            "account", metavar="ID_OR_EMAIL", help="the account's id or email"
        )
    set_proxy = sub.add_parser(
        "set-proxy",
        help="route one account's calls through a proxy, or direct again",
        description="Every call for the account (token refresh, quota, project, "
        "generation) then goes through URL. A running gateway applies it on the "
        "account's next call.",
    )
    set_proxy.add_argument(
        "account", metavar="ID_OR_EMAIL", help="the account's id or email"
    )
    set_proxy.add_argument(
        "proxy_url",
        metavar="URL|none",
        type=_proxy_or_none,
        help="http://[user:pass@]host:port, socks5://..., socks5h://..., "
        "or none for direct",
    )
    refresh = sub.add_parser("refresh-quota", help="fetch quota now")
    refresh.add_argument(
        "account",
        metavar="ID_OR_EMAIL",
        nargs="?",
        help="one account's id or email (default: every account)",
    )
    warm = sub.add_parser("warmup", help="one tiny request to start quota windows")
    warm.add_argument(
        "account",
        metavar="ID_OR_EMAIL",
        nargs="?",
        help="one account's id or email (default: every usable one)",
    )
    warm.add_argument(
        "--model", default=DEFAULT_WARMUP_MODEL, help="the model to warm up"
    )
    accounts.set_defaults(run=run, accounts_parser=accounts)


def run(config: Config, args: argparse.Namespace) -> int:
    if args.accounts_command is None:
        args.accounts_parser.print_help()
        return 0
    services = Services.build(config)
    command: Callable[[Services, argparse.Namespace], int] = COMMANDS[
        args.accounts_command
    ]
    try:
        return command(services, args)
    except AccountNotFound as exc:
        print(
            f"antigravity-proxy: no account with id or email {exc}; "
            "see 'accounts list'",
            file=sys.stderr,
        )
        return 2
    except (ImportFailed, AccountLoadError, ValueError) as exc:
        print(f"antigravity-proxy: {exc}", file=sys.stderr)
        return 2
    except (OAuthError, GatewayError) as exc:
        print(f"antigravity-proxy: {exc}", file=sys.stderr)
        return 1


def account_id(services: Services, name: str) -> str:
    """The id of the account named by its id or (case-insensitively) its email."""
    if "@" not in name:
        return name
    wanted = name.strip().casefold()
    for account in services.store.all():
        if account.email.strip().casefold() == wanted:
            return account.id
    raise AccountNotFound(name)


def cmd_list(services: Services, args: argparse.Namespace) -> int:
    accounts = services.store.all()
    cooldowns = services.state.active_cooldowns()
    now = time.time()
    usage = _usage_today(services, now)
    if args.json:
        listing = [_json_row(a, cooldowns, now, usage) for a in accounts]
        print(json.dumps(listing, indent=2))
        return 0
    if not accounts:
        print(f'no accounts yet: run "{command_name()} accounts login"')
        return 0
    rows = [_row(a, cooldowns, now, usage) for a in accounts]
    header = ["ID", "EMAIL", "TIER", "ENABLED", "COOLING DOWN UNTIL", "QUOTA"]
    header += ["TODAY", "LAST ERROR", "PROXY"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )
    return 0


def _usage_today(services: Services, now: float) -> dict[str, dict[str, Any]]:
    """Requests, tokens and the last error per account, from the usage ledger."""
    if not services.ledger.path.exists():
        return {}  # nothing served yet; a listing creates no files
    return usage_query.accounts_since(services.ledger.reader(), now - now % 86400)


def _row(
    account: Account,
    cooldowns: dict[str, tuple[float, str]],
    now: float,
    usage: dict[str, dict[str, Any]],
) -> list[str]:
    keys = [k for k in cooldowns if k == account.id or k.startswith(account.id + ":")]
    cooling = ", ".join(
        f"{k.partition(':')[2] or 'all'} {_utc(cooldowns[k][0])} ({cooldowns[k][1]}) "
        f"{_left(cooldowns[k][0] - now)} left"
        for k in sorted(keys)
    )
    today = usage.get(account.id, {})
    tokens = today.get("input_tokens", 0) + today.get("output_tokens", 0)
    last = today.get("last_error")
    return [
        account.id,
        account.email,
        account.tier or "-",
        _state(account, now),
        cooling or "-",
        _quota_summary(account) or "unknown",
        f"{today.get('requests', 0)} req, {tokens} tok",
        f"{last['status']} {last['error_kind']} {_utc(last['ts'])}" if last else "-",
        redact(account.proxy_url) or "-",
    ]


def _json_row(
    account: Account,
    cooldowns: dict[str, tuple[float, str]],
    now: float,
    usage: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    keys = [k for k in cooldowns if k == account.id or k.startswith(account.id + ":")]
    today = usage.get(account.id, {})
    last = today.get("last_error")
    return {
        "id": account.id,
        "email": account.email,
        "tier": account.tier or None,
        "usable": account.usable(now),
        "state": _state(account, now),
        "cooling_down": [
            {
                "model": k.partition(":")[2] or None,
                "until": _utc(cooldowns[k][0]),
                "seconds_left": max(0, math.ceil(cooldowns[k][0] - now)),
                "reason": cooldowns[k][1],
            }
            for k in sorted(keys)
        ],
        "quota": _quota_groups(account),
        "quota_updated": _utc(account.quota_last_updated)
        if account.quota_last_updated
        else None,
        "today": {
            name: today.get(name, 0)
            for name in ("requests", "errors", "input_tokens", "output_tokens")
        },
        "last_error": {**last, "ts": _utc(last["ts"])} if last else None,
        "proxy": redact(account.proxy_url) or None,
    }


def _left(seconds: float) -> str:
    whole = max(0, math.ceil(seconds))
    return f"{whole // 60}m {whole % 60}s" if whole >= 60 else f"{whole}s"


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


def _quota_groups(account: Account) -> dict[str, int]:
    """The best remaining percentage per model group."""
    best: dict[str, int] = {}
    for model in account.quota_models:
        group = quota_mod.model_group(model.name) or model.name
        best[group] = max(best.get(group, 0), model.percentage)
    return dict(sorted(best.items()))


def _quota_summary(account: Account) -> str:
    return " ".join(f"{g}={p}%" for g, p in _quota_groups(account).items())


def cmd_enable(services: Services, args: argparse.Namespace) -> int:
    account = services.store.update(
        account_id(services, args.account), lambda raw: set_enabled(raw, True)
    )
    print(f"enabled {account.id} ({account.email})")
    return 0


def cmd_disable(services: Services, args: argparse.Namespace) -> int:
    account = services.store.update(
        account_id(services, args.account),
        lambda raw: set_enabled(raw, False, now=int(time.time())),
    )
    print(f"disabled {account.id} ({account.email})")
    return 0


def _proxy_or_none(text: str) -> str:
    if text.strip().lower() == "none":
        return ""
    return cli_onboarding.proxy_url_argument(text)


def cmd_set_proxy(services: Services, args: argparse.Namespace) -> int:
    proxy_url: str = args.proxy_url
    account = services.store.update(
        account_id(services, args.account),
        lambda raw: set_proxy_url(raw, proxy_url),
    )
    route = f"through {redact(proxy_url)}" if proxy_url else "direct"
    print(f"{account.id} ({account.email}): calls now go {route}")
    return 0


def cmd_remove(services: Services, args: argparse.Namespace) -> int:
    # By id alone, so a file too broken to read can still be removed.
    target = account_id(services, args.account)
    services.store.remove(target)
    named = f" ({args.account})" if target != args.account else ""
    print(f"removed {target}{named}")
    return 0


def _targets(services: Services, args: argparse.Namespace) -> list[Account] | None:
    if args.account:
        return [services.store.get(account_id(services, args.account))]
    return None


def cmd_refresh_quota(services: Services, args: argparse.Namespace) -> int:
    targets = _targets(services, args) or services.store.all()
    failed = 0
    for account in targets:
        try:
            updated = services.pool.refresh_quota(account)
            if is_pending(updated):
                updated = _onboarding(services).complete_pending(updated)
            print(f"{updated.id}: {_quota_summary(updated) or 'no models'}")
        except (GatewayError, OAuthError) as exc:
            failed += 1
            print(f"{account.id}: quota refresh failed: {exc}", file=sys.stderr)
    return 1 if failed else 0


def cmd_warmup(services: Services, args: argparse.Namespace) -> int:
    """The same warm-up as ``POST /internal/warmup``, for one or every account."""
    targets = _targets(services, args)
    if targets is None:
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
    "add": cli_onboarding.cmd_add,
    "login": cli_onboarding.cmd_login,
    "import": cli_onboarding.cmd_import,
    "enable": cmd_enable,
    "disable": cmd_disable,
    "remove": cmd_remove,
    "refresh-quota": cmd_refresh_quota,
    "warmup": cmd_warmup,
    "set-proxy": cmd_set_proxy,
}
