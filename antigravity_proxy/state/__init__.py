"""State shared by every gunicorn worker, and with Redis by every box: cooldowns,
sticky sessions, failure counters, leases and small keyed values (thought
signatures, stored responses, MCP sessions, the z.ai rotation).

``SharedState`` (``protocol.py``) is what callers hold; ``open_state`` builds it
from the ``state`` config section: ``SQLiteState`` (``<home>/state.db``, the
default) or ``RedisState``, each wrapped in ``AdvisoryState``, the failure
policy they share (a broken store never fails a request).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from antigravity_proxy.config import Config
from antigravity_proxy.state.advisory import AdvisoryState
from antigravity_proxy.state.memory import MemoryState
from antigravity_proxy.state.protocol import (
    FAILURE_RESET_AFTER,
    POOL_VIEW_SECONDS,
    STICKY_TTL,
    Backend,
    PoolView,
    SharedState,
    StateHealth,
    StateOps,
)
from antigravity_proxy.state.redis import RedisSettings, RedisState
from antigravity_proxy.state.sqlite import SQLiteState

__all__ = [
    "FAILURE_RESET_AFTER",
    "POOL_VIEW_SECONDS",
    "STICKY_TTL",
    "AdvisoryState",
    "Backend",
    "MemoryState",
    "PoolView",
    "RedisSettings",
    "RedisState",
    "SQLiteState",
    "SharedState",
    "StateHealth",
    "StateOps",
    "open_backend",
    "open_state",
]


def open_backend(config: Config, clock: Callable[[], float] = time.time) -> Backend:
    """The configured store itself, whose operations raise on failure."""
    state = config.state
    if state.backend == "redis":
        settings = RedisSettings(state.url, state.prefix, state.timeout_ms)
        return RedisState(settings, clock)
    return SQLiteState(config.home_dir / "state.db", clock)


def open_state(config: Config, clock: Callable[[], float] = time.time) -> SharedState:
    """The configured store behind the advisory-failure policy."""
    return AdvisoryState(open_backend(config, clock), MemoryState(clock))
