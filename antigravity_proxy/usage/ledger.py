"""The usage ledger writer: rows go on a queue, a thread writes them in batches.

``Ledger.record`` is all a request pays: one ``put_nowait`` on an in-process
queue. A daemon thread drains the queue, inserts the rows and adds them to the
hourly rollups in one transaction per batch; a lone row waits up to
``LedgerOptions.linger`` (0.1 s) for others, so rows reach ``usage.db`` that
much later and one request at a time costs one transaction per linger, not per
row. A database that is busy (another worker holds the write lock past
``busy_timeout``) is retried with a growing pause; a batch that still cannot be
written, or a row that finds the queue full, is counted (``rows_failed``, also
published for ``/metrics``) and logged with its request ids, never dropped
silently. ``close`` writes what is queued; it runs at interpreter exit, so a
worker stopped by gunicorn loses nothing, and a SIGKILLed one loses only what
was still queued (requests in flight).

The same thread publishes this worker's live numbers (streams open, rows failed)
to the ``live`` table, and prunes rows older than ``usage.retention_days`` once per
box per interval (the lease ``usage-prune:<host>:<usage.db path>`` in the shared
state: named after the file, since with Redis the state spans boxes while each
box keeps its own ``usage.db``).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from antigravity_proxy.usage import rollup
from antigravity_proxy.usage.row import UsageRow
from antigravity_proxy.usage.schema import ROW_COLUMNS, SchemaTooNew, connect

log = logging.getLogger(__name__)

PRUNE_LEASE: Final = "usage-prune"
PRUNE_INTERVAL: Final = 3600.0
PRUNE_CHUNK: Final = 5000
LIVE_INTERVAL: Final = 5.0
LIVE_TTL: Final = 30.0
CLOSE_TIMEOUT: Final = 20.0
INSERT_SQL: Final = (
    f"INSERT INTO requests ({', '.join(ROW_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ROW_COLUMNS)})"
)
UPSERT_SQL: Final = rollup.upsert_sql()
UPSERT_DAILY_SQL: Final = rollup.upsert_sql("daily", "day")
_STOP: Final = object()


@dataclass(frozen=True, slots=True)
class LedgerOptions:
    """:param retention_days: rows older than this are pruned (0 keeps them all)."""

    retention_days: int = 90
    batch_max: int = 512
    queue_max: int = 100_000
    retries: int = 6
    retry_pause: float = 0.05
    busy_timeout: float = 2.0
    # Seconds a lone row waits for company before its batch is written: a
    # trickle of requests (one at a time) then costs one transaction per
    # ``linger``, not one each. ``flush`` and ``close`` cut the wait short.
    linger: float = 0.1


class Ledger:
    """Per-process writer of ``usage.db``; safe to call from every request thread.

    :param claim: the shared state's lease (``SharedState.claim``), so pruning
        runs once per box; ``None`` prunes whenever this process gets round to it.
    """

    def __init__(
        self,
        path: Path,
        options: LedgerOptions = LedgerOptions(),
        *,
        claim: Callable[[str, float], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.options = options
        self.claim = claim
        self.clock = clock
        self.worker = f"{os.uname().nodename}:{os.getpid()}"
        self.prune_lease = f"{PRUNE_LEASE}:{os.uname().nodename}:{path}"
        self.rows_written = 0
        self.rows_failed = 0
        self.streams_open = 0
        self._queue: queue.Queue[object] = queue.Queue(options.queue_max)
        self._hurry = threading.Event()  # set: a flush or close waits
        self._lock = threading.Lock()
        self._readers = threading.local()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._next_prune = 0.0
        self._next_live = 0.0

    def start(self) -> Ledger:
        """Start the writer thread (once) and flush on interpreter exit."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="usage-ledger", daemon=True
            )
            self._thread.start()
            atexit.register(self.close)
        return self

    def record(self, row: UsageRow) -> None:
        """Queue a row; never blocks, never raises."""
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._failed([row], "the ledger queue is full")

    def reader(self) -> sqlite3.Connection:
        """This thread's connection for queries (``/metrics``, the status page)."""
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = connect(self.path, self.options.busy_timeout)
            self._readers.conn = conn
        return conn

    def stream_opened(self) -> None:
        with self._lock:
            self.streams_open += 1

    def stream_closed(self) -> None:
        with self._lock:
            self.streams_open -= 1

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every row queued so far is written (or counted as failed)."""
        if self._thread is None:
            self._drain()
            return
        done = threading.Event()
        self._queue.put(done)
        self._hurry.set()
        done.wait(timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write what is queued and stop; rows still queued after ``timeout``
        (a database locked for that long) are counted as lost and logged."""
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            self._hurry.set()
            thread.join(timeout)
            if thread.is_alive():
                self._give_up()
                return
        self._drain()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _give_up(self) -> None:
        lost: list[UsageRow] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, UsageRow):
                lost.append(item)
        if lost:
            self._failed(lost, "the writer did not finish in time")

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=LIVE_INTERVAL)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if isinstance(item, UsageRow) and self.options.linger:
                self._hurry.wait(self.options.linger)
                self._hurry.clear()
            try:
                self._handle(item)
            except Exception:  # the writer must outlive any bug in one batch
                log.exception("usage ledger writer failed")

    def _handle(self, first: object) -> None:
        batch, events = self._take(first)
        if batch:
            self._write(batch)
        for event in events:
            event.set()
        now = self.clock()
        if now >= self._next_live:
            self._next_live = now + LIVE_INTERVAL
            self._publish_live(now)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            self.prune(now)

    def _take(self, first: object) -> tuple[list[UsageRow], list[threading.Event]]:
        """``first`` and whatever else is queued, up to ``batch_max`` rows."""
        rows: list[UsageRow] = []
        events: list[threading.Event] = []
        item = first
        while True:
            if isinstance(item, UsageRow):
                rows.append(item)
            elif isinstance(item, threading.Event):
                events.append(item)
            elif item is _STOP:
                self._queue.put(_STOP)  # seen by the loop after this batch
                break
            if len(rows) >= self.options.batch_max:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return rows, events

    def _drain(self) -> None:
        """Write what is queued, from the calling thread (close, no thread)."""
        while True:
            batch, events = self._take(None)
            if batch:
                self._write(batch)
            for event in events:
                event.set()
            if not batch and not events:
                return

    def _write(self, rows: Sequence[UsageRow]) -> None:
        pause = self.options.retry_pause
        for attempt in range(self.options.retries + 1):
            try:
                self._insert(rows)
                self.rows_written += len(rows)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == self.options.retries:
                    self._failed(rows, str(exc))
                    return
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
            except (sqlite3.Error, SchemaTooNew) as exc:
                self._failed(rows, str(exc))
                self._reconnect()
                return

    def _insert(self, rows: Sequence[UsageRow]) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT_SQL, [_values(r) for r in rows])
            deltas = rollup.rollup(rows)
            conn.executemany(UPSERT_SQL, [(*k, *v) for k, v in deltas.items()])
            daily = rollup.by_day(deltas)
            conn.executemany(UPSERT_DAILY_SQL, [(*k, *v) for k, v in daily.items()])
            attempts = rollup.attempt_rollup(rows)
            conn.executemany(
                rollup.ATTEMPTS_SQL, [(*k, *v) for k, v in attempts.items()]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _failed(self, rows: Sequence[UsageRow], why: str) -> None:
        with self._lock:
            self.rows_failed += len(rows)
        ids = ", ".join(r.request_id for r in rows[:20])
        more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
        log.error(
            "usage ledger lost %d row(s) (%s): request ids %s%s",
            len(rows),
            why,
            ids,
            more,
        )

    def _publish_live(self, now: float) -> None:
        try:
            self._connection().execute(
                "INSERT OR REPLACE INTO live (worker, streams_open, rows_failed, "
                "updated) VALUES (?, ?, ?, ?)",
                (self.worker, self.streams_open, self.rows_failed, now),
            )
        except (sqlite3.Error, SchemaTooNew) as exc:
            log.warning("usage ledger could not publish live numbers: %s", exc)

    def _prune_turn(self) -> bool:
        """This process holds the prune lease, or there is no lease to take."""
        return self.claim is None or self.claim(self.prune_lease, PRUNE_INTERVAL)

    def prune(self, now: float) -> int:
        """Delete rows older than the retention, in chunks; rows deleted."""
        days = self.options.retention_days
        if days <= 0 or not self._prune_turn():
            return 0
        cutoff = now - days * 86400
        deleted = 0
        try:
            conn = self._connection()
            while True:
                cursor = conn.execute(
                    "DELETE FROM requests WHERE id IN (SELECT id FROM requests "
                    "WHERE ts < ? ORDER BY ts LIMIT ?)",
                    (cutoff, PRUNE_CHUNK),
                )
                deleted += cursor.rowcount
                if cursor.rowcount < PRUNE_CHUNK:
                    break
            conn.execute("DELETE FROM live WHERE updated < ?", (now - 86400,))
        except (sqlite3.Error, SchemaTooNew) as exc:
            log.warning("usage ledger prune failed: %s", exc)
        if deleted:
            log.info("usage ledger pruned %d row(s) older than %d days", deleted, days)
        return deleted

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, self.options.busy_timeout)
        return self._conn

    def _reconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _values(row: UsageRow) -> tuple[object, ...]:
    return (
        row.ts, row.request_id, row.route, row.protocol, row.client,
        row.client_model, row.upstream_model, row.account, row.attempts,
        ",".join(row.attempt_reasons), row.status, row.error_kind, row.ending,
        int(row.stream), row.input_tokens, row.output_tokens, row.cached_tokens,
        row.thinking_tokens, row.images, row.ttfb_ms, row.duration_ms,
        row.bytes_in, row.bytes_out, row.key_name,
    )  # fmt: skip
