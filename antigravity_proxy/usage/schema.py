"""The layout of ``<home>/usage.db`` and its forward migrations.

``PRAGMA user_version`` holds the schema version; ``MIGRATIONS[n]`` takes a
database from version ``n`` to ``n + 1``. Every worker opens the file at start-up,
so migrating happens under ``BEGIN IMMEDIATE``: one worker migrates, the others
wait for the lock and then find nothing left to do. A database newer than this
code (a downgrade) is refused rather than written in a shape it does not know.

Tables: ``requests`` (one row per finished request, pruned after
``usage.retention_days``), ``hourly`` (account x model x hour rollups, also split
by protocol, client and status, with latency and time-to-first-byte histograms),
``daily`` (the same per UTC day, since schema 2; requests carry the gateway
key's name since schema 3) and ``hourly_attempts`` (upstream
attempts and rotations by reason). Rollups hold no request ids or texts and are
kept, so long ranges stay cheap.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

# Upper bounds (milliseconds) of the latency histogram buckets; the last one
# catches everything slower. Fixed by the schema: changing them is a migration.
BUCKETS_MS: Final = (
    10, 25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 3000,
    5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 300000,
)  # fmt: skip
N_BUCKETS: Final = len(BUCKETS_MS) + 1
DURATION_COLUMNS: Final = tuple(f"d{i}" for i in range(N_BUCKETS))
TTFB_COLUMNS: Final = tuple(f"t{i}" for i in range(N_BUCKETS))
SUM_COLUMNS: Final = (
    "requests", "errors", "input_tokens", "output_tokens", "cached_tokens",
    "thinking_tokens", "images", "duration_ms_sum", "ttfb_ms_sum", "ttfb_count",
)  # fmt: skip
ROLLUP_KEYS: Final = ("hour", "account", "model", "protocol", "client", "status")
BUSY_TIMEOUT: Final = 5.0

ROW_COLUMNS: Final = (
    "ts", "request_id", "route", "protocol", "client", "client_model",
    "upstream_model", "account", "attempts", "attempt_reasons", "status",
    "error_kind", "ending", "stream", "input_tokens", "output_tokens",
    "cached_tokens", "thinking_tokens", "images", "ttfb_ms", "duration_ms",
    "bytes_in", "bytes_out", "key_name",
)  # fmt: skip


def _v1() -> str:
    buckets = ", ".join(
        f"{c} INTEGER NOT NULL DEFAULT 0" for c in DURATION_COLUMNS + TTFB_COLUMNS
    )
    sums = ", ".join(f"{c} NUMERIC NOT NULL DEFAULT 0" for c in SUM_COLUMNS)
    return f"""
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL, request_id TEXT NOT NULL, route TEXT NOT NULL,
        protocol TEXT NOT NULL, client TEXT NOT NULL, client_model TEXT NOT NULL,
        upstream_model TEXT NOT NULL, account TEXT NOT NULL,
        attempts INTEGER NOT NULL, attempt_reasons TEXT NOT NULL,
        status INTEGER NOT NULL, error_kind TEXT NOT NULL, ending TEXT NOT NULL,
        stream INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
        thinking_tokens INTEGER NOT NULL, images INTEGER NOT NULL,
        ttfb_ms REAL, duration_ms REAL NOT NULL,
        bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL
    );
    CREATE INDEX requests_ts ON requests (ts);
    CREATE TABLE hourly (
        hour INTEGER NOT NULL, account TEXT NOT NULL, model TEXT NOT NULL,
        protocol TEXT NOT NULL, client TEXT NOT NULL, status INTEGER NOT NULL,
        {sums}, {buckets},
        PRIMARY KEY (hour, account, model, protocol, client, status)
    ) WITHOUT ROWID;
    CREATE TABLE hourly_attempts (
        hour INTEGER NOT NULL, account TEXT NOT NULL, model TEXT NOT NULL,
        reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        rotations INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, account, model, reason)
    ) WITHOUT ROWID;
    CREATE TABLE live (
        worker TEXT PRIMARY KEY, streams_open INTEGER NOT NULL,
        rows_failed INTEGER NOT NULL, updated REAL NOT NULL
    );
    """


def _v2() -> str:
    """Daily rollups beside the hourly ones, filled from them: whole days of a
    long range then cost one row per day and key instead of 24."""
    columns = SUM_COLUMNS + DURATION_COLUMNS + TTFB_COLUMNS
    sums = ", ".join(f"{c} NUMERIC NOT NULL DEFAULT 0" for c in SUM_COLUMNS)
    buckets = ", ".join(
        f"{c} INTEGER NOT NULL DEFAULT 0" for c in DURATION_COLUMNS + TTFB_COLUMNS
    )
    keys = "account, model, protocol, client, status"
    return f"""
    CREATE TABLE daily (
        day INTEGER NOT NULL, account TEXT NOT NULL, model TEXT NOT NULL,
        protocol TEXT NOT NULL, client TEXT NOT NULL, status INTEGER NOT NULL,
        {sums}, {buckets},
        PRIMARY KEY (day, account, model, protocol, client, status)
    ) WITHOUT ROWID;
    INSERT INTO daily (day, {keys}, {", ".join(columns)})
        SELECT (hour / 86400) * 86400, {keys}, {", ".join(f"SUM({c})" for c in columns)}
        FROM hourly GROUP BY 1, 2, 3, 4, 5, 6
    """


def _v3() -> str:
    """The name of the gateway key each request carried (``proxy.api_keys``),
    so a box shared by a team can tell whose tools used it; '' before."""
    return "ALTER TABLE requests ADD COLUMN key_name TEXT NOT NULL DEFAULT ''"


MIGRATIONS: Final[tuple[str, ...]] = (_v1(), _v2(), _v3())
VERSION: Final = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the gateway."""


def connect(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """A connection in WAL mode with the schema migrated to ``VERSION``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_existing(path: Path) -> sqlite3.Connection | None:
    """``connect`` for readers (``stats``): None, and no file made, when absent."""
    return connect(path) if path.exists() else None


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migrations, each in its own transaction; the new version."""
    version = _version(conn)
    if version > VERSION:
        raise SchemaTooNew(
            f"usage.db has schema {version}; this gateway knows {VERSION}"
        )
    while version < VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version(conn)  # another worker may have migrated meanwhile
            if version < VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def bucket_index(ms: float) -> int:
    """Which histogram bucket a duration in milliseconds falls in."""
    for index, bound in enumerate(BUCKETS_MS):
        if ms <= bound:
            return index
    return len(BUCKETS_MS)
