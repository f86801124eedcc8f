"""``SQLiteState``: the shared state of one box in ``<home>/state.db``.

Every gunicorn worker of the box opens the same file (WAL mode, short
transactions), so a 429 seen by worker 1 steers worker 2 too. A worker's threads
share a few connections (``IDLE_CONNECTIONS`` kept open), each used by one
thread at a time: why not one per thread, as before, is memory. A worker holds a
thread per open stream, and an SQLite connection costs about 130 KiB (its
lookaside and page cache), which at 1,000 streams was more than half the
gateway's memory.
This is the default backend: nothing to install. For several boxes, see
``state/redis.py``.

Failures raise ``sqlite3.Error`` (after closing the connection that failed, so
the next call opens another); ``AdvisoryState`` turns them into defaults and a warning.
A database that stays busy past ``busy_timeout`` therefore never fails a
request. A file found corrupt at start-up is moved aside
(``state.db.corrupt-<time>``) and a fresh one is created. Expired rows are
purged every ``PURGE_INTERVAL`` seconds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, TypeVar

from antigravity_proxy.state.protocol import FAILURE_RESET_AFTER, STICKY_TTL, PoolView
from antigravity_proxy.state.sqlite_file import connect, recover_if_corrupt

PURGE_INTERVAL: Final = 600.0
BUSY_TIMEOUT: Final = 2.0
# Connections a worker keeps open between calls; more are opened while more
# threads query at once, and closed when handed back past this many.
IDLE_CONNECTIONS: Final = 8
# SQLite's default limit on bound parameters is 999 on older builds.
GET_MANY_BATCH: Final = 500

T = TypeVar("T")
Query = Callable[[sqlite3.Connection], T]


class SQLiteState:
    """The ``Backend`` operations in one SQLite file; safe across threads and
    processes.

    :param busy_timeout: seconds a write waits for another writer's lock before
        it is skipped (SQLite's busy handler).
    """

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float],
        *,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.name = "sqlite"
        self.where = str(path)
        self.path = path
        self.clock = clock
        self.busy_timeout = busy_timeout
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._next_purge = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        recover_if_corrupt(path, busy_timeout)

    def set_cooldown(self, key: str, until: float, reason: str) -> None:
        """Extend, never shorten, an existing cooldown."""
        self._write(
            "INSERT INTO cooldowns (key, until, reason) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET until = excluded.until, "
            "reason = excluded.reason WHERE excluded.until > cooldowns.until",
            (key, until, reason),
        )

    def clear_cooldown(self, key: str) -> None:
        self._write("DELETE FROM cooldowns WHERE key = ?", (key,))

    def active_cooldowns(self) -> dict[str, tuple[float, str]]:
        return self._run(lambda conn: _cooldowns(conn, self.clock()))

    def pool_view(self) -> PoolView:
        """The live cooldowns and the failing accounts, on one connection."""
        now = self.clock()

        def query(conn: sqlite3.Connection) -> PoolView:
            rows = conn.execute(
                "SELECT account FROM failures WHERE updated >= ?",
                (now - FAILURE_RESET_AFTER,),
            )
            failing = frozenset(str(account) for (account,) in rows)
            return PoolView(_cooldowns(conn, now), failing)

        return self._run(query)

    def sticky_account(self, session: str) -> str | None:
        return self._scalar(
            "SELECT account FROM sticky WHERE session = ? AND updated > ?",
            (session, self.clock() - STICKY_TTL),
        )

    def bind_sticky(self, session: str, account: str) -> None:
        self._write(
            "INSERT INTO sticky (session, account, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(session) DO UPDATE SET account = excluded.account, "
            "updated = excluded.updated",
            (session, account, self.clock()),
        )

    def unbind_sticky(self, session: str) -> None:
        self._write("DELETE FROM sticky WHERE session = ?", (session,))

    def record_failure(self, account: str) -> int:
        """Count consecutive quota failures; a quiet hour starts the count afresh."""
        now = self.clock()

        def query(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT INTO failures (account, count, updated) VALUES (?, 1, ?) "
                "ON CONFLICT(account) DO UPDATE SET "
                "count = CASE WHEN failures.updated < ? THEN 1 "
                "ELSE failures.count + 1 END, "
                "updated = excluded.updated",
                (account, now, now - FAILURE_RESET_AFTER),
            )
            row = conn.execute(
                "SELECT count FROM failures WHERE account = ?", (account,)
            )
            return int(row.fetchone()[0])

        return self._run(query)

    def reset_failures(self, account: str) -> None:
        self._write("DELETE FROM failures WHERE account = ?", (account,))

    def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._write(
            "INSERT OR REPLACE INTO kv (namespace, key, value, expires) "
            "VALUES (?, ?, ?, ?)",
            (namespace, key, value, self.clock() + ttl),
        )

    def put_bounded(
        self, namespace: str, key: str, value: str, ttl: float, max_total: int
    ) -> bool:
        """``put``, evicting the namespace's oldest values to hold ``max_total`` bytes.

        Why: stored values that clients fill (Responses conversations) must not
        grow the database without bound. A value larger than ``max_total`` on its
        own is not stored (``False``).
        """
        size = len(value.encode("utf-8"))
        if size > max_total:
            return False
        expires = self.clock() + ttl

        def query(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
                )
                _evict_oldest(conn, namespace, size, max_total)
                conn.execute(
                    "INSERT INTO kv (namespace, key, value, expires) "
                    "VALUES (?, ?, ?, ?)",
                    (namespace, key, value, expires),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return True

        return self._run(query)

    def get(self, namespace: str, key: str) -> str | None:
        return self._scalar(
            "SELECT value FROM kv WHERE namespace = ? AND key = ? AND expires > ?",
            (namespace, key, self.clock()),
        )

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, str]:
        """key -> value for the live ``keys`` found, in one query per batch.

        Why: a long conversation replays hundreds of tool calls whose signatures
        are looked up at once; one round trip each would dominate the request.
        """
        now = self.clock()
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), GET_MANY_BATCH):
            batch = unique[start : start + GET_MANY_BATCH]
            found.update(self._run(_select_many(namespace, batch, now)))
        return found

    def claim(self, name: str, ttl: float) -> bool:
        """Take a named lease for ``ttl`` seconds if nobody holds it.

        Why: periodic work (quota refresh) should run once per box, not once per
        worker process.
        """
        now = self.clock()

        def query(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO kv (namespace, key, value, expires) "
                "VALUES ('lease', ?, '', ?) "
                "ON CONFLICT(namespace, key) DO UPDATE SET expires = excluded.expires "
                "WHERE kv.expires <= ?",
                (name, now + ttl, now),
            )
            return cursor.rowcount == 1

        return self._run(query)

    def purge_expired(self) -> None:
        now = self.clock()

        def query(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM cooldowns WHERE until <= ?", (now,))
            conn.execute("DELETE FROM kv WHERE expires <= ?", (now,))
            conn.execute("DELETE FROM sticky WHERE updated <= ?", (now - STICKY_TTL,))
            quiet = now - FAILURE_RESET_AFTER
            conn.execute("DELETE FROM failures WHERE updated < ?", (quiet,))

        self._run(query)

    def delete(self, namespace: str, key: str) -> None:
        self._write("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))

    def incr(self, namespace: str, key: str, ttl: float) -> int:
        """Add one, atomically: SQLite's write lock serializes the upsert."""
        now = self.clock()

        def query(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "INSERT INTO kv (namespace, key, value, expires) "
                "VALUES (?, ?, '1', ?) "
                "ON CONFLICT(namespace, key) DO UPDATE SET "
                "value = CASE WHEN kv.expires <= ? THEN 1 "
                "ELSE CAST(kv.value AS INTEGER) + 1 END, "
                "expires = excluded.expires RETURNING value",
                (namespace, key, now + ttl, now),
            ).fetchone()
            return int(row[0])

        return self._run(query)

    def ping(self) -> None:
        self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    def explain(self, exc: Exception) -> str:
        kind = getattr(exc, "sqlite_errorname", type(exc).__name__)
        return f"{exc} ({kind})"

    def close(self) -> None:
        """Close the idle connections (e.g. in gunicorn's master before a fork)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        self._run(lambda conn: conn.execute(sql, params))
        if self.clock() >= self._next_purge:
            self._next_purge = self.clock() + PURGE_INTERVAL
            self.purge_expired()

    def _scalar(self, sql: str, params: tuple[object, ...]) -> str | None:
        def query(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(sql, params).fetchone()
            return str(row[0]) if row else None

        return self._run(query)

    def _run(self, query: Query[T]) -> T:
        """``query`` on a connection of its own; one that fails is closed."""
        conn = self._take()
        try:
            result = query(conn)
        except BaseException:
            conn.close()
            raise
        self._give_back(conn)
        return result

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return connect(self.path, self.busy_timeout)

    def _give_back(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # a query that left one open: not reusable
            conn.close()
            return
        with self._lock:
            if len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()


def _cooldowns(conn: sqlite3.Connection, now: float) -> dict[str, tuple[float, str]]:
    rows = conn.execute(
        "SELECT key, until, reason FROM cooldowns WHERE until > ?", (now,)
    )
    return {key: (until, reason) for key, until, reason in rows}


def _evict_oldest(
    conn: sqlite3.Connection, namespace: str, incoming: int, max_total: int
) -> None:
    """Delete the soonest-expiring values until ``incoming`` more bytes fit."""
    used = conn.execute(
        "SELECT COALESCE(SUM(LENGTH(CAST(value AS BLOB))), 0) FROM kv "
        "WHERE namespace = ?",
        (namespace,),
    ).fetchone()[0]
    excess = int(used) + incoming - max_total
    if excess <= 0:
        return
    rows = conn.execute(
        "SELECT key, LENGTH(CAST(value AS BLOB)) FROM kv WHERE namespace = ? "
        "ORDER BY expires",
        (namespace,),
    ).fetchall()
    doomed: list[tuple[str, str]] = []
    for key, size in rows:
        if excess <= 0:
            break
        doomed.append((namespace, key))
        excess -= int(size)
    conn.executemany("DELETE FROM kv WHERE namespace = ? AND key = ?", doomed)


def _select_many(
    namespace: str, keys: Sequence[str], now: float
) -> Query[dict[str, str]]:
    marks = ",".join("?" * len(keys))
    sql = (
        f"SELECT key, value FROM kv WHERE namespace = ? AND key IN ({marks}) "
        "AND expires > ?"
    )

    def query(conn: sqlite3.Connection) -> dict[str, str]:
        rows = conn.execute(sql, (namespace, *keys, now)).fetchall()
        return {str(key): str(value) for key, value in rows}

    return query
