"""Read the ledger: totals grouped by any of account, model, client, protocol,
hour and day, recent failures, and per-account numbers for today.

Whole days come from the ``daily`` rollups, whole hours before the first whole
day from ``hourly`` (all of them when grouping by hour), and the part of the first
hour after ``since`` from the raw rows: a range is exact to the second yet a year
costs one rollup row per day and key. Percentiles are estimated from the latency
histogram (linear within a bucket; the bounds are ``schema.BUCKETS_MS``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.usage import rollup
from antigravity_proxy.usage.row import UsageRow
from antigravity_proxy.usage.schema import BUCKETS_MS, ROW_COLUMNS, SUM_COLUMNS

DIMENSIONS: Final[Mapping[str, str]] = {
    "account": "account",
    "model": "model",
    "client": "client",
    "protocol": "protocol",
    "status": "status",
    "hour": "hour",
    "day": "(hour / 86400) * 86400",
}
HOURLY: Final = ("hourly", "hour")
DAILY: Final = ("daily", "day")
_N_SUMS: Final = len(SUM_COLUMNS)
_N_DURATION: Final = len(BUCKETS_MS) + 1


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    thinking_tokens: int
    images: int
    p50_ms: float | None
    p95_ms: float | None
    ttfb_p50_ms: float | None
    duration_ms_sum: float

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Group:
    key: Mapping[str, str | int]
    totals: Totals


def totals_by(
    conn: sqlite3.Connection, since: float, by: Sequence[str] = ()
) -> list[Group]:
    """Totals of every request at or after ``since``, one group per key of ``by``."""
    return summarize(conn, since, by)[0]


def summarize(
    conn: sqlite3.Connection, since: float, by: Sequence[str] = ()
) -> tuple[list[Group], Totals]:
    """The groups of ``totals_by`` and their grand total, in one pass."""
    for name in by:
        if name not in DIMENSIONS:
            raise ValueError(f"cannot group by {name!r}")
    first_hour = _ceil(since, rollup.HOUR)
    if "hour" in by:
        vectors = _from_rollups(conn, HOURLY, first_hour, None, by)
    else:
        first_day = _ceil(since, rollup.DAY)
        vectors = _from_rollups(conn, DAILY, first_day, None, by)
        hours = _from_rollups(conn, HOURLY, first_hour, first_day, by)
        for key, values in hours.items():
            _add(vectors.setdefault(key, _zero()), values)
    for row in _raw_rows(conn, since, first_hour):
        vector = vectors.setdefault(_row_key(row, by), _zero())
        rollup.add_row(vector, row)
    total = [sum(column) for column in zip(_zero(), *vectors.values(), strict=True)]
    groups = [
        Group(dict(zip(by, key, strict=True)), _totals(v)) for key, v in vectors.items()
    ]
    groups.sort(key=lambda g: tuple(_order(g.key[n]) for n in by))
    return groups, _totals(total)


def _order(value: object) -> tuple[int, str | int]:
    """Numbers (hours, days, statuses) by value, names alphabetically."""
    return (0, value) if isinstance(value, int) else (1, str(value))


def no_totals() -> Totals:
    """The totals of an empty ledger."""
    return _totals(_zero())


def grand_total(conn: sqlite3.Connection, since: float) -> Totals:
    groups = totals_by(conn, since)
    return groups[0].totals if groups else _totals(_zero())


def recent_failures(conn: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The last failed requests, newest first, for the status page."""
    cursor = conn.execute(
        "SELECT ts, request_id, route, protocol, client_model, upstream_model, "
        "account, status, error_kind, ending, attempts FROM requests "
        "WHERE status >= 400 OR ending IN ('upstream_cut', 'timeout') "
        "ORDER BY ts DESC LIMIT ?",
        (limit,),
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor]


def accounts_since(conn: sqlite3.Connection, since: float) -> dict[str, dict[str, Any]]:
    """Per account: requests and tokens since ``since``, and its last error."""
    result: dict[str, dict[str, Any]] = {}
    for group in totals_by(conn, since, ("account",)):
        t = group.totals
        result[str(group.key["account"])] = {
            "requests": t.requests,
            "errors": t.errors,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
        }
    cursor = conn.execute(
        "SELECT account, MAX(ts), status, "
        "CASE WHEN error_kind != '' THEN error_kind ELSE ending END FROM requests "
        "WHERE status >= 400 OR ending IN ('upstream_cut', 'timeout') "
        "GROUP BY account"
    )
    for account, ts, status, kind in cursor:
        entry = result.setdefault(account, {})
        entry["last_error"] = {"ts": ts, "status": status, "error_kind": kind}
    return result


