"""The usage ledger: client families, the row mapping, batched writes, rollups,
busy databases, retention and migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest

from antigravity_proxy.exchange import Attempt, Ending, Exchange
from antigravity_proxy.state import MemoryState
from antigravity_proxy.usage import query, rollup, schema
from antigravity_proxy.usage.ledger import Ledger, LedgerOptions
from antigravity_proxy.usage.row import (
    UsageRow,
    attempt_reason,
    client_family,
    row_from_exchange,
)

HOUR = 3600
DAY = 86400
# Yesterday 06:00 UTC: recent, on an hour boundary, and every row the tests make
# (up to three hours of them) falls on that one UTC day, whatever the clock says.
BASE = int(time.time()) // DAY * DAY - DAY + 6 * HOUR


@pytest.mark.parametrize(
    ("user_agent", "api_client", "family"),
    [
        ("claude-cli/2.1.197 (external, sdk-cli)", None, "claude-code"),
        (
            "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)",
            None,
            "codex",
        ),
        ("codex_cli_rs/0.20.0 (Mac OS 15.1; arm64)", None, "codex"),
        (
            "GeminiCLI-tui/0.61.0/gemini-3-flash (linux; x64; terminal)",
            None,
            "gemini-cli",
        ),
        ("OpenAI/Python 1.99.1", None, "openai-python"),
        ("OpenAI/JS 5.1.0", None, "openai-node"),
        ("Anthropic/Python 0.60.0", None, "anthropic-python"),
        ("google-genai-sdk/1.30.0 gl-python/3.11.2", None, "google-genai"),
        ("python-httpx/0.28", "google-genai-sdk/1.30.0 gl-python/3.11", "google-genai"),
        ("curl/8.5.0", None, "curl"),
        ("python-requests/2.32.3", None, "python-requests"),
        ("Mozilla/5.0 (X11; Linux x86_64)", None, "browser"),
        ("my-own-tool/1.0", None, "other"),
        ("", None, "unknown"),
        (None, None, "unknown"),
    ],
)
def test_client_family_names_the_tool(user_agent, api_client, family):
    assert client_family(user_agent, api_client) == family


def finished_exchange(**changes) -> Exchange:
    """A real pipeline Exchange, filled in as the pipeline would, then finished."""
    exchange = Exchange("req_1", method="POST", path="/v1/messages", bytes_in=100)
    exchange.protocol = "anthropic"
    exchange.route = "antigravity_proxy.handlers.anthropic.messages"
    exchange.describe(("claude-sonnet-4-6", "claude-sonnet-4-6-thinking"), True)
    exchange.attempts += [
        Attempt("a", "http://up", 429, "rotate", 0.1),
        Attempt("c", "http://up", 0, "timeout", 0.1),
        Attempt("b", "http://up", 200, "ok", 0.2),
    ]
    exchange.account = "b"
    exchange.received_at = 1000.0
    exchange.started = 50.0
    exchange.first_byte = 50.25
    usage = exchange.usage
    usage.input_tokens, usage.output_tokens = 12, 34
    usage.cached_tokens, usage.thinking_tokens = 5, 7
    exchange.status = 200
    exchange.bytes_out = 2000
    exchange.key_name = "alice"
    for name, value in changes.items():
        setattr(exchange, name, value)
    exchange.ended = exchange.started + 1.5
    return exchange


def test_row_from_exchange_maps_every_field():
    row = row_from_exchange(
        finished_exchange(ending=Ending.UPSTREAM_CUT),
        "claude-cli/2.1.197 (external, sdk-cli)",
    )
    assert row == UsageRow(
        ts=1000.0,
        request_id="req_1",
        route="/v1/messages",
        protocol="anthropic",
        client="claude-code",
        client_model="claude-sonnet-4-6",
        upstream_model="claude-sonnet-4-6-thinking",
        account="b",
        attempt_reasons=("rate_limited", "timeout", "ok"),
        status=200,
        error_kind="",
        ending="upstream_cut",
        stream=True,
        input_tokens=12,
        output_tokens=34,
        cached_tokens=5,
        thinking_tokens=7,
        images=0,
        ttfb_ms=pytest.approx(250.0),
        duration_ms=pytest.approx(1500.0),
        bytes_in=100,
        key_name="alice",
        bytes_out=2000,
    )
    assert row.attempts == 3 and row.is_error


def test_row_from_exchange_without_upstream():
    exchange = finished_exchange(
        client_model="",
        upstream_model="",
        account=None,
        attempts=[],
        first_byte=None,
        status=400,
        error_kind="invalid_request",
    )
    row = row_from_exchange(exchange)
    assert (row.account, row.upstream_model, row.ttfb_ms, row.client) == (
        "-",
        "-",
        None,
        "unknown",
    )
    assert row.is_error and row.attempts == 0 and row.ending == "complete"


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (200, "ok", "ok"),
        (429, "rotate", "rate_limited"),
        (401, "retry", "unauthorized"),
        (403, "rotate", "forbidden"),
        (404, "rotate", "not_found"),
        (500, "rotate", "server_error"),
        (503, "backoff", "overloaded"),
        (529, "backoff", "overloaded"),
        (418, "fail", "client_error"),
        (502, "rotate", "server_error"),
        (0, "timeout", "timeout"),
        (0, "", "network"),
    ],
)
def test_attempt_reasons_are_a_small_set(status, reason, expected):
    assert attempt_reason(Attempt("a", "u", status, reason, 0.0)) == expected


def make_row(i: int, **changes) -> UsageRow:
    values = dict(
        ts=BASE + i * 60.0,
        request_id=f"req_{i}",
        route="/v1/chat/completions",
        protocol="openai",
        client="openai-python",
        client_model="gpt-4o",
        upstream_model="gemini-3-flash",
        account=("a", "b")[i % 2],
        attempt_reasons=("ok",),
        stream=bool(i % 3),
        input_tokens=10 + i,
        output_tokens=20 + i,
        ttfb_ms=50.0 + i,
        duration_ms=100.0 + 10 * i,
    )
    values.update(changes)
    return UsageRow(**values)


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(tmp_path / "usage.db", LedgerOptions(retention_days=0)).start()
    yield ledger
    ledger.close()


def read(ledger: Ledger) -> sqlite3.Connection:
    return schema.connect(ledger.path)


def test_ledger_writes_rows_and_rollups_that_agree(ledger):
    rows = [make_row(i) for i in range(150)]  # 150 minutes: three hours
    rows.append(make_row(150, status=429, error_kind="rate_limited"))
    rows.append(make_row(151, ending="upstream_cut"))
    for row in rows:
        ledger.record(row)
    ledger.flush()
    conn = read(ledger)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == len(rows)
    total = query.grand_total(conn, BASE)
    assert total.requests == len(rows)
    assert total.errors == 2
    assert total.input_tokens == sum(r.input_tokens for r in rows)
    assert total.output_tokens == sum(r.output_tokens for r in rows)
    by_account = {
        g.key["account"]: g.totals.requests
        for g in query.totals_by(conn, BASE, ["account"])
    }
    assert by_account == {"a": 76, "b": 76}
    hours = query.totals_by(conn, BASE, ["hour"])
    assert [g.key["hour"] for g in hours] == [BASE, BASE + HOUR, BASE + 2 * HOUR]
    assert [g.totals.requests for g in hours] == [60, 60, 32]
    assert ledger.rows_written == len(rows) and ledger.rows_failed == 0


def test_totals_from_mid_hour_are_exact(ledger):
    for i in range(120):
        ledger.record(make_row(i))
    ledger.flush()
    conn = read(ledger)
    since = BASE + 30 * 60  # rows 30..119
    total = query.grand_total(conn, since)
    assert total.requests == 90
    assert total.input_tokens == sum(10 + i for i in range(30, 120))
    by = query.totals_by(conn, since, ["day", "model", "client"])
    assert len(by) == 1 and by[0].totals.requests == 90
    assert by[0].key["model"] == "gemini-3-flash"


def test_percentiles_come_from_the_histogram():
    # 100 requests between 100 and 250 ms (bucket 4: (100, 250]).
    buckets = [0.0] * schema.N_BUCKETS
    buckets[4] = 100
    assert query.percentile(buckets, 0.5) == pytest.approx(175.0)
    assert query.percentile(buckets, 0.95) == pytest.approx(242.5)
    assert query.percentile([0.0] * schema.N_BUCKETS, 0.5) is None
    buckets = [0.0] * schema.N_BUCKETS
    buckets[-1] = 3
    assert query.percentile(buckets, 0.5) == schema.BUCKETS_MS[-1]


def test_attempt_rollup_counts_rotations_by_reason(ledger):
    ledger.record(make_row(0, attempt_reasons=("rate_limited", "auth", "ok")))
    ledger.record(make_row(1, attempt_reasons=("ok",)))
    ledger.flush()
    rows = read(ledger).execute(
        "SELECT reason, SUM(attempts), SUM(rotations) FROM hourly_attempts "
        "GROUP BY reason ORDER BY reason"
    )
    assert list(rows) == [("auth", 1, 1), ("ok", 2, 0), ("rate_limited", 1, 1)]


def test_busy_database_is_retried(tmp_path):
    path = tmp_path / "usage.db"
    ledger = Ledger(path, LedgerOptions(busy_timeout=0.05, retry_pause=0.05)).start()
    blocker = schema.connect(path)
    blocker.execute("BEGIN IMMEDIATE")
    ledger.record(make_row(0))
    threading.Timer(0.3, lambda: blocker.execute("COMMIT")).start()
    ledger.flush()
    ledger.close()
    assert ledger.rows_written == 1 and ledger.rows_failed == 0
    assert read(ledger).execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1


def test_unwritable_rows_are_counted_and_logged(tmp_path, caplog):
    path = tmp_path / "usage.db"
    options = LedgerOptions(busy_timeout=0.01, retry_pause=0.01, retries=2)
    ledger = Ledger(path, options).start()
    blocker = schema.connect(path)
    blocker.execute("BEGIN IMMEDIATE")
    with caplog.at_level(logging.ERROR, "antigravity_proxy.usage.ledger"):
        ledger.record(make_row(0, request_id="req_lost"))
        ledger.flush()
    blocker.execute("COMMIT")
    ledger.close()
    assert ledger.rows_failed == 1 and ledger.rows_written == 0
    assert "lost 1 row(s)" in caplog.text and "req_lost" in caplog.text


def test_a_full_queue_counts_the_row(tmp_path, caplog):
    ledger = Ledger(tmp_path / "usage.db", LedgerOptions(queue_max=1))  # not started
    with caplog.at_level(logging.ERROR, "antigravity_proxy.usage.ledger"):
        ledger.record(make_row(0))
        ledger.record(make_row(1, request_id="req_overflow"))
    assert ledger.rows_failed == 1 and "req_overflow" in caplog.text
    ledger.flush()  # without a thread, the caller's thread writes
    assert ledger.rows_written == 1


def test_close_writes_what_is_queued(tmp_path):
    ledger = Ledger(tmp_path / "usage.db").start()
    for i in range(50):
        ledger.record(make_row(i))
    ledger.close()
    assert read(ledger).execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 50


def test_prune_keeps_recent_rows_and_the_rollups(tmp_path):
    claims = []

    def claim(name, ttl):
        claims.append(name)
        return len(claims) == 1  # only the first caller on the box wins

    now = BASE + 100 * 86400
    ledger = Ledger(
        tmp_path / "usage.db", LedgerOptions(retention_days=90), claim=claim
    )
    ledger.record(make_row(0))  # 100 days old
    ledger.record(make_row(1, ts=now - 3600))
    ledger.flush()
    assert ledger.prune(now) == 1
    assert ledger.prune(now) == 0  # the lease is taken
    conn = read(ledger)
    assert conn.execute("SELECT request_id FROM requests").fetchall() == [("req_1",)]
    assert query.grand_total(conn, 0).requests == 2  # rollups are kept
    assert claims == [ledger.prune_lease] * 2
    assert ledger.prune_lease.startswith("usage-prune:")


def test_prune_lease_is_per_file_so_each_box_prunes_its_own(tmp_path):
    """With Redis the leases span boxes; each box's usage.db still gets pruned."""
    shared = MemoryState(time.time)
    now = BASE + 100 * 86400
    ledgers = [
        Ledger(
            tmp_path / box / "usage.db",
            LedgerOptions(retention_days=90),
            claim=shared.claim,
        )
        for box in ("a", "b", "a")
    ]
    for ledger in ledgers:
        ledger.path.parent.mkdir(exist_ok=True)
    ledgers[0].record(make_row(0))
    ledgers[0].flush()
    ledgers[1].record(make_row(1))
    ledgers[1].flush()
    assert [ledger.prune(now) for ledger in ledgers] == [1, 1, 0]


