"""``GatewayWorker``: gunicorn's gthread worker, but no thread waits on a slow client.

Stock gthread hands a new connection to a pool thread that then blocks reading
the request: a client sending one header byte a second holds that thread for as
long as it likes, and a few hundred such clients starve the pool (``/healthz``
times out). Here the worker's main loop receives each request without blocking
(its head within ``server.header_timeout``, its body within
``server.body_timeout``) and gives a thread only a request that is whole, so a
thread never waits on the client's upload. A connection past its deadline gets
``408`` and is closed. Keep-alive connections go through the same intake for
every request.

The thread parses the received bytes with gunicorn's own parser; should it need
more (a body past ``proxy.max_body_bytes``, read only to the limit before the
413), each further read waits at most until the same deadline. TLS and HTTP/2
connections keep stock gthread behaviour (the gateway serves neither itself).

A request gunicorn refuses while parsing it (a control character in a header,
too many headers, contradictory framing) gets the JSON error body of the
protocol of the route its request line named (``refusal``), not gunicorn's HTML
page: the intake read that line (``Intake.target``) before any thread ran.
"""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from gunicorn import util
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from antigravity_proxy import forksignals
from antigravity_proxy.config import Config, load_config
from antigravity_proxy.http import header_text
from antigravity_proxy.intake import Intake, Phase
from antigravity_proxy.refusal import Refusals, Target, error_from_parse
from antigravity_proxy.release import MemoryRelease, malloc_trim
from antigravity_proxy.threadpool import RequestThreads

RECV_SIZE: Final = 256 * 1024
ACCEPT_BATCH: Final = 64
SWEEP_GAP: Final = 0.1  # seconds between looks for connections past their deadline
HEARTBEAT_GAP: Final = 1.0  # at most this long between heartbeats to the master
CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
TIMED_OUT_TEXT: Final = b"request not received in time\n"
TIMED_OUT: Final = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
    % (len(TIMED_OUT_TEXT), TIMED_OUT_TEXT)
)


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    header_timeout: float
    body_timeout: float
    max_body: int
    thread_stack: int

    @classmethod
    def of(cls, config: Config) -> IntakeLimits:
        return cls(
            config.server.header_timeout,
            config.server.body_timeout,
            config.proxy.max_body_bytes,
            max(config.server.thread_stack_kib, 64) * 1024
            if config.server.thread_stack_kib
            else 0,
        )


@dataclass(slots=True)
class Arriving:
    """A connection whose request is still arriving."""

    conn: TConn
    intake: Intake
    deadline: float
    registered: bool = False  # with the poller, waiting for more bytes


class ReceivedRequest(Request):  # type: ignore[misc]
    """The main loop already answered ``Expect: 100-continue``."""

    _policy_expect_continue = False


class ReceivedParser(RequestParser):  # type: ignore[misc]
    mesg_class = ReceivedRequest


class ReceivedUnreader(SocketUnreader):  # type: ignore[misc]
    """The request's bytes as received; further reads wait until ``deadline``."""

    def __init__(
        self,
        sock: socket.socket,
        pieces: list[bytes],
        deadline: float,
        target: Target | None = None,
    ):
        super().__init__(sock)
        self.pieces = deque(pieces)
        self.deadline = deadline
        self.received = sum(len(piece) for piece in pieces)
        self.target = target  # the request line's (method, path), when sane

    def chunk(self, size_hint: int | None = None) -> bytes:
        if self.pieces:
            return self.pieces.popleft()
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or not _readable(self.sock, remaining):
            # gunicorn and Werkzeug treat this as the client going away.
            raise NoMoreData(b"request not received in time")
        data: bytes = super().chunk(size_hint)
        return data

    def settle(self) -> None:
        """Put unread pieces (a pipelined request) where gunicorn looks for them."""
        if self.pieces:
            rest = b"".join(self.pieces)
            self.pieces.clear()
            self.buf.seek(0, 2)
            self.buf.write(rest)


def _readable(sock: socket.socket, timeout: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(timeout))


