"""``ExchangeMiddleware``: the outermost WSGI wrapper, one ``Exchange`` per request.

It makes the request's ``Exchange`` before anything else runs (so a CORS
preflight, a 401 from the key check and a routing miss are observed too), sends
``X-Request-Id`` on every response, counts the body bytes the application reads
(``CountedInput``: a chunked upload has no declared length) and the bytes that
leave, notes when the first one left, and finishes the ``Exchange`` when the
server closes the body: at its end, or early because the client went away. Log
records written while the request is served carry its id (``RequestIdFilter``).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from antigravity_proxy.exchange import (
    ENVIRON_KEY,
    REQUEST_ID_HEADER,
    Ending,
    Exchange,
    FinishHook,
    request_id_from,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from antigravity_proxy.refusal import Refusals

CLIENT_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")

_current = threading.local()


def current_request_id() -> str:
    """The id of the request this thread is serving, "-" outside of one."""
    return getattr(_current, "request_id", "-")


def bind_request_id(request_id: str) -> None:
    """Log lines of this thread name ``request_id`` (worker threads of a request)."""
    _current.request_id = request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside of a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def client_socket_gone(sock: socket.socket) -> bool:
    """True when the client closed its end: readable, and a peek reads nothing.

    Why a peek: the request body has been read by now, so a readable socket
    either has a pipelined next request (still there) or is at end of file.
    """
    poller = select.poll()  # select refuses descriptors past 1024
    try:
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ValueError:  # a TLS socket refuses MSG_PEEK: we cannot tell
        return False
    except OSError:
        return True


def client_socket(environ: WSGIEnvironment) -> socket.socket | None:
    """The server's socket to the client, when the server exposes it."""
    for key in CLIENT_SOCKET_KEYS:
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def client_watch(environ: WSGIEnvironment) -> Callable[[], bool]:
    """A check of whether the client went away, from the server's socket."""
    sock = client_socket(environ)
    if sock is not None:
        return lambda: client_socket_gone(sock)
    return lambda: False


class CountedInput:
    """``wsgi.input`` as the application reads it, each byte counted once.

    Why count reads rather than trust ``Content-Length``: a chunked upload
    declares none, and a body refused before it is read (413, 401) was never
    taken in. Only the reading methods of the WSGI input are offered, so no
    reader can go around the count (``readinto`` is left out on purpose).
    """

    def __init__(self, stream: Any, exchange: Exchange) -> None:
        self.stream = stream
        self.exchange = exchange

    def _counted(self, data: bytes) -> bytes:
        self.exchange.bytes_in += len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self._counted(self.stream.read())
        return self._counted(self.stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self._counted(self.stream.readline())
        return self._counted(self.stream.readline(size))

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return [self._counted(line) for line in self.stream.readlines(hint)]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


class ExchangeMiddleware:
    """Create, expose and finish the ``Exchange`` of each request."""

    def __init__(
        self, app: WSGIApplication, on_finish: Sequence[FinishHook] = ()
    ) -> None:
        self.app = app
        self.on_finish = list(on_finish)
        # How the server answers a request it refused before the app ran
        # (``worker.GatewayWorker``); set where the app is wired.
        self.refusals: Refusals | None = None

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        exchange = Exchange(
            request_id_from(environ),
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", ""),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
            client_gone=client_watch(environ),
            client_socket=client_socket(environ),
        )
        if "wsgi.input" in environ:
            environ["wsgi.input"] = CountedInput(environ["wsgi.input"], exchange)
        exchange.on_finish.extend(self.on_finish)
        environ[ENVIRON_KEY] = exchange
        bind_request_id(exchange.request_id)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
            exchange.status = int(status.split(" ", 1)[0])
            if not any(k.lower() == "x-request-id" for k, _ in headers):
                headers = [*headers, (REQUEST_ID_HEADER, exchange.request_id)]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            exchange.status = exchange.status or 500
            exchange.finish()
            raise
        return ObservedBody(body, exchange)


class ObservedBody:
    """The response body as the server sees it, counted; finishes the Exchange."""

    def __init__(self, body: Iterable[bytes], exchange: Exchange) -> None:
        self.body = body
        self.exchange = exchange
        self._iterator: Iterator[bytes] | None = None
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self.body)
        bind_request_id(self.exchange.request_id)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._done = True
            raise
        if chunk:
            if self.exchange.first_byte is None:
                self.exchange.first_byte = time.monotonic()
            self.exchange.bytes_out += len(chunk)
        return chunk

    def close(self) -> None:
        exchange = self.exchange
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._done:
                exchange.end(Ending.CLIENT_GONE)
            exchange.finish()
            bind_request_id("-")
