"""The advisory-failure policy: a backend that fails or hangs costs at most one
timeout per backoff, the box serves from its own memory meanwhile, one warning a
minute, and the backend is used again once it answers.

Time bounds here are generous (the box is shared); what they separate is a
timeout in milliseconds from the seconds a default client would spend.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from antigravity_proxy.state import (
    AdvisoryState,
    MemoryState,
    RedisSettings,
    RedisState,
)


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A backend (memory inside) that raises while ``broken``, counting calls."""

    name = "flaky"
    where = "nowhere"

    def __init__(self) -> None:
        self.inner = MemoryState(time.time)
        self.broken = False
        self.calls = 0

    def __getattr__(self, attr):
        target = getattr(self.inner, attr)

        def call(*args, **kwargs):
            self.calls += 1
            if self.broken:
                raise OSError("store down")
            return target(*args, **kwargs)

        return call

    def explain(self, exc):
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture
def parts():
    backend, clock = Flaky(), Clock()
    state = AdvisoryState(backend, MemoryState(time.time), monotonic=clock)
    return backend, clock, state


def test_advisory_outage_serves_every_call_from_local_memory(parts, caplog):
    backend, clock, state = parts
    state.put("sig", "before", "shared", 60)
    backend.broken = True
    far = time.time() + 60
    state.set_cooldown("acc", far, "429")  # fails: kept locally from here on
    assert state.active_cooldowns() == {"acc": (far, "429")}
    state.put("sig", "k", "v", 60)
    assert state.get("sig", "k") == "v"
    assert state.get("sig", "before") is None  # only the shared store had it
    assert state.get_many("sig", ["k", "x"]) == {"k": "v"}
    assert state.put_bounded("resp", "r", "body", 60, 100)
    state.bind_sticky("sid", "acc")
    assert state.sticky_account("sid") == "acc"
    assert [state.record_failure("acc") for _ in range(2)] == [1, 2]
    assert [state.incr("ctr", "n", 60) for _ in range(2)] == [1, 2]
    assert state.claim("refresh", 60) is False  # never a local lease
    assert state.health().ok is False
    state.delete("sig", "k")
    state.unbind_sticky("sid")
    state.clear_cooldown("acc")
    state.reset_failures("acc")
    assert caplog.text.count("unavailable") == 1
    assert "shared state (flaky at nowhere) unavailable" in caplog.text
    assert "OSError: store down" in caplog.text


def test_advisory_leaves_a_failed_backend_alone_for_the_backoff(parts):
    backend, clock, state = parts
    backend.broken = True
    state.get("sig", "k")
    assert backend.calls == 1
    for _ in range(50):
        state.get("sig", "k")
    assert backend.calls == 1
    clock.now += 1.01
    state.get("sig", "k")
    assert backend.calls == 2  # tried again, failed again: a new backoff
    state.get("sig", "k")
    assert backend.calls == 2


def test_advisory_warns_once_a_minute_and_once_on_recovery(parts, caplog):
    backend, clock, state = parts
    backend.broken = True
    for _ in range(59):
        state.get("sig", "k")
        clock.now += 1.01
    assert caplog.text.count("unavailable") == 1
    clock.now += 2
    state.get("sig", "k")
    assert caplog.text.count("unavailable") == 2
    backend.broken = False
    clock.now += 1.01
    state.put("sig", "k", "back", 60)
    assert backend.inner.get("sig", "k") == "back"
    state.get("sig", "k")
    assert caplog.text.count("answers again") == 1
    assert state.health().ok is True


