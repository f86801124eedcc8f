"""``GET /metrics`` rendered from the ledger and the shared state (pure text).

Why not ``prometheus_client``'s multi-process mode: the ledger already holds
every finished request in one file all workers write, with hourly rollups; a
scrape sums those, so every worker answers the same numbers, a restart loses
none, and no per-pid files need cleaning. Counters count from the first row the
ledger ever kept (rollups are not pruned). Live numbers (streams open) come from
the rows each worker's ledger thread refreshes every few seconds; a worker that
died stops counting after ``LIVE_TTL``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from antigravity_proxy.usage.accounts_view import STATES
from antigravity_proxy.usage.ledger import LIVE_TTL
from antigravity_proxy.usage.schema import (
    BUCKETS_MS,
    DURATION_COLUMNS,
    TTFB_COLUMNS,
)

PREFIX: Final = "antigravity_"
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
TOKEN_KINDS: Final = ("input", "output", "cached", "thinking")
Labels = Mapping[str, str | int]
Sample = tuple[str, Labels, float]


class Family:
    """One metric family: its HELP and TYPE lines, then its samples."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = PREFIX + name
        self.kind = kind
        self.help = help_text
        self.samples: list[Sample] = []

    def add(self, value: float, suffix: str = "", **labels: str | int) -> None:
        self.samples.append((self.name + suffix, labels, value))

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [_sample(name, labels, v) for name, labels, v in self.samples]
        return "\n".join(lines) + "\n"


def render(families: Iterable[Family]) -> str:
    return "".join(f.render() for f in families)


def ledger_families(conn: sqlite3.Connection, now: float) -> list[Family]:
    """Requests, tokens, latency and TTFB histograms, attempts, live numbers."""
    return [
        *_traffic(conn),
        *_histograms(conn),
        *_attempts(conn),
        *_live(conn, now),
    ]


def account_families(views: Sequence[Mapping[str, Any]]) -> list[Family]:
    """Accounts by state, quota fraction left and cooldown seconds per group."""
    states = Family("accounts", "gauge", "Accounts by state.")
    counts = dict.fromkeys(STATES, 0)
    for view in views:
        counts[view["state"]] += 1
    for state, count in counts.items():
        states.add(count, state=state)
    quota = Family(
        "account_quota_fraction",
        "gauge",
        "Quota fraction left per account and model group (last refresh).",
    )
    cooling = Family(
        "account_cooldown_seconds", "gauge", "Seconds until a cooldown ends."
    )
    for view in views:
        for entry in view["quota"]:
            quota.add(entry["fraction"], account=view["id"], group=entry["group"])
        for entry in view["cooldowns"]:
            cooling.add(entry["seconds_left"], account=view["id"], group=entry["group"])
    return [states, quota, cooling]


def _traffic(conn: sqlite3.Connection) -> list[Family]:
    requests = Family("requests_total", "counter", "Finished requests.")
    errors = Family("request_errors_total", "counter", "Failed requests.")
    tokens = Family("tokens_total", "counter", "Tokens as the upstream counted them.")
    images = Family("images_total", "counter", "Images generated.")
    rows = conn.execute(
        "SELECT protocol, model, account, status, SUM(requests), SUM(errors), "
        "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
        "SUM(thinking_tokens), SUM(images) FROM daily "
        "GROUP BY protocol, model, account, status ORDER BY 1, 2, 3, 4"
    )
    for protocol, model, account, status, n, bad, *counts in rows:
        labels = {"protocol": protocol, "model": model, "account": account}
        requests.add(n, **labels, status=status)
        errors.add(bad, **labels, status=status)
        for kind, value in zip(TOKEN_KINDS, counts[:4], strict=True):
            tokens.add(value, **labels, kind=kind)
        images.add(counts[4], **labels)
    return [requests, errors, _merge(tokens), _merge(images)]


def _histograms(conn: sqlite3.Connection) -> list[Family]:
    duration = Family(
        "request_duration_seconds", "histogram", "Time from request to last byte."
    )
    ttfb = Family(
        "time_to_first_byte_seconds", "histogram", "Time to the first byte sent."
    )
    buckets = ", ".join(f"SUM({c})" for c in DURATION_COLUMNS + TTFB_COLUMNS)
    rows = conn.execute(
        f"SELECT protocol, model, SUM(requests), SUM(duration_ms_sum), "
        f"SUM(ttfb_count), SUM(ttfb_ms_sum), {buckets} FROM daily "
        "GROUP BY protocol, model ORDER BY 1, 2"
    )
    n = len(DURATION_COLUMNS)
    for protocol, model, count, total, ttfb_count, ttfb_total, *b in rows:
        labels = {"protocol": protocol, "model": model}
        _histogram(duration, labels, b[:n], count, total)
        _histogram(ttfb, labels, b[n:], ttfb_count, ttfb_total)
    return [duration, ttfb]


def _histogram(
    family: Family, labels: Labels, counts: Sequence[int], count: int, total_ms: float
) -> None:
    running = 0
    for bound, n in zip((*BUCKETS_MS, None), counts, strict=True):
        running += n
        le = "+Inf" if bound is None else _float(bound / 1000)
        family.add(running, "_bucket", **labels, le=le)
    family.add(total_ms / 1000, "_sum", **labels)
    family.add(count, "_count", **labels)


def _attempts(conn: sqlite3.Connection) -> list[Family]:
    attempts = Family(
        "upstream_attempts_total", "counter", "Upstream calls by account and outcome."
    )
    rotations = Family(
        "rotations_total",
        "counter",
        "Attempts given up for another try, by the reason.",
    )
    rows = conn.execute(
        "SELECT account, reason, SUM(attempts), SUM(rotations) FROM hourly_attempts "
        "GROUP BY account, reason ORDER BY 1, 2"
    )
    by_reason: dict[str, int] = {}
    for account, reason, n, moved in rows:
        attempts.add(n, account=account, reason=reason)
        by_reason[reason] = by_reason.get(reason, 0) + moved
    for reason in sorted(by_reason):
        rotations.add(by_reason[reason], reason=reason)
    return [attempts, rotations]


def _live(conn: sqlite3.Connection, now: float) -> list[Family]:
    streams = Family("streams_open", "gauge", "Responses being streamed now.")
    failed = Family(
        "ledger_rows_failed_total", "counter", "Ledger rows that could not be written."
    )
    row = conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN updated >= ? THEN streams_open END), 0), "
        "COALESCE(SUM(rows_failed), 0) FROM live",
        (now - LIVE_TTL,),
    ).fetchone()
    streams.add(row[0])
    failed.add(row[1])
    return [streams, failed]


def _merge(family: Family) -> Family:
    """Samples with equal labels summed (the status they were split by is dropped)."""
    merged: dict[tuple[str, tuple[tuple[str, str | int], ...]], float] = {}
    for name, labels, value in family.samples:
        key = (name, tuple(labels.items()))
        merged[key] = merged.get(key, 0) + value
    family.samples = [(name, dict(labels), v) for (name, labels), v in merged.items()]
    return family


def _sample(name: str, labels: Labels, value: float) -> str:
    if not labels:
        return f"{name} {_float(value)}"
    pairs = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return f"{name}{{{pairs}}} {_float(value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _float(value: float) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)
