"""``RedisState``: the shared state in one Redis server, shared by every box.

With several gateways behind a load balancer, an account that answered 429 on
box A must be skipped on box B, and a signature, stored response or MCP session
created on A must be found on B. Every key lives under ``prefix``:

- ``cd``: one hash of cooldowns, key -> ``until|reason`` (read whole, at once)
- ``fl``: one hash of consecutive-failure counts, account -> ``count|updated``
  (the pool reads it with ``cd`` in one pipelined round trip, ``pool_view``)
- ``st:<session>``, ``ls:<lease>``: sticky bindings and leases, each a string
  with its own expiry (``SET PX``, ``NX``)
- ``kv:<namespace>:<key>``: values with their TTL; ``bz:``/``bs:``/``bt:<ns>``
  hold the bookkeeping of ``put_bounded`` (expiries, sizes, byte total)

Expiry is Redis's own (TTLs instead of sweeps; the two hashes drop their
stale fields on each write). Keys longer than ``KEY_MAX``
characters (client-chosen ids) are stored under their SHA-256. Every call is
one round trip, bounded by the socket timeouts (``state.timeout_ms``); redis-py
retries nothing here and reconnects on the next call. Replies are parsed by
hiredis (``redis[hiredis]``): a 200-key ``MGET`` parsed in pure Python costs
about three times as much. Errors are raised for
``AdvisoryState``; the URL (which may carry a password) appears only redacted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import unquote, urlsplit

from antigravity_proxy.redis_url import redacted
from antigravity_proxy.state.protocol import FAILURE_RESET_AFTER, STICKY_TTL, PoolView
from antigravity_proxy.state.redis_scripts import (
    PUT_BOUNDED,
    RECORD_FAILURE,
    SET_COOLDOWN,
)

KEY_MAX: Final = 200
# MGET batches sent in one pipeline: one round trip however many keys.
GET_MANY_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str
    prefix: str = "agp:"
    timeout_ms: int = 100


class RedisState:
    """The ``Backend`` operations on a Redis server; safe across threads.

    :param clock: wall-clock seconds, to compare with cooldown deadlines (which
        callers give as wall-clock times); expiries use Redis's clock.
    """

    def __init__(self, settings: RedisSettings, clock: Callable[[], float]) -> None:
        self.name = "redis"
        self.where = redacted(settings.url)
        self.clock = clock
        self.prefix = settings.prefix
        self._cooldowns = f"{settings.prefix}cd"
        self._failures = f"{settings.prefix}fl"
        self._secret = _password(settings.url)
        # Imported here: redis-py costs every gunicorn process ~8 MiB and a
        # tenth of a second of start-up, and most boxes keep state in SQLite.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        seconds = settings.timeout_ms / 1000
        self._client = redis.Redis.from_url(
            settings.url,
            decode_responses=True,
            socket_timeout=seconds,
            socket_connect_timeout=seconds,
            retry=Retry(NoBackoff(), 0),
        )
        self._set_cooldown = self._client.register_script(SET_COOLDOWN)
        self._record_failure = self._client.register_script(RECORD_FAILURE)
        self._put_bounded = self._client.register_script(PUT_BOUNDED)

    def set_cooldown(self, key: str, until: float, reason: str) -> None:
        """Extend, never shorten, an existing cooldown (atomically, in Lua)."""
        args = [key, repr(until), reason, repr(self.clock())]
        self._set_cooldown(keys=[self._cooldowns], args=args)

    def clear_cooldown(self, key: str) -> None:
        self._client.hdel(self._cooldowns, key)

    def active_cooldowns(self) -> dict[str, tuple[float, str]]:
        raw = cast(dict[str, str], self._client.hgetall(self._cooldowns))
        return _live_cooldowns(raw, self.clock())

    def pool_view(self) -> PoolView:
        """Both hashes in one round trip (a pipeline, not a transaction)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(self._cooldowns)
        pipe.hgetall(self._failures)
        cooldowns, failures = cast(list[dict[str, str]], pipe.execute())
        now = self.clock()
        return PoolView(_live_cooldowns(cooldowns, now), _failing(failures, now))

    def sticky_account(self, session: str) -> str | None:
        return cast(str | None, self._client.get(self._key("st", session)))

    def bind_sticky(self, session: str, account: str) -> None:
        self._client.set(self._key("st", session), account, px=_ms(STICKY_TTL))

    def unbind_sticky(self, session: str) -> None:
        self._client.delete(self._key("st", session))

    def record_failure(self, account: str) -> int:
        """Count consecutive quota failures (atomically, in Lua); a quiet hour
        starts the count afresh."""
        now = self.clock()
        args = [account, repr(now), repr(now - FAILURE_RESET_AFTER)]
        args.append(str(_ms(FAILURE_RESET_AFTER)))
        return int(self._record_failure(keys=[self._failures], args=args))

    def reset_failures(self, account: str) -> None:
        self._client.hdel(self._failures, account)

    def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        name = self._kv(namespace, key)
        if ttl <= 0:
            self._client.delete(name)
        else:
            self._client.set(name, value, px=_ms(ttl))

    def put_bounded(
        self, namespace: str, key: str, value: str, ttl: float, max_total: int
    ) -> bool:
        """``put``, evicting the namespace's soonest-expiring bounded values so
        those hold at most ``max_total`` bytes; a value larger on its own is not
        stored (``False``)."""
        size = len(value.encode("utf-8"))
        if size > max_total or ttl <= 0:
            return False
        keys = [self._key(tag, namespace) for tag in ("bz", "bs", "bt")]
        keys.append(self._kv(namespace, key))
        args: list[str | int] = [
            _part(key),
            value,
            size,
            _ms(ttl),
            max_total,
            self._kv(namespace, ""),
        ]
        self._put_bounded(keys=keys, args=args)
        return True

    def get(self, namespace: str, key: str) -> str | None:
        return cast(str | None, self._client.get(self._kv(namespace, key)))

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, str]:
        """key -> value for the live ``keys`` found: MGETs in one round trip."""
        unique = list(dict.fromkeys(keys))
        names = [self._kv(namespace, key) for key in unique]
        if not names:
            return {}
        if len(names) <= GET_MANY_BATCH:
            values = cast(list[str | None], self._client.mget(names))
        else:
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(names), GET_MANY_BATCH):
                pipe.mget(names[start : start + GET_MANY_BATCH])
            values = [value for reply in pipe.execute() for value in reply]
        return {k: v for k, v in zip(unique, values, strict=True) if v is not None}

    def delete(self, namespace: str, key: str) -> None:
        self._client.delete(self._kv(namespace, key))

    def incr(self, namespace: str, key: str, ttl: float) -> int:
        return self._incr(self._kv(namespace, key), ttl)

    def claim(self, name: str, ttl: float) -> bool:
        """Take a named lease for ``ttl`` seconds if nobody holds it (``SET NX``).

        Why: periodic work (quota refresh) runs once per group of boxes.
        """
        taken = self._client.set(self._key("ls", name), "1", nx=True, px=_ms(ttl))
        return bool(taken)

    def ping(self) -> None:
        self._client.ping()

    def explain(self, exc: Exception) -> str:
        """``exc`` for a log line, never quoting the password."""
        text = f"{type(exc).__name__}: {exc}"
        return text.replace(self._secret, "***") if self._secret else text

    def close(self) -> None:
        """Close this process's connections (in gunicorn's master, before a fork)."""
        self._client.close()
        self._client.connection_pool.disconnect()

    def _incr(self, name: str, ttl: float) -> int:
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(name)
        pipe.pexpire(name, _ms(ttl))
        count, _ = pipe.execute()
        return int(count)

    def _key(self, tag: str, name: str) -> str:
        return f"{self.prefix}{tag}:{_part(name)}"

    def _kv(self, namespace: str, key: str) -> str:
        return f"{self.prefix}kv:{namespace}:{_part(key)}"


