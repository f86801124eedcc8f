"""Fold a batch of ledger rows into hourly rollup deltas (pure).

The writer adds these deltas to ``hourly`` and ``hourly_attempts`` in the same
transaction that inserts the rows, so the rollups never disagree with the rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Final

from antigravity_proxy.usage.row import UsageRow
from antigravity_proxy.usage.schema import (
    DURATION_COLUMNS,
    ROLLUP_KEYS,
    SUM_COLUMNS,
    TTFB_COLUMNS,
    bucket_index,
)

HOUR: Final = 3600
DAY: Final = 86400
RollupKey = tuple[int, str, str, str, str, int]
AttemptKey = tuple[int, str, str, str]
ROLLUP_COLUMNS: Final = SUM_COLUMNS + DURATION_COLUMNS + TTFB_COLUMNS
_SUMS: Final = len(SUM_COLUMNS)
_TTFB_BASE: Final = _SUMS + len(DURATION_COLUMNS)


def hour_of(ts: float) -> int:
    return int(ts // HOUR) * HOUR


def rollup_key(row: UsageRow) -> RollupKey:
    return (
        hour_of(row.ts),
        row.account,
        row.upstream_model,
        row.protocol,
        row.client,
        row.status,
    )


def add_row(values: list[float], row: UsageRow) -> None:
    """Add one row to a vector laid out as ``ROLLUP_COLUMNS``."""
    values[0] += 1
    values[1] += 1 if row.is_error else 0
    values[2] += row.input_tokens
    values[3] += row.output_tokens
    values[4] += row.cached_tokens
    values[5] += row.thinking_tokens
    values[6] += row.images
    values[7] += row.duration_ms
    values[_SUMS + bucket_index(row.duration_ms)] += 1
    if row.ttfb_ms is not None:
        values[8] += row.ttfb_ms
        values[9] += 1
        values[_TTFB_BASE + bucket_index(row.ttfb_ms)] += 1


def rollup(rows: Iterable[UsageRow]) -> dict[RollupKey, list[float]]:
    deltas: dict[RollupKey, list[float]] = defaultdict(
        lambda: [0.0] * len(ROLLUP_COLUMNS)
    )
    for row in rows:
        add_row(deltas[rollup_key(row)], row)
    return dict(deltas)


def attempt_rollup(rows: Iterable[UsageRow]) -> dict[AttemptKey, list[int]]:
    """``[attempts, rotations]`` per hour, account, model and reason.

    Why "rotation": every attempt but the last one was given up for another try;
    counting it by its reason says why the gateway moved on.
    """
    deltas: dict[AttemptKey, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        last = len(row.attempt_reasons) - 1
        for index, reason in enumerate(row.attempt_reasons):
            entry = deltas[(hour_of(row.ts), row.account, row.upstream_model, reason)]
            entry[0] += 1
            entry[1] += 1 if index < last else 0
    return dict(deltas)


def upsert_sql(table: str = "hourly", period: str = "hour") -> str:
    """Add a delta row to ``hourly`` (or ``daily``, keyed by ``day``)."""
    rollup_keys = (period, *ROLLUP_KEYS[1:])
    names = ", ".join(rollup_keys + ROLLUP_COLUMNS)
    marks = ", ".join("?" for _ in rollup_keys + ROLLUP_COLUMNS)
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in ROLLUP_COLUMNS)
    keys = ", ".join(rollup_keys)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


def by_day(deltas: dict[RollupKey, list[float]]) -> dict[RollupKey, list[float]]:
    """Hourly deltas summed per UTC day (the key's first field becomes the day)."""
    days: dict[RollupKey, list[float]] = {}
    for (hour, *rest), values in deltas.items():
        key: RollupKey = (hour - hour % DAY, *rest)  # type: ignore[assignment]
        total = days.setdefault(key, [0.0] * len(values))
        for index, value in enumerate(values):
            total[index] += value
    return days


ATTEMPTS_SQL: Final = (
    "INSERT INTO hourly_attempts (hour, account, model, reason, attempts, rotations) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hour, account, model, reason) DO UPDATE "
    "SET attempts = attempts + excluded.attempts, "
    "rotations = rotations + excluded.rotations"
)