def test_schema_is_versioned_and_refuses_a_newer_file(tmp_path):
    path = tmp_path / "usage.db"
    conn = schema.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema.migrate(conn) == schema.VERSION  # idempotent
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    with pytest.raises(schema.SchemaTooNew):
        schema.connect(path)


def test_workers_migrating_at_once_agree(tmp_path):
    path = tmp_path / "usage.db"
    errors = []

    def open_it():
        try:
            schema.connect(path).close()
        except Exception as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_record_costs_microseconds(tmp_path):
    """Not a benchmark (see ``make bench``): record never touches the database."""
    ledger = Ledger(tmp_path / "usage.db")  # no thread: nothing drains the queue
    row = make_row(0)
    start = time.perf_counter()
    ledger.record(row)
    assert time.perf_counter() - start < 0.5
    assert not (tmp_path / "usage.db").exists()


def test_daily_and_hourly_rollups_and_raw_rows_add_up_exactly(ledger):
    day = 86400
    start = int(time.time()) // day * day - 3 * day  # three days ago, midnight UTC
    rows = [make_row(i, ts=start + i * 997.0) for i in range(300)]  # ~3.5 days
    for row in rows:
        ledger.record(row)
    ledger.flush()
    conn = read(ledger)
    for since in (start, start + 1234.5, start + day + 7200, start + 2 * day + 59):
        want = [r for r in rows if r.ts >= since]
        total = query.grand_total(conn, since)
        assert total.requests == len(want), since
        assert total.input_tokens == sum(r.input_tokens for r in want)
        by_day = query.totals_by(conn, since, ["day", "account"])
        assert sum(g.totals.requests for g in by_day) == len(want)
        by_hour = query.totals_by(conn, since, ["hour"])
        assert sum(g.totals.output_tokens for g in by_hour) == sum(
            r.output_tokens for r in want
        )