class GatewayWorker(ThreadWorker):  # type: ignore[misc]
    """gthread whose main loop receives each request whole before a thread runs it."""

    def init_process(self) -> None:
        config = getattr(self.app, "config", None)
        self.limits = IntakeLimits.of(
            config if isinstance(config, Config) else load_config()
        )
        self.arriving: dict[TConn, Arriving] = {}
        self.release = MemoryRelease(malloc_trim())
        self.busy = 0  # requests handed to the pool and not yet finished
        self.next_sweep = 0.0  # when murder_pending next looks for late requests
        self.last_heartbeat = float("-inf")
        self.serving = threading.local()  # the connection a pool thread handles
        if self.limits.thread_stack:
            # Before the pool starts its threads: each stream holds one.
            threading.stack_size(self.limits.thread_stack)
        super().init_process()

    def init_signals(self) -> None:
        """The worker's handlers, then the signals the master held for the fork.

        A stop sent while this worker was booting waited, blocked, until now
        (``forksignals``): it reaches these handlers instead of the master's.
        """
        super().init_signals()
        forksignals.release()

    def notify(self) -> None:
        """The heartbeat the master checks, sent at most every ``HEARTBEAT_GAP``.

        Why: gthread's loop beats on every wake-up, a file-time syscall per
        request or more under load, for a master that only looks whether a
        beat came within half the worker ``timeout`` (60 s by default).
        """
        now = time.monotonic()
        gap = min(HEARTBEAT_GAP, self.timeout / 4) if self.timeout else HEARTBEAT_GAP
        if now - self.last_heartbeat >= gap:
            self.last_heartbeat = now
            super().notify()

    def get_thread_pool(self) -> RequestThreads:
        """gthread's pool, except that ``submit`` never waits for a thread to start."""
        return RequestThreads(self.cfg.threads)

    def accept(self, listener: socket.socket) -> None:
        """Accept what is queued, up to ``ACCEPT_BATCH`` connections.

        Why a batch: under load the main loop waits for the GIL after every
        ``select``; one connection per wait let a burst of 1,000 streams in at
        about 150 a second per worker.
        """
        address = listener.getsockname()
        for _ in range(ACCEPT_BATCH):
            try:
                client, peer = listener.accept()
            except OSError as exc:
                if exc.errno not in (
                    errno.EAGAIN,
                    errno.ECONNABORTED,
                    errno.EWOULDBLOCK,
                ):
                    raise
                return
            self.nr_conns += 1
            self.enqueue_req(TConn(self.cfg, client, peer, address))
            if not self._accepting or self.nr_conns >= self.worker_connections:
                return

    def enqueue_req(self, conn: TConn) -> None:
        """Receive the connection's next request (gthread calls this too)."""
        if self.cfg.is_ssl or conn.is_http2:
            super().enqueue_req(conn)
            return
        if negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            super().enqueue_req(conn)
            return
        self._receive(conn)

    def handle(self, conn: TConn) -> Any:
        """gthread's, with the connection known to ``handle_error`` (same thread)."""
        self.serving.conn = conn
        try:
            return super().handle(conn)
        finally:
            self.serving.conn = None

    def handle_error(
        self, req: Any, client: Any, addr: Any, exc: BaseException
    ) -> None:
        """Answer in the protocol's JSON error format instead of gunicorn's HTML.

        Why the intake's target: gunicorn raises most header errors before it
        made a request object (``exc.req`` is None), so the route is only
        known from the request line the intake read.
        """
        target = self._target_of(req)
        if error_from_parse(exc) is None:
            where = header_text(" ".join(target)) if target else "(no request line)"
            self.log.exception("error handling request %s", where)
        refusals = getattr(self.wsgi, "refusals", None)
        if not isinstance(refusals, Refusals):
            refusals = Refusals()  # an app without a route table: path prefixes
        try:
            util.write_nonblock(client, refusals.answer(exc, target))
        except Exception:
            self.log.debug("could not send the refusal")

    def _target_of(self, req: Any) -> Target | None:
        conn = getattr(self.serving, "conn", None)
        unreader = getattr(getattr(conn, "parser", None), "unreader", None)
        if isinstance(unreader, ReceivedUnreader) and unreader.target is not None:
            return unreader.target
        method, path = getattr(req, "method", None), getattr(req, "path", None)
        if isinstance(method, str) and isinstance(path, str):
            return method, path
        return None

    def finish_request(self, conn: TConn, fs: Any) -> None:
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, ReceivedUnreader):
            # Counted once the request is done: its memory is garbage by now.
            self.release.count(unreader.received)
            unreader.settle()
            self.busy -= 1
            self.set_accept_enabled(self.nr_conns < self.worker_connections)
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        """Also stop accepting while every pool thread is busy.

        Why: with several workers, one whose threads all hold streams would
        otherwise accept a request and queue it behind them although a sibling
        has a thread free; left in the listen queue, the request goes to the
        first worker that can start it.
        """
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)

    def _receive(self, conn: TConn) -> None:
        leftover = b""
        if conn.parser is not None:
            leftover = conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        deadline = time.monotonic() + self.limits.header_timeout
        arriving = Arriving(conn, Intake(self.limits.max_body), deadline)
        self.arriving[conn] = arriving
        if leftover and self._take(arriving, leftover):
            return
        # The request usually arrived with the connection: read it now rather
        # than after another turn of the loop.
        if self._read(arriving, conn.sock):
            return
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self._on_readable, arriving)
        )
        arriving.registered = True

    def _on_readable(self, arriving: Arriving, sock: socket.socket) -> None:
        self._read(arriving, sock)

    def _read(self, arriving: Arriving, sock: socket.socket) -> bool:
        """One read; True once the request is handed on or the connection closed."""
        try:
            data = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if data:
            return self._take(arriving, data)
        self._close(arriving)
        return True

    def _take(self, arriving: Arriving, data: bytes) -> bool:
        """Feed the bytes; True once the request was handed to a thread."""
        intake = arriving.intake
        was_head = intake.phase is Phase.HEAD
        phase = intake.feed(data)
        if was_head and phase is not Phase.HEAD:
            arriving.deadline = time.monotonic() + self.limits.body_timeout
            if intake.wants_continue and phase is Phase.BODY:
                _send_quietly(arriving.conn.sock, CONTINUE)
        if phase is not Phase.READY:
            return False
        del self.arriving[arriving.conn]
        self._unregister(arriving)  # before a thread may close the socket
        self._dispatch(arriving)
        return True

    def _dispatch(self, arriving: Arriving) -> None:
        conn = arriving.conn
        pieces = arriving.intake.pieces
        parser = ReceivedParser(self.cfg, conn.sock, conn.client)
        parser.unreader = ReceivedUnreader(
            conn.sock, pieces, arriving.deadline, arriving.intake.target
        )
        if conn.parser is not None:
            parser.req_count = conn.parser.req_count
        conn.parser = parser
        conn.initialized = True
        conn.data_ready = True
        self.busy += 1
        if self.busy >= self.cfg.threads:
            self.set_accept_enabled(False)
        super().enqueue_req(conn)

    def murder_pending(self) -> None:
        """gthread's sweep (once per loop turn), then this worker's own.

        Every connection past its deadline is closed, and memory the requests
        left behind is given back when due (``release.py``).
        """
        super().murder_pending()
        self.release.maybe_release()
        now = time.monotonic()
        if now < self.next_sweep:
            return
        # Why not every turn: the loop turns once per event under load, and
        # walking every arriving connection each time cost O(n) per event.
        self.next_sweep = now + SWEEP_GAP
        late = [a for a in self.arriving.values() if a.deadline <= now]
        for arriving in late:
            _send_quietly(arriving.conn.sock, TIMED_OUT)
            _drain_quietly(arriving.conn.sock)
            self._close(arriving)
        if late:
            self.log.info(
                "closed %d connection(s) that sent no whole request in time",
                len(late),
            )

    def _unregister(self, arriving: Arriving) -> None:
        if arriving.registered:
            arriving.registered = False
            self.poller.unregister(arriving.conn.sock)

    def _close(self, arriving: Arriving) -> None:
        self.arriving.pop(arriving.conn, None)
        self._unregister(arriving)
        self.nr_conns -= 1
        arriving.conn.close()


def _drain_quietly(sock: socket.socket) -> None:
    """Take what the client already sent, so closing does not reset the 408."""
    for _ in range(4):
        try:
            if not sock.recv(RECV_SIZE):
                return
        except OSError:
            return


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    """Best effort on a non-blocking socket: a full buffer or a gone peer is fine."""
    try:
        sock.send(data)
    except OSError:
        pass
