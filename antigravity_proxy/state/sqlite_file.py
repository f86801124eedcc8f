"""The ``state.db`` file itself: its schema, how a connection is opened (WAL), and
the recovery of a file found corrupt at start-up (moved aside, a fresh one made).

Why apart from ``sqlite.py``: that module is the ``Backend`` operations; this one
is what every connection and every worker start must do first.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import time
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

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
WAL_SIZE_LIMIT: Final = 4 * 1024 * 1024
CORRUPT_ERRORS: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    # Used by one thread at a time, but not always the one that opened it.
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # The WAL is truncated back to this size after a checkpoint, so one
        # large write does not leave a large file behind.
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        conn.executescript(SCHEMA)
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def recover_if_corrupt(path: Path, busy_timeout: float) -> None:
    """Move a corrupt database (and its WAL) aside, under a lock across workers.

    Why the lock and the second look: every worker starts at once, and a worker
    must not move aside the fresh file another one just created.
    """
    if _is_sound(path, busy_timeout):
        return
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if _is_sound(path, busy_timeout):
            return
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.warning("shared state %s is corrupt; moved to %s", path, aside.name)
        path.replace(aside)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _is_sound(path: Path, busy_timeout: float) -> bool:
    """False only for a file SQLite calls corrupt; busy or missing files are fine."""
    try:
        conn = connect(path, busy_timeout)
    except sqlite3.DatabaseError as exc:
        return getattr(exc, "sqlite_errorname", "") not in CORRUPT_ERRORS
    try:
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
        return row is None or row[0] == "ok"
    except sqlite3.DatabaseError as exc:
        return getattr(exc, "sqlite_errorname", "") not in CORRUPT_ERRORS
    finally:
        conn.close()
