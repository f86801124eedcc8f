"""``watched_chunks``: a streamed upstream body that never blocks for long.

The body's chunks come as they arrive, and while the upstream is silent an empty
``b""`` comes every ``tick`` seconds instead, so the one thread that relays a
stream can send keep-alives and notice a client that went away without a second
thread. Silence longer than the socket's own read timeout (the one ``requests``
was given) is ``UpstreamTimeout``.

How it waits without breaking the response: a ``requests`` response reads from a
buffered file over the socket, and a socket timeout would leave that file unusable.
So the socket is never read with a short timeout; instead, before each read, the
buffered file is asked, without blocking, whether bytes are already waiting (a
non-blocking peek fills the buffer, TLS's decrypted bytes included), and
otherwise ``poll`` waits up to a tick for the socket to become readable. A
read is started only when bytes (or the end) are there, so it returns at once.
Bodies without a socket (a test double) are read as they are, with no ticks.

Given the client's socket (``client``), the same ``poll`` waits on it too: a
client that closes its end ends the wait at once with a ``b""``, so the caller
notices it within milliseconds, and the tick can be long (``client_tick``). Why:
with a short tick every open stream woke four times a second whether or not
anything happened, and a worker holding hundreds of them spent its CPU and its
main loop's turns at the GIL on those wake-ups. Should the client's socket be
readable without having closed (it sent its next request early), it is no
longer watched and the short tick takes over.
"""

from __future__ import annotations

import io
import select
import socket
import time
from collections.abc import Iterator
from typing import Any, Final

import requests

from antigravity_proxy.errors import UpstreamTimeout, UpstreamUnavailable

SILENCE: Final = b""
DEFAULT_TICK: Final = 0.25
CLIENT_TICK: Final = 5.0
RELEASE_GRACE: Final = 0.02
RELEASE_LIMIT: Final = 64 * 1024
_UPSTREAM, _CLIENT, _QUIET = "upstream", "client", "quiet"


class _Transport:
    """The socket and buffered file under a streamed ``requests`` response."""

    _poll: Any = None  # ``select.poll`` once the stream first waited
    _client_fd = -1  # the client's descriptor registered in it, if any

    def __init__(self, response: requests.Response) -> None:
        fp: Any = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock: Any = getattr(getattr(fp, "raw", None), "_sock", None)
        ok = isinstance(fp, io.BufferedReader) and isinstance(sock, socket.socket)
        self.fp: io.BufferedReader | None = fp if ok else None
        self.sock: socket.socket | None = sock if ok else None
        self.limit: float | None = self.sock.gettimeout() if self.sock else None

    def ready(self, tick: float, client: socket.socket | None = None) -> str:
        """``_UPSTREAM`` when a read would not block (bytes buffered, arriving,
        or the end), ``_CLIENT`` when the client's socket stirred, else
        ``_QUIET`` after ``tick`` seconds."""
        fp, sock = self.fp, self.sock
        if fp is None or sock is None or fp.closed or sock.fileno() < 0:
            return _UPSTREAM
        if self._buffered(fp, sock):
            return _UPSTREAM
        try:
            events = self._poller(sock, client).poll(tick * 1000)
        except (OSError, ValueError):
            return _UPSTREAM  # the read will say what went wrong
        if any(fd == sock.fileno() for fd, _ in events):
            return _UPSTREAM
        return _CLIENT if events else _QUIET

    def _poller(self, sock: socket.socket, client: socket.socket | None) -> Any:
        """The stream's ``poll`` object, watching ``sock`` and ``client``.

        Made once per stream, not once per wait: a stream waits once per event.
        poll, not select: a worker holding hundreds of streams has descriptors
        past select's limit of 1024.
        """
        poller = self._poll
        if poller is None:
            poller = self._poll = select.poll()
            poller.register(sock, select.POLLIN)
        client_fd = -1 if client is None else client.fileno()
        if client is not None and client_fd < 0:
            raise ValueError("the client's socket is closed")  # as register would
        if client_fd != self._client_fd:
            if self._client_fd >= 0:
                poller.unregister(self._client_fd)
                self._client_fd = -1
            if client is not None:
                poller.register(client, select.POLLIN)
                self._client_fd = client_fd
        return poller

    @staticmethod
    def _buffered(fp: io.BufferedReader, sock: socket.socket) -> bool:
        timeout = sock.gettimeout()
        sock.settimeout(0.0)
        try:
            return bool(fp.peek(1))
        except OSError:  # nothing yet (TLS says "want read")
            return False
        finally:
            sock.settimeout(timeout)


class WatchedBody:
    """A streamed body read as ``watched_chunks`` describes, and `release`.

    The body's own chunk iterator is kept here, not inside the iterator the
    caller holds: a caller that stops early drops its iterator, and ``release``
    can still go on reading the same body to its end.
    """

    def __init__(
        self,
        response: requests.Response,
        tick: float = DEFAULT_TICK,
        *,
        client: socket.socket | None = None,
        client_tick: float = CLIENT_TICK,
    ) -> None:
        self.transport = _Transport(response)
        self.chunks = response.iter_content(chunk_size=None)
        self.tick = tick
        self.client = client
        self.client_tick = client_tick

    def __iter__(self) -> Iterator[bytes]:
        transport, chunks, client = self.transport, self.chunks, self.client
        silent_since: float | None = None
        while True:
            state = transport.ready(self.client_tick if client else self.tick, client)
            if state is not _UPSTREAM:
                if state is _CLIENT:
                    client = None  # gone (the caller stops) or readable for good
                now = time.monotonic()
                silent_since = silent_since or now
                if transport.limit is not None and now - silent_since > transport.limit:
                    raise UpstreamTimeout("upstream stream stalled")
                yield SILENCE
                continue
            silent_since = None
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except requests.Timeout as exc:
                raise UpstreamTimeout("upstream stream stalled") from exc
            except requests.RequestException as exc:
                raise UpstreamUnavailable("upstream stream was cut off") from exc
            yield chunk

    def release(self, grace: float = RELEASE_GRACE, limit: int = RELEASE_LIMIT) -> bool:
        """Read the rest of the body once its reader is done, so that the
        connection is reused.

        A stream's translator is done at the upstream's last event, a few bytes
        before the body ends (the chunked encoding's end). A response closed
        before its end takes its connection with it, and the next call pays a new
        TCP and TLS handshake; read to its end, the connection goes back to the
        pool. Only what arrives within ``grace`` seconds, ``limit`` bytes at most,
        is read: an upstream still generating after a local stop is not waited
        for, and the client's response ends at most ``grace`` later. True when
        the body was read to its end. The caller closes the response.
        """
        deadline = time.monotonic() + grace
        left = limit
        while left >= 0:
            wait = max(0.0, deadline - time.monotonic())
            if self.transport.ready(wait) is not _UPSTREAM:
                return False
            try:
                left -= len(next(self.chunks))
            except StopIteration:
                return True
            except requests.RequestException:
                return False
        return False


def watched_chunks(
    response: requests.Response,
    tick: float = DEFAULT_TICK,
    *,
    client: socket.socket | None = None,
    client_tick: float = CLIENT_TICK,
) -> Iterator[bytes]:
    """Each chunk of ``response``'s body as it arrives; ``b""`` per silent tick,
    and at once when ``client``'s socket stirs (the caller checks it)."""
    return iter(WatchedBody(response, tick, client=client, client_tick=client_tick))
