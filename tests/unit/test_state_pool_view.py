"""The pool view a worker keeps: what the account pool reads per request costs the
store one read per ``POOL_VIEW_SECONDS`` (plus one after each write of its own),
another box's cooldown steers this one within that bound, and a success resets a
failure count only where there is one.

Clocks are fakes and the backend counts its calls, so every bound here is exact.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.service import AccountPool, Lease
from antigravity_proxy.config import Config
from antigravity_proxy.errors import UpstreamStatus
from antigravity_proxy.state import (
    POOL_VIEW_SECONDS,
    AdvisoryState,
    MemoryState,
    SQLiteState,
)
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from tests.fakes.cloudcode import FakeCloudCode
from tests.upstream_env import seed_account


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Counted:
    """A backend (``inner``) that counts its calls by operation name, and
    raises while ``broken``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.where = inner.where
        self.calls: collections.Counter[str] = collections.Counter()
        self.during_view = None  # called inside pool_view: a write racing the read
        self.broken = False

    def __getattr__(self, attr):
        target = getattr(self.inner, attr)

        def call(*args, **kwargs):
            self.calls[attr] += 1
            if self.broken:
                raise OSError("store down")
            answer = target(*args, **kwargs)
            if attr == "pool_view" and self.during_view is not None:
                self.during_view()
            return answer

        return call

    def explain(self, exc):
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture
def parts():
    """(backend shared with "another box", monotonic clock, this worker's state)."""
    backend = Counted(MemoryState(time.time))
    monotonic = Clock(500.0)
    return (
        backend,
        monotonic,
        AdvisoryState(backend, MemoryState(time.time), monotonic=monotonic),
    )


def test_pool_view_is_read_once_per_bound(parts):
    backend, monotonic, state = parts
    for step in range(100):
        monotonic.now = 500.0 + POOL_VIEW_SECONDS * step / 100
        state.pool_view()
    assert backend.calls["pool_view"] == 1
    monotonic.now = 500.0 + POOL_VIEW_SECONDS
    state.pool_view()
    assert backend.calls["pool_view"] == 2


def test_another_boxs_cooldown_steers_within_the_bound_and_not_before(parts):
    backend, monotonic, state = parts
    assert state.pool_view().cooldowns == {}
    far = time.time() + 600
    backend.inner.set_cooldown("acc:m", far, "429 on box B")  # not through us
    backend.inner.record_failure("acc")
    monotonic.now += POOL_VIEW_SECONDS * 0.99
    assert state.pool_view().cooldowns == {}  # kept: stale, within the bound
    monotonic.now += POOL_VIEW_SECONDS * 0.01
    view = state.pool_view()
    assert dict(view.cooldowns) == {"acc:m": (far, "429 on box B")}
    assert view.failing == {"acc"}
    assert backend.calls["pool_view"] == 2


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.set_cooldown("acc:m", time.time() + 600, "x"),
        lambda s: s.clear_cooldown("acc:m"),
        lambda s: s.record_failure("acc"),
        lambda s: s.reset_failures("acc"),
    ],
)
def test_pool_view_after_a_write_of_ours_is_read_again_at_once(parts, write):
    backend, _, state = parts
    state.pool_view()
    write(state)
    state.pool_view()
    state.pool_view()
    assert backend.calls["pool_view"] == 2


def test_own_cooldown_and_failure_show_in_the_next_view(parts):
    _, _, state = parts
    state.pool_view()
    far = time.time() + 600
    state.set_cooldown("acc:m", far, "x")
    state.record_failure("acc")
    view = state.pool_view()
    assert dict(view.cooldowns) == {"acc:m": (far, "x")}
    assert view.failing == {"acc"}
    state.reset_failures("acc")
    state.clear_cooldown("acc:m")
    assert state.pool_view().failing == frozenset()
    assert state.pool_view().cooldowns == {}


def test_a_read_overlapping_a_write_of_ours_is_not_kept(parts):
    backend, _, state = parts
    backend.during_view = lambda: state.record_failure("acc")
    assert state.pool_view().failing == frozenset()  # read before the write
    backend.during_view = None
    assert state.pool_view().failing == {"acc"}
    assert backend.calls["pool_view"] == 2


def test_pool_view_in_an_outage_merges_the_local_copy(parts):
    backend, monotonic, state = parts
    far = time.time() + 600
    backend.inner.set_cooldown("shared", far, "before")
    backend.broken = True
    state.set_cooldown("local", far, "during")
    state.record_failure("acc")
    view = state.pool_view()
    assert set(view.cooldowns) == {"local"} and view.failing == {"acc"}
    backend.broken = False
    monotonic.now += 1.01  # past the backoff: the store answers again
    state.clear_cooldown("nothing")
    view = state.pool_view()
    assert set(view.cooldowns) == {"shared", "local"} and view.failing == {"acc"}


class Pool:
    """An account pool on SQLite, as a worker builds it, with counted calls."""

    def __init__(self, home: Path) -> None:
        seed_account(home, FakeCloudCode(), "a")
        self.wall = Clock(1_800_000_000.0)
        self.monotonic = Clock(500.0)
        self.backend = Counted(SQLiteState(home / "state.db", self.wall))
        state = AdvisoryState(
            self.backend, MemoryState(self.wall), monotonic=self.monotonic
        )
        config = Config(home=str(home))
        store = AccountFiles(home / "accounts")
        upstream = CloudCodeClient(config.upstream)
        self.pool = AccountPool(config, store, state, upstream, clock=self.wall)
        self.lease = Lease(store.get("a"), "token", "project")

    def success(self) -> None:
        self.pool.report_success(self.lease)

    def rate_limited(self) -> None:
        self.pool.report_failure(
            self.lease, "gemini-3-flash", UpstreamStatus(429, "{}")
        )


def test_success_without_a_failure_costs_no_reset(tmp_path):
    box = Pool(tmp_path)
    for _ in range(20):
        box.success()
    assert box.backend.calls["reset_failures"] == 0
    assert box.backend.calls["pool_view"] == 1


def test_success_after_our_failure_resets_once(tmp_path):
    box = Pool(tmp_path)
    box.success()
    box.rate_limited()
    assert box.backend.calls["record_failure"] == 1
    box.success()
    box.success()
    assert box.backend.calls["reset_failures"] == 1
    box.rate_limited()  # the count started afresh: the shortest rest again
    assert box.backend.inner.pool_view().failing == {"a"}
    assert box.backend.inner.record_failure("a") == 2


def test_success_after_another_boxs_failure_resets_within_the_bound(tmp_path):
    box = Pool(tmp_path)
    box.success()
    box.backend.inner.record_failure("a")  # box B's 429
    box.monotonic.now += POOL_VIEW_SECONDS
    box.success()
    assert box.backend.calls["reset_failures"] == 1
    assert box.backend.inner.record_failure("a") == 1


def test_a_failure_an_hour_old_is_not_reset(tmp_path):
    box = Pool(tmp_path)
    box.backend.inner.record_failure("a")
    box.wall.now += 3600.5  # the quiet hour: the count already starts afresh
    box.success()
    assert box.backend.calls["reset_failures"] == 0
