"""Slow clients under real gunicorn: they hold no thread and are closed at the deadline.

Hundreds of connections trickle one byte at a time, some in the request head,
some in a declared body, against a gateway with only four threads. ``/healthz``
must keep answering promptly the whole time, and every slow socket must be
closed by the server (``408``, then EOF) once ``server.header_timeout`` or
``server.body_timeout`` has passed, give or take the worker's one-second sweep.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
SLOW_HEADS = 150
SLOW_BODIES = 100
TRICKLE_GAP = 0.5
SWEEP_SLACK = 2.5  # the sweep runs once a second; a loaded machine adds more
HEALTH_LIMIT = 1.0


@dataclass
class Slow:
    sock: socket.socket
    payload: bytes
    opened: float
    sent: int = 0
    closed_at: float | None = None
    reply: bytes = b""
    timeout: float = field(default=HEADER_TIMEOUT)


def open_slow(port: int, payload: bytes, timeout: float) -> Slow:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    return Slow(sock, payload, time.monotonic(), timeout=timeout)


def trickle(slow: Slow) -> None:
    """One more byte, and notice when the server has closed the connection."""
    try:
        data = slow.sock.recv(4096)
    except BlockingIOError:
        data = None
    except OSError:  # reset: the server closed with our bytes unread
        data = b""
    if data is not None:
        slow.reply += data
        if not data:
            slow.closed_at = time.monotonic()
            return
    if slow.sent < len(slow.payload):
        try:
            slow.sock.send(slow.payload[slow.sent : slow.sent + 1])
            slow.sent += 1
        except OSError:
            slow.closed_at = time.monotonic()


def poll_health(base_url: str, stop: threading.Event, times: list[float]) -> None:
    with requests.Session() as session:
        while not stop.is_set():
            started = time.monotonic()
            try:
                with session.get(
                    base_url + "/healthz", headers={"x-api-key": API_KEY}, timeout=5
                ) as reply:
                    ok = reply.status_code == 200
            except requests.RequestException:
                ok = False
            times.append(time.monotonic() - started if ok else float("inf"))
            stop.wait(0.2)


def test_slow_heads_and_bodies_are_closed_while_health_answers(gateway_factory):
    server = {"header_timeout": HEADER_TIMEOUT, "body_timeout": BODY_TIMEOUT}
    with gateway_factory(
        {"proxy": {"auth_mode": "off"}, "server": server}, workers=1, threads=4
    ) as gw:
        port = int(gw.base_url.rsplit(":", 1)[1])
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200
        body_head = (
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nContent-Length: 1000\r\n\r\n"
        )
        slows = [open_slow(port, head, HEADER_TIMEOUT) for _ in range(SLOW_HEADS)]
        for _ in range(SLOW_BODIES):
            slow = open_slow(port, b"{" + b" " * 999, BODY_TIMEOUT)
            slow.sock.sendall(body_head)
            slows.append(slow)
        stop = threading.Event()
        health: list[float] = []
        poller = threading.Thread(target=poll_health, args=(gw.base_url, stop, health))
        poller.start()
        deadline = time.monotonic() + HEADER_TIMEOUT + BODY_TIMEOUT + SWEEP_SLACK + 2
        try:
            while time.monotonic() < deadline and any(
                s.closed_at is None for s in slows
            ):
                for slow in slows:
                    if slow.closed_at is None:
                        trickle(slow)
                time.sleep(TRICKLE_GAP)
        finally:
            stop.set()
            poller.join(10)
            for slow in slows:
                slow.sock.close()
    still_open = [s for s in slows if s.closed_at is None]
    assert not still_open, f"{len(still_open)} slow sockets were never closed"
    late = [
        s.closed_at - s.opened
        for s in slows
        if s.closed_at - s.opened > s.timeout + SWEEP_SLACK
    ]
    assert not late, f"closed too late: {sorted(late)[-5:]}"
    early = [s for s in slows if s.closed_at - s.opened < s.timeout - 0.5]
    assert not early, "a slow socket was closed before its deadline"
    # The 408 is best effort: a client still sending when the server closes may
    # see a reset instead.
    timed_out = sum(s.reply.startswith(b"HTTP/1.1 408") for s in slows)
    assert timed_out >= len(slows) // 2, timed_out
    assert len(health) >= 10
    assert max(health) < HEALTH_LIMIT, sorted(health)[-5:]


def read_replies(sock: socket.socket, count: int, timeout: float = 10) -> list[bytes]:
    """``count`` whole replies (each with a Content-Length) from one connection."""
    sock.settimeout(timeout)
    buffer, replies = b"", []
    while len(replies) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode("latin-1").lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0])
            end = head_end + 4 + length
            if len(buffer) >= end:
                replies.append(buffer[:end])
                buffer = buffer[end:]
                continue
        data = sock.recv(65536)
        assert data, f"closed after {len(replies)} replies"
        buffer += data
    return replies


@pytest.fixture
def open_gateway(gateway_factory):
    with gateway_factory({"proxy": {"auth_mode": "off"}}, workers=1, threads=4) as gw:
        yield int(gw.base_url.rsplit(":", 1)[1])


def test_keep_alive_and_pipelined_requests_are_all_answered(open_gateway):
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    post = (
        b"POST /v1/api/event_logging HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    with socket.create_connection(("127.0.0.1", open_gateway)) as sock:
        sock.sendall(get + post + get)
        replies = read_replies(sock, 3)
        time.sleep(0.3)  # the connection idles in keep-alive, then is used again
        sock.sendall(post)
        replies += read_replies(sock, 1)
    assert [r.split(b"\r\n", 1)[0] for r in replies] == [b"HTTP/1.1 200 OK"] * 4


def test_expect_continue_is_answered_before_the_body(open_gateway):
    with socket.create_connection(("127.0.0.1", open_gateway)) as sock:
        sock.sendall(
            b"POST /v1/api/event_logging HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        sock.settimeout(5)
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        [reply] = read_replies(sock, 1)
    assert reply.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("chunked", [False, True])
def test_a_large_body_arrives_whole(open_gateway, chunked):
    body = b'{"events": [' + b'{"a": 1},' * 800_000 + b"{}]}"
    head = b"POST /v1/api/event_logging HTTP/1.1\r\nHost: x\r\n"
    head += b"Content-Type: application/json\r\n"
    if chunked:
        framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        head += b"Transfer-Encoding: chunked\r\n\r\n"
    else:
        framed = body
        head += b"Content-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", open_gateway)) as sock:
        sock.sendall(head + framed)
        [reply] = read_replies(sock, 1, timeout=30)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
