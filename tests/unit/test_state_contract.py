"""One contract for every shared-state backend: SQLite, Redis (a real server) and
the in-process memory fallback answer every operation the same way.

Expiry is tested on the real clock with short TTLs, since Redis expires keys by
its own clock; the waits are a few tenths of a second.
"""

from __future__ import annotations

import threading
import time

import pytest

from antigravity_proxy.state import (
    FAILURE_RESET_AFTER,
    MemoryState,
    RedisSettings,
    RedisState,
    SQLiteState,
)

BACKENDS = ("sqlite", "redis", "memory")
SHORT = 0.3
WAIT = 0.6  # past SHORT, with room for a loaded box


def build(kind: str, request, tmp_path, prefix: str, clock=time.time):
    if kind == "sqlite":
        return SQLiteState(tmp_path / "state.db", clock)
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        # a generous timeout: this suite checks answers, not a slow box
        return RedisState(RedisSettings(server.url, prefix, 5000), clock)
    return MemoryState(clock)


@pytest.fixture(params=BACKENDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def make_backend(kind, request, tmp_path, redis_prefix):
    """Build a backend; two calls share one store (two processes, or two boxes),
    except for memory, which is one process's own."""
    made = []

    def make():
        backend = build(kind, request, tmp_path, redis_prefix)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def state(make_backend):
    return make_backend()


def test_contract_cooldowns_extend_never_shorten_and_clear(state):
    far = time.time() + 600
    state.set_cooldown("acc:gemini-3-flash", far, "QUOTA_EXHAUSTED")
    state.set_cooldown("acc:gemini-3-flash", far - 100, "shorter")
    assert state.active_cooldowns() == {"acc:gemini-3-flash": (far, "QUOTA_EXHAUSTED")}
    state.set_cooldown("acc:gemini-3-flash", far + 100, "longer|with bar")
    state.set_cooldown("acc", far, "whole account")
    assert state.active_cooldowns() == {
        "acc:gemini-3-flash": (far + 100, "longer|with bar"),
        "acc": (far, "whole account"),
    }
    state.clear_cooldown("acc:gemini-3-flash")
    assert state.active_cooldowns() == {"acc": (far, "whole account")}


def test_contract_cooldowns_past_their_deadline_are_not_active(state):
    state.set_cooldown("soon", time.time() + SHORT, "x")
    state.set_cooldown("later", time.time() + 600, "y")
    assert set(state.active_cooldowns()) == {"soon", "later"}
    time.sleep(WAIT)
    assert set(state.active_cooldowns()) == {"later"}
    state.set_cooldown("soon", time.time() + 600, "again")  # an expired one renews
    assert state.active_cooldowns()["soon"][1] == "again"


def test_contract_sticky_bind_rebind_unbind(state):
    assert state.sticky_account("sid-1") is None
    state.bind_sticky("sid-1", "acc-a")
    assert state.sticky_account("sid-1") == "acc-a"
    state.bind_sticky("sid-1", "acc-b")
    assert state.sticky_account("sid-1") == "acc-b"
    state.unbind_sticky("sid-1")
    assert state.sticky_account("sid-1") is None


def test_contract_failures_count_and_reset(state):
    assert [state.record_failure("a") for _ in range(3)] == [1, 2, 3]
    assert state.record_failure("b") == 1
    state.reset_failures("a")
    assert state.record_failure("a") == 1
    state.reset_failures("never-failed")


def test_contract_pool_view_has_live_cooldowns_and_failing_accounts(state):
    far = time.time() + 600
    state.set_cooldown("acc:m", far, "x")
    state.set_cooldown("soon", time.time() + SHORT, "y")
    for account in ("a", "b"):
        state.record_failure(account)
    state.reset_failures("b")
    view = state.pool_view()
    assert set(view.cooldowns) == {"acc:m", "soon"}
    assert view.cooldowns["acc:m"] == (far, "x")
    assert view.failing == {"a"}
    time.sleep(WAIT)
    assert set(state.pool_view().cooldowns) == {"acc:m"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_contract_failing_ends_with_a_quiet_window(
    kind, request, tmp_path, redis_prefix
):
    clock = Clock(1_800_000_000.0)
    state = build(kind, request, tmp_path, redis_prefix, clock)
    state.record_failure("a")
    clock.now += FAILURE_RESET_AFTER - 1
    assert state.record_failure("a") == 2
    clock.now += FAILURE_RESET_AFTER - 1
    assert state.pool_view().failing == {"a"}
    clock.now += 2  # an hour since the last failure: the count would start afresh
    assert state.pool_view().failing == frozenset()
    assert state.record_failure("a") == 1
    state.close()


def test_contract_kv_namespaces_ttl_and_delete(state):
    state.put("sig", "call-1", "abc", ttl=60)
    state.put("sig", "short", "gone soon", ttl=SHORT)
    state.put("sig", "none", "never readable", ttl=0)
    assert state.get("sig", "call-1") == "abc"
    assert state.get("other", "call-1") is None
    assert state.get("sig", "none") is None
    assert state.get("sig", "short") == "gone soon"
    time.sleep(WAIT)
    assert state.get("sig", "short") is None
    state.put("sig", "call-1", "replaced \u00e9\u4e2d", ttl=60)
    assert state.get("sig", "call-1") == "replaced \u00e9\u4e2d"
    state.delete("sig", "call-1")
    state.delete("sig", "missing")
    assert state.get("sig", "call-1") is None


def test_contract_long_keys_are_distinct_and_found(state):
    """Client-chosen ids of any length; ones sharing a long prefix stay apart."""
    base = "x" * 5000
    state.put("ns", base + "1", "one", ttl=60)
    state.put("ns", base + "2", "two", ttl=60)
    assert state.get("ns", base + "1") == "one"
    assert state.get_many("ns", [base + "2", base + "3"]) == {base + "2": "two"}


def test_contract_get_many_live_missing_repeated_and_many(state):
    for i in range(1500):
        state.put("sig", f"call-{i}", f"v{i}", ttl=SHORT if i % 2 else 60)
    state.put("other", "call-0", "elsewhere", ttl=60)
    time.sleep(WAIT)
    keys = [f"call-{i}" for i in range(1600)] + ["call-0", "call-0"]
    assert state.get_many("sig", keys) == {
        f"call-{i}": f"v{i}" for i in range(0, 1500, 2)
    }
    assert state.get_many("sig", []) == {}


def test_contract_put_bounded_evicts_the_soonest_expiring(state):
    state.put("other", "x", "o" * 500, 60)
    for index in range(5):
        assert state.put_bounded("ns", f"k{index}", "v" * 300, 60 + index, 1000)
    live = [state.get("ns", f"k{i}") is not None for i in range(5)]
    assert live == [False, False, True, True, True]
    assert state.get("other", "x") == "o" * 500


def test_contract_put_bounded_replaces_a_key_and_counts_bytes(state):
    assert state.put_bounded("ns", "k", "\u00e9" * 400, 60, 1000)  # 800 bytes
    assert state.put_bounded("ns", "k", "\u00e9" * 450, 60, 1000)  # 900, replacing
    assert state.get("ns", "k") == "\u00e9" * 450
    assert state.put_bounded("ns", "j", "a" * 200, 61, 1000)
    assert state.get("ns", "k") is None and state.get("ns", "j") == "a" * 200


def test_contract_put_bounded_refuses_a_value_over_the_total(state):
    assert state.put_bounded("ns", "small", "s", 60, 10)
    assert not state.put_bounded("ns", "big", "b" * 11, 60, 10)
    assert state.get("ns", "big") is None and state.get("ns", "small") == "s"


def test_contract_put_bounded_holds_the_total_over_many_writes(state):
    for index in range(200):
        state.put_bounded("ns", f"k{index % 50}", "v" * (50 + index), 60, 2000)
    found = state.get_many("ns", [f"k{i}" for i in range(50)])
    assert 0 < sum(len(v) for v in found.values()) <= 2000


def test_contract_incr_counts_and_restarts_after_expiry(state):
    assert [state.incr("ctr", "a", 60) for _ in range(3)] == [1, 2, 3]
    assert state.get("ctr", "a") == "3"
    assert state.incr("ctr", "b", SHORT) == 1
    time.sleep(WAIT)
    assert state.incr("ctr", "b", SHORT) == 1


def test_contract_incr_is_atomic_across_threads(make_backend):
    stores = [make_backend() for _ in range(2)]  # two connections to one store
    if stores[0].name == "memory":
        stores = [stores[0], stores[0]]
    seen: list[int] = []
    lock = threading.Lock()

    def count(store) -> None:
        mine = [store.incr("ctr", "shared", 60) for _ in range(40)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=count, args=(stores[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(seen) == list(range(1, 241))


def test_contract_claim_is_exclusive_until_it_expires(make_backend):
    first = make_backend()
    second = first if first.name == "memory" else make_backend()
    assert first.claim("refresh", ttl=SHORT) is True
    assert second.claim("refresh", ttl=SHORT) is False
    assert first.claim("other", ttl=SHORT) is True
    time.sleep(WAIT)
    assert second.claim("refresh", ttl=60) is True
    assert first.claim("refresh", ttl=60) is False


def test_contract_ping_and_name(state, kind):
    state.ping()
    assert state.name == kind