def test_advisory_outage_writes_stay_usable_after_recovery(parts):
    backend, clock, state = parts
    far = time.time() + 60
    state.set_cooldown("both", far, "shared")
    state.put("sig", "both", "shared", 60)
    backend.broken = True
    state.set_cooldown("acc", far, "429 during the outage")
    state.set_cooldown("both", far + 30, "longer, locally")
    state.bind_sticky("sid", "acc-local")
    state.put("sig", "k", "local", 60)
    state.put("sig", "both", "local copy", 60)
    backend.broken = False
    clock.now += 1.01
    assert state.active_cooldowns() == {
        "acc": (far, "429 during the outage"),
        "both": (far + 30, "longer, locally"),
    }
    assert state.sticky_account("sid") == "acc-local"
    assert state.get("sig", "k") == "local"
    assert state.get("sig", "both") == "shared"  # the backend's answer wins
    assert state.get_many("sig", ["k", "both", "x"]) == {
        "k": "local",
        "both": "shared",
    }
    state.bind_sticky("sid", "acc-shared")
    assert state.sticky_account("sid") == "acc-shared"
    state.clear_cooldown("acc")
    state.delete("sig", "k")
    state.unbind_sticky("sid")
    assert "acc" not in state.active_cooldowns()
    assert state.get("sig", "k") is None and state.sticky_account("sid") is None
    assert state.record_failure("acc") == 1  # counters are the backend's


def test_advisory_text_a_store_cannot_encode_is_kept_locally(
    redis_server, redis_prefix
):
    """A lone surrogate (invalid in UTF-8) makes redis-py raise; no caller sees it."""
    state = advisory_redis(redis_server, redis_prefix)
    odd = "call-\ud800"
    state.put("sig", odd, "v\udfff", 60)
    assert state.put_bounded("resp", "r", "x\ud800", 60, 100)
    assert state.get("sig", odd) == "v\udfff"
    assert state.get_many("sig", [odd]) == {odd: "v\udfff"}


def advisory_redis(server, prefix, timeout_ms=100, backoff=1.0):
    backend = RedisState(RedisSettings(server.url, prefix, timeout_ms), time.time)
    return AdvisoryState(backend, MemoryState(time.time), backoff=backoff)


def test_advisory_redis_killed_and_restarted(own_redis_server, redis_prefix, caplog):
    state = advisory_redis(own_redis_server, redis_prefix, backoff=0.2)
    state.put("sig", "k", "shared", 60)
    assert state.health().ok is True
    own_redis_server.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        for index in range(20):
            state.put("sig", f"local-{index}", "v", 60)
            assert state.get("sig", f"local-{index}") == "v"
            assert state.claim("refresh", 60) is False
    assert time.monotonic() - started < 5
    assert state.health().ok is False
    assert caplog.text.count("unavailable") == 1
    own_redis_server.start()
    time.sleep(0.3)  # past the backoff
    state.put("sig", "after", "shared again", 60)
    with own_redis_server.client() as raw:
        assert raw.get(f"{redis_prefix}kv:sig:after") == "shared again"
    assert state.health().ok is True
    assert "answers again" in caplog.text


@pytest.fixture
def silent_server():
    """A listening socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_advisory_silent_server_costs_one_timeout_per_backoff(silent_server):
    url = f"redis://127.0.0.1:{silent_server}/0"
    backend = RedisState(RedisSettings(url, "x:", 100), time.time)
    state = AdvisoryState(backend, MemoryState(time.time), backoff=30.0)
    started = time.monotonic()
    state.put("sig", "k", "v", 60)
    first = time.monotonic() - started
    assert 0.09 <= first < 3  # the 100 ms read timeout, not redis-py's seconds
    started = time.monotonic()
    for _ in range(200):
        assert state.get("sig", "k") == "v"
    assert time.monotonic() - started < 1  # within the backoff: no network at all


def test_advisory_redis_busy_in_debug_sleep(own_redis_server, redis_prefix):
    state = advisory_redis(own_redis_server, redis_prefix, backoff=0.2)
    state.put("sig", "k", "shared", 60)
    sleeper = threading.Thread(
        target=lambda: own_redis_server.client().execute_command("DEBUG", "SLEEP", 2)
    )
    sleeper.start()
    time.sleep(0.2)  # the server is now asleep
    started = time.monotonic()
    assert state.get("sig", "k") is None  # answered locally, not after 2 s
    assert time.monotonic() - started < 1.5
    sleeper.join(10)
    time.sleep(0.3)
    assert state.get("sig", "k") == "shared"
