"""The SQLite shared state: what one worker records, another sees."""

from __future__ import annotations

import multiprocessing

from antigravity_proxy.state import SQLiteState


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(tmp_path, clock=None):
    return SQLiteState(tmp_path / "state.db", clock or Clock())


def test_state_cooldown_visible_to_another_connection(tmp_path):
    clock = Clock()
    make(tmp_path, clock).set_cooldown("acc:gemini-3-flash", 1060.0, "QUOTA_EXHAUSTED")
    other = make(tmp_path, clock)
    assert other.active_cooldowns() == {
        "acc:gemini-3-flash": (1060.0, "QUOTA_EXHAUSTED")
    }
    clock.now = 1061.0
    assert other.active_cooldowns() == {}


def test_state_cooldown_extends_never_shortens(tmp_path):
    state = make(tmp_path)
    state.set_cooldown("a", 2000.0, "long")
    state.set_cooldown("a", 1500.0, "short")
    assert state.active_cooldowns()["a"] == (2000.0, "long")
    state.set_cooldown("a", 2500.0, "longer")
    assert state.active_cooldowns()["a"] == (2500.0, "longer")
    state.clear_cooldown("a")
    assert state.active_cooldowns() == {}


def test_state_sticky_binding_expires(tmp_path):
    clock = Clock()
    state = make(tmp_path, clock)
    state.bind_sticky("sid-1", "acc-a")
    assert state.sticky_account("sid-1") == "acc-a"
    state.bind_sticky("sid-1", "acc-b")
    assert state.sticky_account("sid-1") == "acc-b"
    clock.now += 3601
    assert state.sticky_account("sid-1") is None
    state.bind_sticky("sid-2", "acc-a")
    state.unbind_sticky("sid-2")
    assert state.sticky_account("sid-2") is None


def test_state_failures_count_and_reset_after_quiet_hour(tmp_path):
    clock = Clock()
    state = make(tmp_path, clock)
    assert [state.record_failure("a") for _ in range(3)] == [1, 2, 3]
    clock.now += 3601
    assert state.record_failure("a") == 1
    state.reset_failures("a")
    assert state.record_failure("a") == 1


def test_state_kv_ttl(tmp_path):
    clock = Clock()
    state = make(tmp_path, clock)
    state.put("sig", "call-1", "abc", ttl=10)
    assert state.get("sig", "call-1") == "abc"
    assert state.get("other", "call-1") is None
    clock.now += 11
    assert state.get("sig", "call-1") is None
    state.purge_expired()


def test_state_claim_is_exclusive_until_it_expires(tmp_path):
    clock = Clock()
    first, second = make(tmp_path, clock), make(tmp_path, clock)
    assert first.claim("refresh", ttl=60) is True
    assert second.claim("refresh", ttl=60) is False
    clock.now += 61
    assert second.claim("refresh", ttl=60) is True
    assert first.claim("refresh", ttl=60) is False


def _claim(path, results):
    state = SQLiteState(path, clock=lambda: 5000.0)
    results.put(state.claim("once", ttl=600))


def test_state_claim_across_processes_exactly_one_wins(tmp_path):
    path = tmp_path / "state.db"
    SQLiteState(path, clock=lambda: 5000.0)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_claim, args=(path, results)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    outcomes = [results.get(timeout=5) for _ in workers]
    results.close()
    results.join_thread()
    assert sorted(outcomes) == [False] * 5 + [True]
