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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from antigravity_proxy.state.memory import MemoryState
from antigravity_proxy.state.protocol import Backend, StateHealth

log = logging.getLogger(__name__)

BACKOFF: Final = 1.0
WARN_EVERY: Final = 60.0

T = TypeVar("T")
Op = Callable[[Backend], T]


class AdvisoryState:
    """``SharedState``: ``backend`` while it answers, this process's memory when not.

    :param monotonic: the clock for the backoff and the warning interval.
    """

    def __init__(
        self,
        backend: Backend,
        fallback: MemoryState,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = BACKOFF,
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

    def set_cooldown(self, key: str, until: float, reason: str) -> None:
        self._call(lambda s: s.set_cooldown(key, until, reason))

    def clear_cooldown(self, key: str) -> None:
        self._call(lambda s: s.clear_cooldown(key))
        self.fallback.clear_cooldown(key)

    def active_cooldowns(self) -> dict[str, tuple[float, str]]:
        shared = self._call(lambda s: s.active_cooldowns())
        local = self.fallback.active_cooldowns()
        for key, record in local.items():
            if key not in shared or record[0] > shared[key][0]:
                shared[key] = record
        return shared

    def sticky_account(self, session: str) -> str | None:
        found = self._call(lambda s: s.sticky_account(session))
        return found if found is not None else self.fallback.sticky_account(session)

    def bind_sticky(self, session: str, account: str) -> None:
        self._call(lambda s: s.bind_sticky(session, account))

    def unbind_sticky(self, session: str) -> None:
        self._call(lambda s: s.unbind_sticky(session))
        self.fallback.unbind_sticky(session)

    def record_failure(self, account: str) -> int:
        return self._call(lambda s: s.record_failure(account))

    def reset_failures(self, account: str) -> None:
        self._call(lambda s: s.reset_failures(account))
        self.fallback.reset_failures(account)

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


def _ping(backend: Backend) -> bool:
    backend.ping()
    return True
