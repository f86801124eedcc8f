"""KeepAlive: frames forwarded at once, heartbeats in silence, clean shutdown."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from antigravity_proxy.keepalive import QUEUE_SIZE, KeepAlive, SocketWaker

BEAT = b"beat"


class Source:
    """A closable frame source whose pace the test controls."""

    def __init__(self, frames, gaps=(), fail=None):
        self.frames = list(frames)
        self.gaps = list(gaps)
        self.fail = fail
        self.closed = threading.Event()
        self.thread_name = None

    def __iter__(self):
        try:
            self.thread_name = threading.current_thread().name
            for index, frame in enumerate(self.frames):
                if index < len(self.gaps):
                    time.sleep(self.gaps[index])
                yield frame
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed.set()


def timed(iterator):
    start = time.monotonic()
    return [(item, time.monotonic() - start) for item in iterator]


def test_frames_pass_through_in_order_without_heartbeats():
    source = Source([b"a", b"b", b"c"])
    ended = []
    body = KeepAlive(source, BEAT, interval=5, on_end=lambda: ended.append(1))
    assert list(body) == [b"a", b"b", b"c"]
    assert source.closed.is_set() and ended == [1]
    assert source.thread_name == "keepalive-reader"
    body.close()
    assert ended == [1]


def test_each_frame_arrives_when_produced():
    source = Source([b"a", b"b", b"c"], gaps=[0, 0.3, 0.3])
    arrivals = timed(KeepAlive(source, BEAT, interval=5))
    assert [item for item, _ in arrivals] == [b"a", b"b", b"c"]
    for (_, at), expected in zip(arrivals, (0.0, 0.3, 0.6), strict=True):
        assert expected <= at + 0.01 < expected + 0.15


def test_heartbeat_after_each_silent_interval():
    source = Source([b"a", b"b"], gaps=[0, 0.55])
    items = [item for item, _ in timed(KeepAlive(source, BEAT, interval=0.2))]
    assert items[0] == b"a" and items[-1] == b"b"
    assert items[1:-1] == [BEAT, BEAT]


def test_source_failure_is_raised_after_its_frames():
    source = Source([b"a"], fail=ValueError("broken upstream"))
    ended = []
    body = KeepAlive(source, BEAT, on_end=lambda: ended.append(1))
    assert next(body) == b"a"
    with pytest.raises(ValueError, match="broken upstream"):
        next(body)
    assert source.closed.is_set() and ended == [1]
    with pytest.raises(StopIteration):
        next(body)


def test_close_interrupts_a_blocked_reader_and_closes_the_source():
    release = threading.Event()
    closed = threading.Event()

    def blocking():
        try:
            yield b"first"
            release.wait(10)
            yield b"late"
        finally:
            closed.set()

    ended = []
    body = KeepAlive(
        blocking(),
        BEAT,
        interval=5,
        interrupt=release.set,
        on_end=lambda: ended.append(closed.is_set()),
    )
    assert next(body) == b"first"
    started = time.monotonic()
    body.close()
    assert time.monotonic() - started < 1
    assert ended == [True]  # the reader closed the source before on_end ran


def test_on_end_runs_once_after_close():
    ended = []
    source = Source([b"a", b"b"])
    body = KeepAlive(source, BEAT, on_end=lambda: ended.append(1))
    assert next(body) == b"a"
    body.close()
    body.close()
    assert ended == [1] and source.closed.is_set()
    with pytest.raises(StopIteration):
        next(body)


def test_close_before_iteration_closes_source_without_a_thread():
    started = threading.Event()

    def source():
        started.set()
        yield b"never"

    generator = source()
    ended = []
    KeepAlive(generator, BEAT, on_end=lambda: ended.append(1)).close()
    assert ended == [1] and not started.is_set()
    with pytest.raises(StopIteration):
        next(generator)


def test_slow_consumer_gets_everything_in_order():
    frames = [str(i).encode() for i in range(QUEUE_SIZE * 3)]
    body = KeepAlive(Source(frames), BEAT, interval=5)
    received = []
    for item in body:
        received.append(item)
        if len(received) == 1:
            time.sleep(0.2)  # the reader fills the queue and waits
    assert received == frames


@pytest.fixture
def silent_server():
    """A raw HTTP server that sends headers and one chunk, then goes quiet."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    accepted: list[socket.socket] = []

    def serve():
        conn, _ = listener.accept()
        accepted.append(conn)
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    done.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_socket_waker_unblocks_a_reader_of_a_silent_response(silent_server):
    with requests.Session() as session:
        response = session.get(silent_server, stream=True, timeout=(5, 30))
        waker = SocketWaker(response)
        chunks = iter(response.iter_content(chunk_size=None))
        assert next(chunks) == b"hello"
        outcome: list[object] = []

        def read_rest():
            try:
                outcome.append(list(chunks))
            except requests.RequestException as exc:
                outcome.append(exc)

        reader = threading.Thread(target=read_rest)
        reader.start()
        time.sleep(0.2)
        assert reader.is_alive()  # blocked on the silent socket
        started = time.monotonic()
        waker.wake()
        reader.join(5)
        assert not reader.is_alive() and time.monotonic() - started < 1
        assert outcome and isinstance(outcome[0], requests.RequestException)
        waker.close()
        waker.close()
        response.close()


def test_socket_waker_on_a_closed_response_does_nothing(silent_server):
    with requests.Session() as session:
        response = session.get(silent_server, stream=True, timeout=(5, 30))
        response.close()
        waker = SocketWaker(response)
        waker.wake()
        waker.close()
