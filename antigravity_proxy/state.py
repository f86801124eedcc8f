"""State shared by every gunicorn worker on the box: cooldowns, sticky sessions,
failure counters and small keyed values (thought signatures, stored responses).

A 429 seen by worker 1 must steer worker 2 too, so none of this lives in process
memory. ``SharedState`` is the interface; ``SQLiteState`` keeps it in
``<home>/state.db`` (WAL mode, one connection per thread, short transactions). A
store spanning several boxes (Redis) would implement the same methods.

Times are wall-clock Unix seconds, the only clock all processes share.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS cooldowns (
    key TEXT PRIMARY KEY, until REAL NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sticky (
    session TEXT PRIMARY KEY, account TEXT NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    account TEXT PRIMARY KEY, count INTEGER NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    expires REAL NOT NULL, PRIMARY KEY (namespace, key)
);
"""
STICKY_TTL: Final = 3600.0
FAILURE_RESET_AFTER: Final = 3600.0


class SharedState(Protocol):
    def set_cooldown(self, key: str, until: float, reason: str) -> None: ...
    def clear_cooldown(self, key: str) -> None: ...
    def active_cooldowns(self) -> dict[str, tuple[float, str]]: ...
    def sticky_account(self, session: str) -> str | None: ...
    def bind_sticky(self, session: str, account: str) -> None: ...
    def unbind_sticky(self, session: str) -> None: ...
    def record_failure(self, account: str) -> int: ...
    def reset_failures(self, account: str) -> None: ...
    def put(self, namespace: str, key: str, value: str, ttl: float) -> None: ...
    def get(self, namespace: str, key: str) -> str | None: ...
    def claim(self, name: str, ttl: float) -> bool: ...


class SQLiteState:
    """``SharedState`` in one SQLite file; safe across threads and processes."""

    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = path
        self.clock = clock
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def set_cooldown(self, key: str, until: float, reason: str) -> None:
        """Extend, never shorten, an existing cooldown."""
        self._connect().execute(
            "INSERT INTO cooldowns (key, until, reason) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET until = excluded.until, "
            "reason = excluded.reason WHERE excluded.until > cooldowns.until",
            (key, until, reason),
        )

    def clear_cooldown(self, key: str) -> None:
        self._connect().execute("DELETE FROM cooldowns WHERE key = ?", (key,))

    def active_cooldowns(self) -> dict[str, tuple[float, str]]:
        rows = self._connect().execute(
            "SELECT key, until, reason FROM cooldowns WHERE until > ?", (self.clock(),)
        )
        return {key: (until, reason) for key, until, reason in rows}

    def sticky_account(self, session: str) -> str | None:
        row = (
            self._connect()
            .execute(
                "SELECT account FROM sticky WHERE session = ? AND updated > ?",
                (session, self.clock() - STICKY_TTL),
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def bind_sticky(self, session: str, account: str) -> None:
        self._connect().execute(
            "INSERT INTO sticky (session, account, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(session) DO UPDATE SET account = excluded.account, "
            "updated = excluded.updated",
            (session, account, self.clock()),
        )

    def unbind_sticky(self, session: str) -> None:
        self._connect().execute("DELETE FROM sticky WHERE session = ?", (session,))

    def record_failure(self, account: str) -> int:
        """Count consecutive quota failures; a quiet hour starts the count afresh."""
        now = self.clock()
        conn = self._connect()
        conn.execute(
            "INSERT INTO failures (account, count, updated) VALUES (?, 1, ?) "
            "ON CONFLICT(account) DO UPDATE SET "
            "count = CASE WHEN failures.updated < ? THEN 1 "
            "ELSE failures.count + 1 END, "
            "updated = excluded.updated",
            (account, now, now - FAILURE_RESET_AFTER),
        )
        row = conn.execute("SELECT count FROM failures WHERE account = ?", (account,))
        return int(row.fetchone()[0])

    def reset_failures(self, account: str) -> None:
        """Called on every success, so the common case is a read, not a write."""
        conn = self._connect()
        if conn.execute(
            "SELECT 1 FROM failures WHERE account = ?", (account,)
        ).fetchone():
            conn.execute("DELETE FROM failures WHERE account = ?", (account,))

    def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._connect().execute(
            "INSERT OR REPLACE INTO kv (namespace, key, value, expires) "
            "VALUES (?, ?, ?, ?)",
            (namespace, key, value, self.clock() + ttl),
        )

    def get(self, namespace: str, key: str) -> str | None:
        row = (
            self._connect()
            .execute(
                "SELECT value FROM kv WHERE namespace = ? AND key = ? AND expires > ?",
                (namespace, key, self.clock()),
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def claim(self, name: str, ttl: float) -> bool:
        """Take a named lease for ``ttl`` seconds if nobody holds it.

        Why: periodic work (quota refresh) should run once per box, not once per
        worker process.
        """
        now = self.clock()
        cursor = self._connect().execute(
            "INSERT INTO kv (namespace, key, value, expires) "
            "VALUES ('lease', ?, '', ?) "
            "ON CONFLICT(namespace, key) DO UPDATE SET expires = excluded.expires "
            "WHERE kv.expires <= ?",
            (name, now + ttl, now),
        )
        return cursor.rowcount == 1

    def purge_expired(self) -> None:
        now = self.clock()
        conn = self._connect()
        conn.execute("DELETE FROM cooldowns WHERE until <= ?", (now,))
        conn.execute("DELETE FROM kv WHERE expires <= ?", (now,))
        conn.execute("DELETE FROM sticky WHERE updated <= ?", (now - STICKY_TTL,))
