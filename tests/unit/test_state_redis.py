"""What only the Redis backend has: its key layout and expiries, one round trip
for a batch, leases across processes, and a URL whose password never shows."""

from __future__ import annotations

import logging
import multiprocessing
import time

import pytest
import redis

from antigravity_proxy.redis_url import redacted
from antigravity_proxy.state import (
    FAILURE_RESET_AFTER,
    AdvisoryState,
    MemoryState,
    RedisSettings,
    RedisState,
)
from tests.redis_env import RedisServer


@pytest.fixture
def state(redis_server, redis_prefix):
    backend = RedisState(RedisSettings(redis_server.url, redis_prefix, 5000), time.time)
    yield backend
    backend.close()


@pytest.fixture
def raw(redis_server):
    client = redis_server.client()
    yield client
    client.close()


def test_redis_keys_live_under_the_prefix_with_their_expiry(state, raw, redis_prefix):
    state.bind_sticky("sid", "acc")
    state.record_failure("acc")
    state.claim("refresh", 90)
    state.put("sig", "call", "v", 120)
    state.incr("ctr", "n", 30)
    state.put_bounded("resp", "r1", "body", 600, 1000)
    state.set_cooldown("acc:m", time.time() + 60, "x")
    keys = set(raw.scan_iter(match="*"))
    mine = {k for k in keys if k.startswith(redis_prefix)}
    assert len(mine) == 10
    ttl = {k[len(redis_prefix) :]: raw.pttl(k) for k in mine}
    assert 3_590_000 < ttl["st:sid"] <= 3_600_000
    assert 3_590_000 < ttl["fl"] <= 3_600_000  # one hash, alive an hour past a failure
    assert 80_000 < ttl["ls:refresh"] <= 90_000
    assert 110_000 < ttl["kv:sig:call"] <= 120_000
    assert 20_000 < ttl["kv:ctr:n"] <= 30_000
    for name in ("kv:resp:r1", "bz:resp", "bs:resp", "bt:resp"):
        assert 590_000 < ttl[name] <= 600_000
    assert ttl["cd"] == -1  # one hash; its expired fields are dropped on writes


def test_redis_prefixes_keep_groups_apart(redis_server, redis_prefix):
    first = RedisState(RedisSettings(redis_server.url, redis_prefix + "a:"), time.time)
    second = RedisState(RedisSettings(redis_server.url, redis_prefix + "b:"), time.time)
    first.put("sig", "k", "mine", 60)
    first.set_cooldown("acc", time.time() + 60, "x")
    assert second.get("sig", "k") is None
    assert second.active_cooldowns() == {}
    assert second.claim("refresh", 60) and first.claim("refresh", 60)


def test_redis_get_many_is_one_round_trip(state, monkeypatch):
    for i in range(2500):
        state.put("sig", f"call-{i}", str(i), 60)
    sends = count_sends(monkeypatch)
    found = state.get_many("sig", [f"call-{i}" for i in range(3000)])
    assert len(found) == 2500
    assert len(sends) == 1


def count_sends(monkeypatch) -> list[bytes]:
    """The commands (a pipeline's together) redis-py sends from here on."""
    sends: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sends.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(
        redis.connection.AbstractConnection, "send_packed_command", counting
    )
    return sends


def test_redis_pool_view_is_one_round_trip(state, monkeypatch):
    state.set_cooldown("a:m", time.time() + 60, "x")
    state.record_failure("b")
    sends = count_sends(monkeypatch)
    view = state.pool_view()
    assert set(view.cooldowns) == {"a:m"} and view.failing == {"b"}
    assert len(sends) == 1


