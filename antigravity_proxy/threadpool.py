"""``RequestThreads``: a worker's request threads, started without waiting.

Why not ``concurrent.futures.ThreadPoolExecutor`` (what gunicorn's gthread
uses): when no thread is idle, its ``submit`` starts one with
``Thread.start()``, which waits until the new thread has run. Under load
(hundreds of streams taking the GIL in turn) every start waited its turn for
the GIL, and the worker's main loop, the caller of ``submit``, stalled with it:
a burst of 1,000 streams got its first bytes at about 150 streams a second per
worker, and ``/healthz`` queued behind them. Here ``submit`` puts the call on a
queue and, when more calls wait than threads are idle, starts a thread with
``_thread.start_new_thread``, which returns at once; the new thread takes a
call when it first runs.

Threads are started as needed (an unused one costs nothing) up to ``size``, and
then live as long as the worker. Like gthread's pool threads, they do not keep
the process alive at exit: gunicorn waits for open connections (up to
``graceful_timeout``) before the worker exits.
"""

from __future__ import annotations

import _thread
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class _Call:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # the caller reads it from the future
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class RequestThreads(Executor):
    """Up to ``size`` threads serving one queue of calls."""

    def __init__(
        self,
        size: int,
        start_thread: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.size = size
        self._start_thread = start_thread or _start_quickly
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.started = 0
        self._idle = 0  # threads waiting for a call
        self._waiting = 0  # calls not yet taken by a thread
        self._closed = False

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit after shutdown")
            self._waiting += 1
            self._calls.put(_Call(future, fn, args, kwargs))
            if self._waiting > self._idle and self.started < self.size:
                self.started += 1
                self._start_thread(self._serve)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Calls already queued still run; then every thread ends.

        ``wait`` is not honoured: the threads cannot be joined (see the module
        docstring); gunicorn's worker never asks to wait.
        """
        with self._lock:
            self._closed = True
            for _ in range(self.started):
                self._calls.put(None)

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            call = self._calls.get()
            with self._lock:
                self._idle -= 1
                self._waiting -= call is not None
            if call is None:
                return
            call.run()
            del call  # the request's objects are garbage now, not at the next call


def _start_quickly(target: Callable[[], None]) -> object:
    return _thread.start_new_thread(target, ())