def _live_cooldowns(raw: dict[str, str], now: float) -> dict[str, tuple[float, str]]:
    """``until|reason`` fields -> key: (until, reason), those still running."""
    found: dict[str, tuple[float, str]] = {}
    for key, held in raw.items():
        until, _, reason = held.partition("|")
        if float(until) > now:
            found[key] = (float(until), reason)
    return found


def _failing(raw: dict[str, str], now: float) -> frozenset[str]:
    """The accounts of ``count|updated`` fields updated within the reset window
    (a field that does not parse counts too: resetting it is harmless)."""
    quiet = now - FAILURE_RESET_AFTER
    return frozenset(a for a, held in raw.items() if _updated(held) >= quiet)


def _updated(held: str) -> float:
    try:
        return float(held.partition("|")[2])
    except ValueError:
        return float("inf")


def _part(text: str) -> str:
    """``text`` as a key part: as is, or its SHA-256 when longer than ``KEY_MAX``."""
    if len(text) <= KEY_MAX:
        return text
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _ms(seconds: float) -> int:
    """Milliseconds for ``PX``, at least 1 (Redis refuses 0)."""
    return max(1, int(seconds * 1000))


def _password(url: str) -> str:
    """The URL's password, as redis-py reads it (percent-decoded)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return ""
    return unquote(password) if password else ""
