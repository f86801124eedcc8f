"""Test support: the SQLite shared state as ``open_state`` builds it (advisory)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from antigravity_proxy.state import AdvisoryState, MemoryState, SQLiteState


def sqlite_state(path: Path, clock: Callable[[], float] = time.time) -> AdvisoryState:
    """``SQLiteState`` at ``path`` behind the advisory wrapper every caller holds."""
    return AdvisoryState(SQLiteState(path, clock), MemoryState(clock))
