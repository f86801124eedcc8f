"""Heartbeats for a streamed response body whose source may go quiet.

``KeepAlive`` iterates a body (an iterator of frames, typically ``relay``'s) in a
reader thread and hands each frame over through a small queue the moment it is
produced; when nothing arrives for ``interval`` seconds it yields a heartbeat frame
instead (Anthropic's ``event: ping``), so clients and proxies that drop idle
connections keep the stream while the upstream thinks in silence. Nothing is held
back: the consumer blocks on the queue and wakes for every frame.

A thread is needed because the source blocks in a socket read that cannot be given
a short timeout without breaking the upstream response. Closing (the client went
away, or the body ended) stops the reader: ``interrupt`` wakes it from its blocking
read (``SocketWaker`` for a ``requests`` response), the reader closes the
source in its own thread (a generator cannot be closed from another thread while it
runs), and ``on_end`` then runs in the consumer's thread.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import requests

log = logging.getLogger(__name__)

DEFAULT_INTERVAL: Final = 15.0
QUEUE_SIZE: Final = 64
POLL_SECONDS: Final = 0.05
JOIN_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_END: Final = object()


class KeepAlive:
    """An iterator of ``source``'s frames plus ``heartbeat`` frames during silence.

    :param source: the frames to forward; closed (if it can be) when done.
    :param heartbeat: the frame sent after ``interval`` seconds without a frame.
    :param interval: seconds of silence before a heartbeat (15 s by default).
    :param interrupt: wakes a reader blocked inside ``source`` (called on close).
    :param on_end: runs once, in the consumer's thread, after the reader stopped.
    """

    def __init__(
        self,
        source: Iterable[bytes],
        heartbeat: bytes,
        *,
        interval: float = DEFAULT_INTERVAL,
        interrupt: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.heartbeat = heartbeat
        self.interval = interval
        self.interrupt = interrupt
        self.on_end = on_end
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._read, name="keepalive-reader", daemon=True
            )
            self._thread.start()
        try:
            item = self._queue.get(timeout=self.interval)
        except queue.Empty:
            return self.heartbeat
        if isinstance(item, bytes):
            return item
        self._finish(interrupt=False)
        if isinstance(item, _Failed):
            raise item.error
        raise StopIteration

    def close(self) -> None:
        """Stop the reader, close the source, run ``on_end``; safe to call twice."""
        self._finish(interrupt=True)

    def _finish(self, *, interrupt: bool) -> None:
        """``interrupt`` is False once the reader has sent its end marker: the
        source is closed by then, and its socket may already serve another call."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is None:
            _close(self.source)
        elif thread.is_alive():
            if interrupt and self.interrupt is not None:
                self.interrupt()
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("keep-alive reader still blocked after close")
        if self.on_end is not None:
            self.on_end()

    def _read(self) -> None:
        """The reader thread: forward every frame, then an end or failure marker."""
        iterator = iter(self.source)
        outcome: object = _END
        try:
            for frame in iterator:
                if not self._offer(frame):
                    break
        except BaseException as exc:  # handed to the consumer, which re-raises it
            outcome = _Failed(exc)
        finally:
            _close(iterator)
        self._offer(outcome)

    def _offer(self, item: object) -> bool:
        """Queue ``item`` unless the consumer has gone; False once it has."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


class SocketWaker:
    """Wakes a thread blocked reading a streamed ``requests`` response.

    Why ``shutdown`` and not ``response.close()``: closing a buffered reader that
    another thread is reading waits for that read to return, which for a silent
    upstream is the read timeout (minutes); ``shutdown`` of the socket makes the
    blocked read return at once. The socket is reached through a duplicate of its
    descriptor taken while the response is surely open (public ``fileno()``), so
    a descriptor number reused after the reader closed the response is never hit.
    Always ``close()`` it.
    """

    def __init__(self, response: requests.Response) -> None:
        self._sock: socket.socket | None = None
        try:
            fd = os.dup(response.raw.fileno())
        except (OSError, AttributeError, ValueError):
            return
        self._sock = socket.socket(fileno=fd)

    def wake(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _close(iterable: object) -> None:
    close = getattr(iterable, "close", None)
    if callable(close):
        close()
