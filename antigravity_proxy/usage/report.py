"""The status page's data: accounts, totals, hourly charts and recent failures.

One JSON document, assembled from the ledger (``query``) and the accounts view;
``GET /status/data`` serves it behind the gateway key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from antigravity_proxy.usage import query, rollup

CHART_RANGES: Final = {"24h": 24, "7d": 7 * 24}
DAY: Final = 86400


def status_report(
    conn: sqlite3.Connection, accounts: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """Everything the status page shows; ``accounts`` from ``account_views``."""
    today = query.accounts_since(conn, now - now % DAY)
    for view in accounts:
        view["today"] = today.get(view["id"], {})
    return {
        "now": now,
        "accounts": accounts,
        "totals": {
            name: query.grand_total(conn, now - hours * 3600).as_json()
            for name, hours in CHART_RANGES.items()
        },
        "charts": {
            name: hourly_series(conn, now, hours)
            for name, hours in CHART_RANGES.items()
        },
        "failures": query.recent_failures(conn),
    }


def hourly_series(conn: sqlite3.Connection, now: float, hours: int) -> dict[str, Any]:
    """Requests, tokens and errors per hour for the last ``hours`` hours.

    Split two ways (by upstream model, by account); every series has one value
    per hour in ``hours``, zero where nothing happened.
    """
    last = rollup.hour_of(now)
    axis = [last - (hours - 1 - i) * rollup.HOUR for i in range(hours)]
    result: dict[str, Any] = {"hours": axis}
    for name, dimension in (("by_model", "model"), ("by_account", "account")):
        groups = query.totals_by(conn, axis[0], ("hour", dimension))
        result[name] = _series(groups, dimension, axis)
    totals = query.totals_by(conn, axis[0], ("hour",))
    index = {hour: i for i, hour in enumerate(axis)}
    requests = [0] * hours
    errors = [0] * hours
    for group in totals:
        i = index.get(int(group.key["hour"]))
        if i is not None:
            requests[i] = group.totals.requests
            errors[i] = group.totals.errors
    result["requests"] = requests
    result["errors"] = errors
    return result


def _series(
    groups: Sequence[query.Group], dimension: str, axis: Sequence[int]
) -> dict[str, dict[str, list[int]]]:
    index = {hour: i for i, hour in enumerate(axis)}
    series: dict[str, dict[str, list[int]]] = {}
    for group in groups:
        i = index.get(int(group.key["hour"]))
        if i is None:
            continue
        name = str(group.key[dimension])
        entry = series.setdefault(
            name, {"requests": [0] * len(axis), "tokens": [0] * len(axis)}
        )
        entry["requests"][i] = group.totals.requests
        entry["tokens"][i] = group.totals.input_tokens + group.totals.output_tokens
    return series
