"""``MemoryRelease``: when a worker gives memory back, with a fake clock."""

from __future__ import annotations

from antigravity_proxy.release import (
    BURST_BYTES,
    IDLE_GAP,
    MIN_GAP,
    MemoryRelease,
    malloc_trim,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[MemoryRelease, Clock, list[str]]:
    clock, calls = Clock(), []
    release = MemoryRelease(
        trim=lambda: calls.append("trim"),
        collect=lambda: calls.append("collect"),
        clock=clock,
    )
    return release, clock, calls


def test_nothing_served_nothing_released():
    release, clock, calls = make()
    clock.now += IDLE_GAP * 10
    assert not release.maybe_release()
    assert calls == []


def test_a_burst_of_bytes_is_released_after_the_gap_collect_first():
    release, clock, calls = make()
    release.count(BURST_BYTES)
    assert not release.maybe_release()  # too soon after the last release
    clock.now += MIN_GAP
    assert release.maybe_release()
    assert calls == ["collect", "trim"]
    assert not release.maybe_release()  # the counters start over


def test_small_requests_are_released_only_after_the_idle_gap():
    release, clock, calls = make()
    release.count(1000)
    clock.now += MIN_GAP * 5
    assert not release.maybe_release()
    clock.now += IDLE_GAP
    assert release.maybe_release()
    assert release.releases == 1


def test_without_malloc_trim_it_still_collects():
    calls: list[str] = []
    release = MemoryRelease(trim=None, collect=lambda: calls.append("collect"))
    release.count(BURST_BYTES)
    release.last -= MIN_GAP
    assert release.maybe_release()
    assert calls == ["collect"]


def test_glibc_malloc_trim_is_found_and_callable():
    trim = malloc_trim()
    assert trim is not None  # the gateway's platforms (Debian, Ubuntu) use glibc
    trim()
