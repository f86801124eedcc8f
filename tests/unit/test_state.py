"""The SQLite shared state: what one worker records, another sees; a broken file
never fails a call once behind ``AdvisoryState`` (as ``open_state`` builds it)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time

import pytest

from antigravity_proxy.state import AdvisoryState, MemoryState, SQLiteState


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(tmp_path, clock=None):
    return SQLiteState(tmp_path / "state.db", clock or Clock())


def advisory(backend, clock):
    """As ``open_state`` wraps it, with no backoff so every call tries SQLite."""
    return AdvisoryState(backend, MemoryState(clock), backoff=0.0)


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


def _locked_by_another_process(path):
    """A connection holding SQLite's write lock, as a stuck writer would."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_state_busy_database_raises_for_the_advisory_wrapper(tmp_path):
    path = tmp_path / "state.db"
    state = SQLiteState(path, clock=Clock(), busy_timeout=0.2)
    holder = _locked_by_another_process(path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            state.set_cooldown("b", 2000.0, "x")
    finally:
        holder.close()
    state.set_cooldown("b", 2000.0, "x")  # reconnected by itself
    assert "b" in state.active_cooldowns()


def test_state_busy_database_degrades_instead_of_raising(tmp_path, caplog):
    path = tmp_path / "state.db"
    clock = Clock()
    state = advisory(SQLiteState(path, clock=clock, busy_timeout=0.2), clock)
    state.set_cooldown("a", 2000.0, "long")
    holder = _locked_by_another_process(path)
    try:
        started = time.monotonic()
        state.set_cooldown("b", 2000.0, "x")
        state.bind_sticky("sid", "a")
        state.put("sig", "k", "v", ttl=60)
        assert state.record_failure("a") >= 1
        assert state.claim("lease", ttl=60) is False
        state.reset_failures("a")
        state.unbind_sticky("sid")
        state.clear_cooldown("a")
        assert time.monotonic() - started < 10
    finally:
        holder.close()
    assert "shared state (sqlite at" in caplog.text
    state.put("sig", "k", "v", ttl=60)  # the lock is gone: writes work again
    assert state.get("sig", "k") == "v"
    assert state.health().ok is True
    assert caplog.text.count("unavailable") == 1
    assert caplog.text.count("answers again") == 1


def test_state_corrupt_file_at_start_is_moved_aside(tmp_path, caplog):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    state = SQLiteState(path, clock=Clock())
    state.put("sig", "k", "v", ttl=60)
    assert state.get("sig", "k") == "v"
    assert [p.name.startswith("state.db.corrupt-") for p in tmp_path.iterdir()].count(
        True
    ) == 1
    assert "corrupt" in caplog.text


def test_state_corrupted_while_running_degrades(tmp_path):
    path = tmp_path / "state.db"
    clock = Clock()
    state = advisory(SQLiteState(path, clock=clock), clock)
    state.put("sig", "k", "v", ttl=60)
    state.set_cooldown("a", 2000.0, "x")
    path.write_bytes(b"garbage!" * 4096)
    for name in ("state.db-wal", "state.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    # Nothing raises: reads find nothing, writes are skipped.
    assert state.get("sig", "k") in (None, "v")
    assert isinstance(state.active_cooldowns(), dict)
    state.set_cooldown("b", 2000.0, "x")
    state.bind_sticky("sid", "a")
    assert state.sticky_account("sid") in (None, "a")
    assert state.record_failure("a") >= 1


def test_state_purges_expired_rows_on_its_own(tmp_path):
    clock = Clock()
    path = tmp_path / "state.db"
    state = SQLiteState(path, clock=clock)
    state.put("sig", "old", "v", ttl=10)
    state.bind_sticky("sid-old", "a")
    clock.now += 4000
    state.put("sig", "new", "v", ttl=10)
    rows = sqlite3.connect(path).execute("SELECT key FROM kv").fetchall()
    assert rows == [("new",)]
    sticky = sqlite3.connect(path).execute("SELECT session FROM sticky").fetchall()
    assert sticky == []


def stored_bytes(path, namespace):
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(CAST(value AS BLOB))), 0) FROM kv "
            "WHERE namespace = ?",
            (namespace,),
        ).fetchone()
    return row[0]


def test_state_put_bounded_evicts_the_soonest_expiring(tmp_path):
    clock = Clock()
    state = make(tmp_path, clock)
    state.put("other", "x", "o" * 500, 60)
    for index in range(5):
        clock.now += 1
        assert state.put_bounded("ns", f"k{index}", "v" * 300, 60, 1000)
    assert [state.get("ns", f"k{i}") is not None for i in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert stored_bytes(tmp_path / "state.db", "ns") == 900
    assert state.get("other", "x") == "o" * 500


def test_state_put_bounded_replaces_a_key_and_counts_bytes(tmp_path):
    state = make(tmp_path)
    assert state.put_bounded("ns", "k", "\u00e9" * 400, 60, 1000)
    assert state.put_bounded("ns", "k", "\u00e9" * 450, 60, 1000)
    assert stored_bytes(tmp_path / "state.db", "ns") == 900
    assert state.put_bounded("ns", "j", "a" * 200, 60, 1000)
    assert state.get("ns", "k") is None and state.get("ns", "j") == "a" * 200


def test_state_put_bounded_refuses_a_value_over_the_total(tmp_path):
    state = make(tmp_path)
    assert state.put_bounded("ns", "small", "s", 60, 10)
    assert not state.put_bounded("ns", "big", "b" * 11, 60, 10)
    assert state.get("ns", "big") is None and state.get("ns", "small") == "s"


def test_state_put_bounded_without_a_database_keeps_the_value_locally(tmp_path):
    clock = Clock()
    backend = make(tmp_path, clock)
    state = advisory(backend, clock)
    (tmp_path / "state.db").unlink()
    (tmp_path / "state.db").mkdir()
    backend.close()  # the idle connections: the next call opens the file anew
    with pytest.raises(sqlite3.Error):
        backend.put_bounded("ns", "k", "v", 60, 100)
    assert state.put_bounded("ns", "k", "v", 60, 100)
    assert state.fallback.get("ns", "k") == "v"


def test_state_get_many_finds_live_keys_across_batches(tmp_path):
    """One query per 500 keys; expired, missing and repeated keys are handled."""
    clock = Clock()
    state = make(tmp_path, clock)
    for i in range(1200):
        state.put("sig", f"call-{i}", f"v{i}", ttl=10 if i % 2 else 100)
    state.put("other", "call-0", "elsewhere", ttl=100)
    clock.now += 50
    keys = [f"call-{i}" for i in range(1300)] + ["call-0", "call-0"]
    found = state.get_many("sig", keys)
    assert found == {f"call-{i}": f"v{i}" for i in range(0, 1200, 2)}
    assert state.get_many("sig", []) == {}


def test_state_get_many_on_an_unusable_database_finds_nothing(tmp_path):
    clock = Clock()
    backend = make(tmp_path, clock)
    state = advisory(backend, clock)
    state.put("sig", "a", "1", ttl=100)
    (tmp_path / "state.db").unlink()
    (tmp_path / "state.db").mkdir()  # no longer openable as a database
    backend.close()  # the idle connections: the next call opens the file anew
    assert state.get_many("sig", ["a"]) == {}
