"""``antigravity-proxy stats``: usage from the ledger, as a table or as JSON.

``--since`` takes ``24h``, ``7d``, ``30m`` style durations or a date
(``2026-12-01``, ``2026-12-01T08:00``, UTC); ``--by`` any of account, model,
client, protocol, status, hour, day, comma-separated or repeated.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from antigravity_proxy.config import Config
from antigravity_proxy.usage import query
from antigravity_proxy.usage.schema import connect_existing

UNITS: Final = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION: Final = re.compile(r"^(\d+)([mhdw])$")
COLUMNS: Final = (
    ("REQUESTS", "requests"),
    ("ERRORS", "errors"),
    ("TOKENS IN", "input_tokens"),
    ("TOKENS OUT", "output_tokens"),
    ("P50 MS", "p50_ms"),
    ("P95 MS", "p95_ms"),
)


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stats = commands.add_parser("stats", help="usage from the ledger (usage.db)")
    stats.add_argument(
        "--since", default="24h", help="24h, 7d, 30d ... or a UTC date (2026-12-01)"
    )
    stats.add_argument(
        "--by",
        action="append",
        default=[],
        help=f"group by {'|'.join(query.DIMENSIONS)} (combinable: --by account,model; "
        "default: no grouping)",
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(run=run)


def parse_since(text: str, now: float) -> float:
    """Unix seconds of ``--since``; ``ValueError`` names what is accepted."""
    text = text.strip()
    match = DURATION.match(text)
    if match:
        return now - int(match.group(1)) * UNITS[match.group(2)]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected 24h, 7d, 30d (m/h/d/w) or a date "
            "like 2026-12-01"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_by(values: Sequence[str]) -> list[str]:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    for name in names:
        if name not in query.DIMENSIONS:
            raise ValueError(
                f"--by {name!r}: expected one of {', '.join(query.DIMENSIONS)}"
            )
    return list(dict.fromkeys(names))


def run(config: Config, args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since, time.time())
        by = parse_by(args.by)
    except ValueError as exc:
        print(f"antigravity-proxy: {exc}", file=sys.stderr)
        return 2
    conn = connect_existing(config.home_dir / "usage.db")
    groups: list[query.Group] = []
    total = query.no_totals()
    if conn is not None:
        try:
            groups, total = query.summarize(conn, since, by)
        finally:
            conn.close()
    if args.json:
        print(json.dumps(report(since, by, groups, total), indent=2))
    else:
        print_table(by, groups, total)
    return 0


def report(
    since: float, by: Sequence[str], groups: Sequence[query.Group], total: query.Totals
) -> dict[str, Any]:
    return {
        "since": _iso(since),
        "by": list(by),
        "groups": [{**g.key, **g.totals.as_json()} for g in groups] if by else [],
        "total": total.as_json(),
    }


def print_table(
    by: Sequence[str], groups: Sequence[query.Group], total: query.Totals
) -> None:
    header = [name.upper() for name in by] + [title for title, _ in COLUMNS]
    rows = [[_key(n, g.key[n]) for n in by] + _cells(g.totals) for g in groups]
    rows.append((["TOTAL"] + [""] * (len(by) - 1) if by else []) + _cells(total))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.ljust(w) if i < len(by) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def _cells(totals: query.Totals) -> list[str]:
    values = totals.as_json()
    return [_number(values[field]) for _, field in COLUMNS]


def _number(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return f"{value:,}"


def _key(name: str, value: object) -> str:
    if name == "hour" and isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:00")
    if name == "day" and isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d")
    return str(value)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
