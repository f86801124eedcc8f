"""Usage ledger: what recording a request costs, and ``stats`` over a million rows.

``record`` is measured where a request pays for it: in the request thread, the
``on_finish`` hook mapping a finished ``Exchange`` to a row and queuing it, while
the ledger's writer thread writes the previous rows to SQLite (so GIL contention
is included). ``stats --since 30d`` runs the real CLI in-process over a ledger of
1,000,000 rows spread over 30 days across 4 accounts, 4 models and 4 clients.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Final

from antigravity_proxy.cli import main as cli_main
from antigravity_proxy.exchange import Attempt, Ending, Exchange
from antigravity_proxy.usage.ledger import Ledger, LedgerOptions
from antigravity_proxy.usage.row import UsageRow, row_from_exchange
from benchmarks.harness import Goal, Measurement, report
from tests.conftest import write_config

TITLE: Final = "usage ledger (record cost, stats over 1M rows)"
RECORD_GOAL: Final = Goal(0.1)
STATS_GOAL: Final = Goal(1000.0)
RECORDS: Final = 20_000
LEDGER_ROWS: Final = 1_000_000
ACCOUNTS: Final = ("acct-a", "acct-b", "acct-c", "acct-d")
MODELS: Final = ("gemini-3-flash", "gemini-3-pro-high", "claude-sonnet-4-6", "x")
CLIENTS: Final = ("claude-code", "codex", "gemini-cli", "openai-python")
USER_AGENT: Final = "claude-cli/2.1.197 (external, sdk-cli)"


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="agp-bench-ledger-") as tmp:
        home = Path(tmp)
        return [record_cost(home / "record.db"), *stats_speed(home)]


def record_cost(path: Path) -> Measurement:
    ledger = Ledger(path, LedgerOptions(retention_days=0)).start()
    costs = []
    for i in range(RECORDS):
        exchange = finished_exchange(i)
        started = time.perf_counter()
        ledger.record(row_from_exchange(exchange, USER_AGENT))
        costs.append(time.perf_counter() - started)
        if i % 64 == 0:
            time.sleep(0.0005)  # requests arrive apart; let the writer run
    ledger.close()
    assert ledger.rows_written == RECORDS and ledger.rows_failed == 0
    p50 = statistics.median(costs) * 1000
    p99 = statistics.quantiles(costs, n=100)[98] * 1000
    return report(
        "record p50", p50, "ms", RECORD_GOAL, note=f"p99 {p99:.3f} ms, {RECORDS} rows"
    )


def finished_exchange(i: int) -> Exchange:
    """A pipeline Exchange as the pipeline leaves it (not timed: the request made
    it anyway)."""
    exchange = Exchange(f"req_{i}", method="POST", path="/v1/messages")
    exchange.protocol = "anthropic"
    exchange.describe(("claude-sonnet-4-6", "claude-sonnet-4-6-thinking"), True)
    exchange.attempts.append(Attempt("acct-a", "http://up", 200, "ok", 0.3))
    exchange.account = "acct-a"
    exchange.usage.input_tokens, exchange.usage.output_tokens = 1200, 300
    exchange.status = 200
    exchange.first_byte = exchange.started + 0.3
    exchange.ended = exchange.started + 1.0
    exchange.ending = Ending.COMPLETE
    return exchange


def stats_speed(home: Path) -> list[Measurement]:
    config = write_config(home / "box", {"proxy": {"api_key": "b" * 32}})
    started = time.perf_counter()
    fill(home / "box" / "usage.db")
    filled = time.perf_counter() - started
    print(f"  (ledger of {LEDGER_ROWS:,} rows written in {filled:.1f} s)", flush=True)
    results = []
    for name, by in (("stats 30d", []), ("stats 30d by 3 dims", ["account,model,day"])):
        args = ["--config", str(config), "stats", "--since", "30d", "--json"]
        args += [f"--by={b}" for b in by]
        times = []
        for _ in range(3):
            out = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(out):
                assert cli_main(args) == 0
            times.append((time.perf_counter() - started) * 1000)
        assert f'"requests": {LEDGER_ROWS}' in out.getvalue()
        results.append(report(name, min(times), "ms", STATS_GOAL, note="best of 3"))
    return results


def fill(path: Path) -> None:
    """1,000,000 rows spread evenly over the last 30 days (minus a minute)."""
    ledger = Ledger(
        path, LedgerOptions(retention_days=0, batch_max=20_000, queue_max=0)
    ).start()
    now = time.time() - 60
    span = 30 * 86400 - 120
    for i in range(LEDGER_ROWS):
        ledger.record(
            UsageRow(
                ts=now - span * i / LEDGER_ROWS,
                request_id=f"req_{i}",
                route="/v1/messages",
                protocol="anthropic",
                client=CLIENTS[i % 4],
                client_model="m",
                upstream_model=MODELS[(i // 4) % 4],
                account=ACCOUNTS[(i // 16) % 4],
                attempt_reasons=("ok",),
                status=200 if i % 50 else 429,
                input_tokens=1000,
                output_tokens=200,
                ttfb_ms=300.0 + i % 700,
                duration_ms=1000.0 + i % 5000,
            )
        )
    ledger.flush(timeout=600)
    ledger.close()
    assert ledger.rows_written == LEDGER_ROWS
