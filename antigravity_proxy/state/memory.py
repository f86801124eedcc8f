"""``MemoryState``: the shared-state operations in this process's memory, bounded.

Why it exists: while the configured store (Redis, or a busy SQLite file) does not
answer, ``AdvisoryState`` serves from here, so this box keeps its own cooldowns,
sticky sessions, signatures and stored responses instead of forgetting them on
every call. Nothing here is shared with other processes, and nothing survives a
restart. Each table holds at most ``max_entries`` live keys; past that the
soonest-expiring ones are dropped, so an outage cannot exhaust memory.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from antigravity_proxy.state.protocol import FAILURE_RESET_AFTER, STICKY_TTL, PoolView

MAX_ENTRIES: Final = 10_000
LEASE_NAMESPACE: Final = "\x00lease"

Entry = tuple[str, float]  # value, expires
K = TypeVar("K")
V = TypeVar("V")


class MemoryState:
    """The ``Backend`` operations on dictionaries under one lock; never raises."""

    name = "memory"
    where = "this process"

    def __init__(
        self, clock: Callable[[], float], *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._cooldowns: dict[str, tuple[float, str]] = {}
        self._sticky: dict[str, Entry] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self._kv: dict[tuple[str, str], Entry] = {}

    def set_cooldown(self, key: str, until: float, reason: str) -> None:
        with self._lock:
            current = self._cooldowns.get(key)
            if current is None or until > current[0]:
                self._cooldowns[key] = (until, reason)
            self._trim(self._cooldowns, lambda item: item[0])

    def clear_cooldown(self, key: str) -> None:
        with self._lock:
            self._cooldowns.pop(key, None)

    def active_cooldowns(self) -> dict[str, tuple[float, str]]:
        now = self.clock()
        with self._lock:
            return {k: v for k, v in self._cooldowns.items() if v[0] > now}

    def pool_view(self) -> PoolView:
        now = self.clock()
        quiet = now - FAILURE_RESET_AFTER
        with self._lock:
            cooldowns = {k: v for k, v in self._cooldowns.items() if v[0] > now}
            failing = frozenset(a for a, f in self._failures.items() if f[1] >= quiet)
        return PoolView(cooldowns, failing)

    def sticky_account(self, session: str) -> str | None:
        with self._lock:
            return _live(self._sticky.get(session), self.clock())

    def bind_sticky(self, session: str, account: str) -> None:
        with self._lock:
            self._sticky[session] = (account, self.clock() + STICKY_TTL)
            self._trim(self._sticky, lambda entry: entry[1])

    def unbind_sticky(self, session: str) -> None:
        with self._lock:
            self._sticky.pop(session, None)

    def record_failure(self, account: str) -> int:
        now = self.clock()
        with self._lock:
            count, updated = self._failures.get(account, (0, now))
            count = 1 if now - updated > FAILURE_RESET_AFTER else count + 1
            self._failures[account] = (count, now)
            self._trim(self._failures, lambda item: item[1])
            return count

    def reset_failures(self, account: str) -> None:
        with self._lock:
            self._failures.pop(account, None)

    def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._store(namespace, key, value, ttl)

    def put_bounded(
        self, namespace: str, key: str, value: str, ttl: float, max_total: int
    ) -> bool:
        size = _size(value)
        if size > max_total:
            return False
        with self._lock:
            self._kv.pop((namespace, key), None)
            self._evict(namespace, max_total - size)
            self._store(namespace, key, value, ttl)
            return True

    def get(self, namespace: str, key: str) -> str | None:
        with self._lock:
            return _live(self._kv.get((namespace, key)), self.clock())

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, str]:
        now = self.clock()
        found: dict[str, str] = {}
        with self._lock:
            for key in keys:
                value = _live(self._kv.get((namespace, key)), now)
                if value is not None:
                    found[key] = value
        return found

    def delete(self, namespace: str, key: str) -> None:
        with self._lock:
            self._kv.pop((namespace, key), None)

    def incr(self, namespace: str, key: str, ttl: float) -> int:
        with self._lock:
            current = _live(self._kv.get((namespace, key)), self.clock())
            value = int(current) + 1 if current and current.isdigit() else 1
            self._store(namespace, key, str(value), ttl)
            return value

    def claim(self, name: str, ttl: float) -> bool:
        with self._lock:
            if _live(self._kv.get((LEASE_NAMESPACE, name)), self.clock()) is not None:
                return False
            self._store(LEASE_NAMESPACE, name, "", ttl)
            return True

    def holds_values(self) -> bool:
        """Whether any value is stored (expired ones included): a cheap test."""
        return bool(self._kv)

    def ping(self) -> None:
        """Memory always answers."""

    def explain(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Nothing to release."""

    def _store(self, namespace: str, key: str, value: str, ttl: float) -> None:
        if ttl <= 0:
            self._kv.pop((namespace, key), None)
            return
        self._kv[(namespace, key)] = (value, self.clock() + ttl)
        self._trim(self._kv, lambda entry: entry[1])

    def _evict(self, namespace: str, room: int) -> None:
        """Drop the namespace's soonest-expiring values until ``room`` bytes remain."""
        mine = [(e[1], k) for k, e in self._kv.items() if k[0] == namespace]
        used = sum(_size(self._kv[k][0]) for _, k in mine)
        for _, doomed in sorted(mine):
            if used <= room:
                break
            used -= _size(self._kv.pop(doomed)[0])

    def _trim(self, table: dict[K, V], expiry: Callable[[V], float]) -> None:
        """Keep ``table`` within ``max_entries``: the soonest-expiring go first."""
        excess = len(table) - self.max_entries
        if excess <= 0:
            return
        # Trim a tenth more than needed, so a full table is not sorted per write.
        doomed = heapq.nsmallest(
            excess + self.max_entries // 10, table, key=lambda k: expiry(table[k])
        )
        for key in doomed:
            del table[key]


def _size(text: str) -> int:
    """UTF-8 bytes; a lone surrogate counts too, since this store must not raise."""
    return len(text.encode("utf-8", "surrogatepass"))


def _live(entry: Entry | None, now: float) -> str | None:
    if entry is None or entry[1] <= now:
        return None
    return entry[0]