def test_redis_failure_hash_drops_stale_fields_and_odd_ones_count(
    redis_server, redis_prefix, raw
):
    clock = FakeClock(1_800_000_000.0)
    settings = RedisSettings(redis_server.url, redis_prefix, 5000)
    state = RedisState(settings, clock)
    state.record_failure("old")
    clock.now += FAILURE_RESET_AFTER + 1
    assert state.pool_view().failing == frozenset()  # stale: not failing
    assert state.record_failure("old") == 1  # a quiet hour starts afresh
    state.record_failure("new")
    clock.now += FAILURE_RESET_AFTER / 2
    assert state.record_failure("new") == 2
    assert raw.hkeys(f"{redis_prefix}fl") == ["old", "new"]
    clock.now += FAILURE_RESET_AFTER / 2 + 1
    state.record_failure("new")  # the write drops "old", stale by now
    assert raw.hkeys(f"{redis_prefix}fl") == ["new"]
    raw.hset(f"{redis_prefix}fl", "odd", "not a count")
    assert state.pool_view().failing == {"new", "odd"}  # resetting is harmless
    state.reset_failures("odd")
    assert state.pool_view().failing == {"new"}
    state.close()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_redis_put_bounded_bookkeeping_matches_the_values(state, raw, redis_prefix):
    for index in range(120):
        state.put_bounded("resp", f"r{index % 40}", "x" * (10 + index), 60, 1500)
    members = raw.zrange(f"{redis_prefix}bz:resp", 0, -1)
    sizes = [len(raw.get(f"{redis_prefix}kv:resp:{m}") or "") for m in members]
    assert 0 not in sizes  # every tracked value is there
    assert int(raw.get(f"{redis_prefix}bt:resp")) == sum(sizes) <= 1500


def _claim(url, prefix, results):
    backend = RedisState(RedisSettings(url, prefix, 5000), time.time)
    results.put(backend.claim("once", ttl=600))


def test_redis_claim_across_processes_exactly_one_wins(redis_server, redis_prefix):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    args = (redis_server.url, redis_prefix, results)
    workers = [context.Process(target=_claim, args=args) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    outcomes = [results.get(timeout=5) for _ in workers]
    results.close()
    results.join_thread()
    assert sorted(outcomes) == [False] * 3 + [True]


def test_redacted_hides_user_and_password():
    assert redacted("rediss://bob:s3cret@cache:6380/1") == "rediss://***@cache:6380/1"
    assert redacted("redis://:s3cret@10.0.0.5/0") == "redis://***@10.0.0.5/0"
    assert redacted("redis://cache:6379/0") == "redis://cache:6379/0"
    assert redacted("redis://:pw@[::1/0") == "<unparsable URL>"


@pytest.fixture
def locked_server(tmp_path):
    server = RedisServer(tmp_path, password="s3cret-Pass").start()
    yield server
    server.stop()


def test_redis_password_url_works_and_is_never_logged(
    locked_server, redis_prefix, caplog
):
    good = RedisState(RedisSettings(locked_server.url, redis_prefix), time.time)
    good.put("sig", "k", "v", 60)
    assert good.get("sig", "k") == "v"
    assert "s3cret" not in good.where and "***@127.0.0.1" in good.where
    wrong = locked_server.url.replace("s3cret-Pass", "s3cret-Wrong")
    bad = RedisState(RedisSettings(wrong, redis_prefix), time.time)
    with pytest.raises(redis.RedisError) as info:
        bad.get("sig", "k")
    assert "s3cret" not in bad.explain(info.value)
    advisory = AdvisoryState(bad, MemoryState(time.time))
    with caplog.at_level(logging.WARNING):
        assert advisory.get("sig", "k") is None
    assert "unavailable" in caplog.text
    assert "s3cret" not in caplog.text


def test_redis_explain_scrubs_a_password_the_error_quotes(locked_server):
    backend = RedisState(RedisSettings(locked_server.url), time.time)
    error = redis.ConnectionError("AUTH s3cret-Pass refused")
    assert backend.explain(error) == "ConnectionError: AUTH *** refused"


@pytest.fixture
def tls_server(tmp_path):
    server = RedisServer(tmp_path, password="s3cret-tls", tls=True).start()
    yield server
    server.stop()


def test_redis_over_tls_with_a_password(tls_server, redis_prefix, caplog):
    assert tls_server.url.startswith("rediss://:s3cret-tls@127.0.0.1:")
    state = RedisState(RedisSettings(tls_server.url, redis_prefix, 5000), time.time)
    state.put("sig", "k", "over tls", 60)
    assert state.get("sig", "k") == "over tls"
    assert state.where.startswith("rediss://***@127.0.0.1:")
    plain = tls_server.url.replace("rediss://", "redis://").partition("?")[0]
    refused = RedisState(RedisSettings(plain, redis_prefix, 500), time.time)
    advisory = AdvisoryState(refused, MemoryState(time.time))
    with caplog.at_level(logging.WARNING):
        assert advisory.get("sig", "k") is None  # plain text is not TLS: refused
    assert "unavailable" in caplog.text and "s3cret" not in caplog.text
