"""``AdvisoryState``: the failure policy every backend shares.

The state is advisory: losing a cooldown or a sticky binding costs one extra
upstream attempt, while failing the request costs the client everything. So
when the backend raises (Redis down or slower than ``state.timeout_ms``, SQLite
busy past its timeout or corrupt), the call is answered from ``MemoryState``,
this process's own bounded copy, and the backend is left alone for
``BACKOFF`` seconds (no request pays a timeout more than once per backoff). The
first call after it tries the backend again: redis-py opens a new connection,
SQLite reopens the file. A warning is logged at most once per ``WARN_EVERY``
seconds, and after each such warning one line when the backend answers again.

What is written during an outage stays in this process, and stays usable after
recovery until it expires: a cooldown, sticky binding or value the backend does
not have is looked up in the local copy (the backend's answer wins where it has
one), and deletions reach both. Counters (``record_failure``, ``incr``) restart
from the backend's. Leases (``claim``) are never granted locally: periodic work
that must run once per group waits for the shared store rather than running on
every process at once.

``pool_view`` (what the account pool reads for every request) is kept for
``POOL_VIEW_SECONDS``: a cooldown or failure another process or box records
steers this one within that bound, while this process's own cooldown and
failure writes drop the kept view at once. It is why a request costs the store
one round trip (the sticky binding) rather than three.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from antigravity_proxy.state.memory import MemoryState
from antigravity_proxy.state.protocol import (
    POOL_VIEW_SECONDS,
    Backend,
    PoolView,
    StateHealth,
)

log = logging.getLogger(__name__)

BACKOFF: Final = 1.0
WARN_EVERY: Final = 60.0

T = TypeVar("T")
Op = Callable[[Backend], T]
Cooldowns = dict[str, tuple[float, str]]


class AdvisoryState:
    """``SharedState``: ``backend`` while it answers, this process's memory when not.

    :param monotonic: the clock for the backoff, the warning interval and the
        age of the kept ``pool_view``.
    :param view_seconds: how long a ``pool_view`` is kept (0: never).
    """

    def __init__(
        self,
        backend: Backend,
        fallback: MemoryState,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = BACKOFF,
        view_seconds: float = POOL_VIEW_SECONDS,
    ) -> None:
        self.backend = backend
        self.fallback = fallback
        self.monotonic = monotonic
        self.backoff = backoff
        self._lock = threading.Lock()
        self._skip_until = float("-inf")
        self._next_warning = float("-inf")
        self._down = False
        self._announced = False
        self.view_seconds = view_seconds
        self._view: tuple[float, PoolView] | None = None  # (kept until, view)
        self._view_generation = 0

    def set_cooldown(self, key: str, until: float, reason: str) -> None:
        self._call(lambda s: s.set_cooldown(key, until, reason))
        self._forget_view()

    def clear_cooldown(self, key: str) -> None:
        self._call(lambda s: s.clear_cooldown(key))
        self.fallback.clear_cooldown(key)
        self._forget_view()

    def active_cooldowns(self) -> dict[str, tuple[float, str]]:
        shared = self._call(lambda s: s.active_cooldowns())
        return _merged(shared, self.fallback.active_cooldowns())

    def pool_view(self) -> PoolView:
        """The backend's view merged with the local one, kept ``view_seconds``."""
        now = self.monotonic()
        kept = self._view
        if kept is not None and now < kept[0]:
            return kept[1]
        generation = self._view_generation
        shared = self._call(lambda s: s.pool_view())
        local = self.fallback.pool_view()
        view = PoolView(
            _merged(dict(shared.cooldowns), dict(local.cooldowns)),
            shared.failing | local.failing,
        )
        with self._lock:  # unless a write of ours landed during the read
            if generation == self._view_generation:
                self._view = (now + self.view_seconds, view)
        return view

    def sticky_account(self, session: str) -> str | None:
        found = self._call(lambda s: s.sticky_account(session))
        return found if found is not None else self.fallback.sticky_account(session)

    def bind_sticky(self, session: str, account: str) -> None:
        self._call(lambda s: s.bind_sticky(session, account))

    def unbind_sticky(self, session: str) -> None:
        self._call(lambda s: s.unbind_sticky(session))
        self.fallback.unbind_sticky(session)

    def record_failure(self, account: str) -> int:
        count = self._call(lambda s: s.record_failure(account))
        self._forget_view()
        return count

    def reset_failures(self, account: str) -> None:
        self._call(lambda s: s.reset_failures(account))
        self.fallback.reset_failures(account)
        self._forget_view()

    def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._call(lambda s: s.put(namespace, key, value, ttl))

    def put_bounded(
        self, namespace: str, key: str, value: str, ttl: float, max_total: int
    ) -> bool:
        return self._call(
            lambda s: s.put_bounded(namespace, key, value, ttl, max_total)
        )

    def get(self, namespace: str, key: str) -> str | None:
        found = self._call(lambda s: s.get(namespace, key))
        return found if found is not None else self.fallback.get(namespace, key)

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, str]:
        found = self._call(lambda s: s.get_many(namespace, keys))
        if self.fallback.holds_values():
            missing = [key for key in keys if key not in found]
            found.update(self.fallback.get_many(namespace, missing))
        return found

    def delete(self, namespace: str, key: str) -> None:
        self._call(lambda s: s.delete(namespace, key))
        self.fallback.delete(namespace, key)

    def incr(self, namespace: str, key: str, ttl: float) -> int:
        return self._call(lambda s: s.incr(namespace, key, ttl))

    def claim(self, name: str, ttl: float) -> bool:
        return self._call(lambda s: s.claim(name, ttl), local=lambda: False)

    def health(self) -> StateHealth:
        """Whether the backend answers a ping now (``False`` while backing off)."""
        ok = self._call(_ping, local=lambda: False)
        return StateHealth(self.backend.name, ok)

    def close(self) -> None:
        self.backend.close()

    def _call(self, op: Op[T], local: Callable[[], T] | None = None) -> T:
        """``op`` on the backend; on failure (or while backing off) the fallback."""
        if self.monotonic() >= self._skip_until:
            try:
                result = op(self.backend)
            except Exception as exc:  # any backend failure: the state is advisory
                self._failed(exc)
            else:
                if self._down:
                    self._recovered()
                return result
        return local() if local is not None else op(self.fallback)

    def _forget_view(self) -> None:
        """Drop the kept ``pool_view``, after a write of ours (so a read that
        overlapped the write is not kept either)."""
        with self._lock:
            self._view = None
            self._view_generation += 1

    def _failed(self, exc: Exception) -> None:
        now = self.monotonic()
        with self._lock:
            self._down = True
            self._skip_until = now + self.backoff
            if now < self._next_warning:
                return
            self._next_warning = now + WARN_EVERY
            self._announced = True
        log.warning(
            "shared state (%s at %s) unavailable, serving from this process's "
            "memory: %s",
            self.backend.name,
            self.backend.where,
            self.backend.explain(exc),
        )

    def _recovered(self) -> None:
        with self._lock:
            announced, self._down, self._announced = self._announced, False, False
        if announced:
            log.warning(
                "shared state (%s at %s) answers again",
                self.backend.name,
                self.backend.where,
            )


def _merged(shared: Cooldowns, local: Cooldowns) -> Cooldowns:
    """``shared`` (updated in place) with the local records it lacks or outlasts."""
    for key, record in local.items():
        if key not in shared or record[0] > shared[key][0]:
            shared[key] = record
    return shared


def _ping(backend: Backend) -> bool:
    backend.ping()
    return True