def percentile(buckets: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of a latency histogram, in milliseconds."""
    count = sum(buckets)
    if count <= 0:
        return None
    target = fraction * count
    seen = 0.0
    for index, n in enumerate(buckets):
        if n and seen + n >= target:
            if index >= len(BUCKETS_MS):
                return float(BUCKETS_MS[-1])
            low = BUCKETS_MS[index - 1] if index else 0
            return low + (BUCKETS_MS[index] - low) * (target - seen) / n
        seen += n
    return float(BUCKETS_MS[-1])  # pragma: no cover - the loop always returns


def _from_rollups(
    conn: sqlite3.Connection,
    table: tuple[str, str],
    start: int,
    end: int | None,
    by: Sequence[str],
) -> dict[tuple[Any, ...], list[float]]:
    """Summed rollup rows of ``table`` (``HOURLY`` or ``DAILY``) in [start, end)."""
    name, period = table
    if end is not None and end <= start:
        return {}
    keys = [f"{_expression(n, period)} AS {n}" for n in by]
    sums = [f"SUM({c})" for c in rollup.ROLLUP_COLUMNS]
    where = f"{period} >= ?" + (f" AND {period} < ?" if end is not None else "")
    group = f" GROUP BY {', '.join(by)}" if by else ""
    sql = f"SELECT {', '.join(keys + sums)} FROM {name} WHERE {where}{group}"
    params = (start,) if end is None else (start, end)
    vectors: dict[tuple[Any, ...], list[float]] = {}
    for values in conn.execute(sql, params):
        sums_part = values[len(by) :]
        if sums_part[0] is None:
            continue  # no rows at all: SQLite's aggregate over nothing
        vectors[tuple(values[: len(by)])] = [float(v) for v in sums_part]
    return vectors


def _expression(name: str, period: str) -> str:
    if name == "day":
        return "day" if period == "day" else "(hour / 86400) * 86400"
    return DIMENSIONS[name]


def _ceil(ts: float, step: int) -> int:
    return -(-int(ts) // step) * step


def _add(total: list[float], values: Sequence[float]) -> None:
    for index, value in enumerate(values):
        total[index] += value


def _raw_rows(
    conn: sqlite3.Connection, since: float, until: float
) -> Iterable[UsageRow]:
    if until <= since:
        return []
    cursor = conn.execute(
        f"SELECT {', '.join(ROW_COLUMNS)} FROM requests WHERE ts >= ? AND ts < ?",
        (since, until),
    )
    return [row_from_db(values) for values in cursor]


def row_from_db(values: Sequence[Any]) -> UsageRow:
    """A ``UsageRow`` from the columns of ``schema.ROW_COLUMNS``, in that order."""
    record = dict(zip(ROW_COLUMNS, values, strict=True))
    del record["attempts"]
    reasons = record.pop("attempt_reasons")
    record["stream"] = bool(record["stream"])
    attempts = tuple(reasons.split(",")) if reasons else ()
    return UsageRow(attempt_reasons=attempts, **record)


def _row_key(row: UsageRow, by: Sequence[str]) -> tuple[Any, ...]:
    hour = rollup.hour_of(row.ts)
    values: dict[str, Any] = {
        "account": row.account,
        "model": row.upstream_model,
        "client": row.client,
        "protocol": row.protocol,
        "status": row.status,
        "hour": hour,
        "day": (hour // 86400) * 86400,
    }
    return tuple(values[n] for n in by)


def _zero() -> list[float]:
    return [0.0] * len(rollup.ROLLUP_COLUMNS)


def _totals(v: Sequence[float]) -> Totals:
    durations = v[_N_SUMS : _N_SUMS + _N_DURATION]
    ttfbs = v[_N_SUMS + _N_DURATION :]
    return Totals(
        requests=int(v[0]),
        errors=int(v[1]),
        input_tokens=int(v[2]),
        output_tokens=int(v[3]),
        cached_tokens=int(v[4]),
        thinking_tokens=int(v[5]),
        images=int(v[6]),
        p50_ms=_rounded(percentile(durations, 0.5)),
        p95_ms=_rounded(percentile(durations, 0.95)),
        ttfb_p50_ms=_rounded(percentile(ttfbs, 0.5)),
        duration_ms_sum=round(v[7], 3),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