def test_migration_to_daily_rollups_backfills_them(tmp_path):
    """A schema-1 file (hourly rollups only) gains daily rollups with the same sums."""
    path = tmp_path / "usage.db"
    rows = [make_row(i, ts=BASE - i * 5000.0) for i in range(50)]  # about 3 days
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema.MIGRATIONS[0].split(";"):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    deltas = rollup.rollup(rows)
    conn.executemany(rollup.upsert_sql(), [(*k, *v) for k, v in deltas.items()])
    conn.close()
    migrated = schema.connect(path)
    assert migrated.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    daily = migrated.execute(
        "SELECT COUNT(*), SUM(requests), SUM(input_tokens), SUM(d4) FROM daily"
    ).fetchone()
    hourly = migrated.execute(
        "SELECT COUNT(DISTINCT hour / 86400), SUM(requests), SUM(input_tokens), "
        "SUM(d4) FROM hourly"
    ).fetchone()
    assert daily[1:] == hourly[1:] and daily[1] == 50
    assert daily[0] >= hourly[0] >= 3
    assert query.grand_total(migrated, 0).requests == 50


def test_an_unusable_database_counts_every_row(tmp_path, caplog):
    """A file that is not a database, or one from a newer gateway: rows counted."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    newer = tmp_path / "newer.db"
    schema.connect(newer).execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    for path in (garbage, newer):
        ledger = Ledger(path).start()
        with caplog.at_level(logging.ERROR, "antigravity_proxy.usage.ledger"):
            ledger.record(make_row(0, request_id=f"req_{path.stem}"))
            ledger.flush()
        ledger.close()
        assert (ledger.rows_failed, ledger.rows_written) == (1, 0)
        assert f"req_{path.stem}" in caplog.text


def test_migration_to_key_names_keeps_old_rows(tmp_path):
    """A schema-2 file gains ``requests.key_name``; its rows read back with ''."""
    path = tmp_path / "usage.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in schema.MIGRATIONS[:2]:
        for statement in migration.split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    old_columns = schema.ROW_COLUMNS[:-1]
    conn.execute(
        f"INSERT INTO requests ({', '.join(old_columns)}) "
        f"VALUES ({', '.join('?' for _ in old_columns)})",
        (BASE, "req_old", "/v1/messages", "anthropic", "claude-code", "m", "m",
         "a", 1, "ok", 200, "", "complete", 0, 1, 2, 0, 0, 0, None, 5.0, 10, 20),
    )  # fmt: skip
    conn.close()
    migrated = schema.connect(path)
    assert migrated.execute("PRAGMA user_version").fetchone()[0] == 3
    (key_name,) = migrated.execute("SELECT key_name FROM requests").fetchone()
    assert key_name == ""


def test_ledger_rows_keep_the_key_name(ledger):
    """The teammate's key name (``proxy.api_keys``) is stored with each row."""
    ledger.record(make_row(0, key_name="alice"))
    ledger.record(make_row(1))
    ledger.flush()
    names = read(ledger).execute("SELECT key_name FROM requests ORDER BY ts").fetchall()
    assert names == [("alice",), ("",)]


