"""The ``SharedState`` interface every backend implements, and its time windows.

Callers (the account pool, signatures, stored responses, MCP sessions, leases,
the z.ai rotation) see only this Protocol; ``open_state`` picks the backend.
A backend's methods may raise on a broken store: ``AdvisoryState`` turns that
into a default answer, so callers never handle a state failure.

Times are wall-clock Unix seconds, the only clock every process and box shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

STICKY_TTL: Final = 3600.0
FAILURE_RESET_AFTER: Final = 3600.0
POOL_VIEW_SECONDS: Final = 1.0
"""How old a worker's ``pool_view`` may be (``AdvisoryState`` caches it): a
cooldown or failure another worker or box records reaches this one within it."""


@dataclass(frozen=True, slots=True)
class StateHealth:
    """What ``/healthz`` reports: which backend, and whether it answers now."""

    backend: str
    ok: bool


@dataclass(frozen=True, slots=True)
class PoolView:
    """What the account pool reads for each request, in one round trip.

    ``cooldowns`` are the live ones (as ``active_cooldowns``); ``failing`` are
    the accounts with a consecutive-failure count (a failure recorded within
    ``FAILURE_RESET_AFTER`` and not reset since): only their successes need a
    reset, so a success costs no write in the common case.
    """

    cooldowns: Mapping[str, tuple[float, str]]
    failing: frozenset[str]


class StateOps(Protocol):
    """The data operations, the same for callers and backends.

    ``incr`` adds one to the integer at ``namespace``/``key`` (missing or expired
    counts as 0), keeps it ``ttl`` seconds from now and answers the new value;
    it is atomic across processes and boxes. ``get_many`` is one round trip.
    ``claim`` takes a named lease for ``ttl`` seconds if nobody holds it.
    A ``ttl`` of 0 or less stores nothing that can be read back.
    """

    def set_cooldown(self, key: str, until: float, reason: str) -> None: ...
    def clear_cooldown(self, key: str) -> None: ...
    def active_cooldowns(self) -> dict[str, tuple[float, str]]: ...
    def pool_view(self) -> PoolView: ...
    def sticky_account(self, session: str) -> str | None: ...
    def bind_sticky(self, session: str, account: str) -> None: ...
    def unbind_sticky(self, session: str) -> None: ...
    def record_failure(self, account: str) -> int: ...
    def reset_failures(self, account: str) -> None: ...
    def put(self, namespace: str, key: str, value: str, ttl: float) -> None: ...
    def put_bounded(
        self, namespace: str, key: str, value: str, ttl: float, max_total: int
    ) -> bool: ...
    def get(self, namespace: str, key: str) -> str | None: ...
    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, str]: ...
    def delete(self, namespace: str, key: str) -> None: ...
    def incr(self, namespace: str, key: str, ttl: float) -> int: ...
    def claim(self, name: str, ttl: float) -> bool: ...


class SharedState(StateOps, Protocol):
    """What callers hold: the operations never raise; ``health`` for ``/healthz``."""

    def health(self) -> StateHealth: ...
    def close(self) -> None: ...


class Backend(StateOps, Protocol):
    """A store behind ``AdvisoryState``: its operations raise when the store fails.

    ``name`` is the ``state.backend`` value, ``where`` says which store for log
    lines (never with a password), ``explain`` renders a failure for a log line,
    ``ping`` raises unless the store answers, ``close`` drops this process's
    connections (before a fork, or at exit).
    """

    name: str
    where: str

    def explain(self, exc: Exception) -> str: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...
