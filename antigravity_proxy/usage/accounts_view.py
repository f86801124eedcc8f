"""What the box's accounts look like now: state, quota per model group, cooldowns.

Pure: the account files, the shared cooldown records and the time come in; plain
JSON-ready dicts come out, for ``/metrics``, the status page and ``accounts list``.
Tokens are never part of an ``Account`` view.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from antigravity_proxy.accounts import quota as quota_mod
from antigravity_proxy.accounts.store import Account

STATES: Final = ("ready", "cooling", "disabled", "forbidden")


def account_state(account: Account, cooling: bool, now: float) -> tuple[str, str]:
    """``(state, reason)``: ready, cooling, disabled or forbidden, and why."""
    if account.forbidden:
        return "forbidden", "the upstream answered 403 for this account"
    if account.disabled:
        return "disabled", account.disabled_reason or "disabled by hand"
    if not account.usable(now):
        reason = account.proxy_disabled_reason or "validation required"
        return "disabled", reason
    return ("cooling", "") if cooling else ("ready", "")


def quota_groups(account: Account) -> list[dict[str, Any]]:
    """The best remaining fraction per model group, with the earliest reset."""
    best: dict[str, tuple[int, str | None]] = {}
    for model in account.quota_models:
        group = quota_mod.model_group(model.name) or model.name
        seen = best.get(group)
        if seen is None or model.percentage > seen[0]:
            best[group] = (model.percentage, model.reset_time)
    return [
        {"group": g, "fraction": best[g][0] / 100, "reset_time": best[g][1]}
        for g in sorted(best)
    ]


def cooldowns_of(
    account_id: str, records: Mapping[str, tuple[float, str]], now: float
) -> list[dict[str, Any]]:
    keys = [k for k in records if k == account_id or k.startswith(account_id + ":")]
    return [
        {
            "group": key.partition(":")[2] or "all",
            "until": records[key][0],
            "seconds_left": max(0, math.ceil(records[key][0] - now)),
            "reason": records[key][1],
        }
        for key in sorted(keys)
        if records[key][0] > now
    ]


def account_views(
    accounts: Iterable[Account],
    records: Mapping[str, tuple[float, str]],
    now: float,
) -> list[dict[str, Any]]:
    """One dict per account: id, email, tier, state, reason, quota, cooldowns."""
    views = []
    for account in accounts:
        cooldowns = cooldowns_of(account.id, records, now)
        state, reason = account_state(account, bool(cooldowns), now)
        views.append(
            {
                "id": account.id,
                "email": account.email,
                "tier": account.tier,
                "state": state,
                "reason": reason,
                "quota": quota_groups(account),
                "quota_updated": account.quota_last_updated,
                "cooldowns": cooldowns,
            }
        )
    return views