def counted_inserts(monkeypatch, ledger: Ledger) -> list[int]:
    """The size of each batch the writer inserts, in order."""
    sizes: list[int] = []
    insert = ledger._insert

    def counted(rows):
        sizes.append(len(rows))
        insert(rows)

    monkeypatch.setattr(ledger, "_insert", counted)
    return sizes


def test_a_trickle_of_rows_is_written_in_one_batch_per_linger(tmp_path, monkeypatch):
    ledger = Ledger(tmp_path / "usage.db", LedgerOptions(linger=0.5))
    sizes = counted_inserts(monkeypatch, ledger)
    ledger.start()
    for i in range(5):  # one at a time, as sequential requests finish
        ledger.record(make_row(i))
        time.sleep(0.01)
    deadline = time.monotonic() + 10
    while ledger.rows_written < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    ledger.close()
    assert sizes == [5]


@pytest.mark.parametrize("finish", ["flush", "close"])
def test_flush_and_close_do_not_wait_out_the_linger(tmp_path, monkeypatch, finish):
    ledger = Ledger(tmp_path / "usage.db", LedgerOptions(linger=60.0)).start()
    ledger.record(make_row(1))
    time.sleep(0.05)  # the writer now lingers on the row
    started = time.monotonic()
    if finish == "flush":
        ledger.flush(timeout=30)
    else:
        ledger.close(timeout=30)
    assert time.monotonic() - started < 30  # well short of the 60 s linger
    assert ledger.rows_written == 1
    ledger.close()
