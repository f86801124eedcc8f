"""``RequestThreads``: calls run on threads started as needed, never waited for."""

from __future__ import annotations

import threading

import pytest

from antigravity_proxy.threadpool import RequestThreads


def test_results_and_errors_come_back_through_the_future():
    pool = RequestThreads(2)
    assert pool.submit(lambda a, b=0: a + b, 2, b=3).result(timeout=10) == 5
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=10)
    pool.shutdown()


def test_a_thread_is_started_only_when_no_idle_one_waits():
    release = threading.Event()
    pool = RequestThreads(8)
    held = [pool.submit(release.wait, 10) for _ in range(3)]
    assert pool.started == 3  # each call found every thread busy
    release.set()
    for future in held:
        future.result(timeout=10)
    for _ in range(20):  # idle threads take these: no new thread is needed
        pool.submit(lambda: None).result(timeout=10)
    assert pool.started == 3
    pool.shutdown()


def test_submit_does_not_wait_for_the_thread_it_starts():
    started: list[object] = []
    pool = RequestThreads(4, start_thread=started.append)  # never really started
    future = pool.submit(lambda: "late")
    assert not future.done() and len(started) == 1
    pool.shutdown()  # queued calls still run before the threads end
    started[0]()  # the thread's loop, run here: the call, then the end
    assert future.result(timeout=0) == "late"


def test_no_more_threads_than_size_and_queued_calls_still_run():
    release = threading.Event()
    pool = RequestThreads(2)
    futures = [pool.submit(release.wait, 10) for _ in range(5)]
    assert pool.started == 2
    release.set()
    assert all(f.result(timeout=10) for f in futures)
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
