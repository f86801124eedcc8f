"""``WholeBody``: a sized request body, asked of the server in one read."""

from __future__ import annotations

import io

import pytest
from werkzeug.exceptions import ClientDisconnected
from werkzeug.test import EnvironBuilder
from werkzeug.wsgi import LimitedStream

from antigravity_proxy.http import GatewayRequest, WholeBody


class ServerInput:
    """A server's ``wsgi.input``: hands out at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int = 1 << 30, error: bool = False):
        self.data = io.BytesIO(data)
        self.step = step
        self.error = error
        self.asked: list[int] = []

    def read(self, size: int, /) -> bytes:
        self.asked.append(size)
        if self.error:
            raise OSError("connection reset")
        return self.data.read(min(size, self.step))


def test_the_rest_is_asked_for_at_once():
    server = ServerInput(b"x" * 3_000_000)
    assert WholeBody(server, 3_000_000).read() == b"x" * 3_000_000
    assert server.asked == [3_000_000]


def test_a_server_that_hands_out_less_is_asked_again_for_the_rest():
    server = ServerInput(b"abcdefghij", step=4)
    body = WholeBody(server, 10)
    assert body.read() == b"abcdefghij"
    assert server.asked == [10, 6, 2]
    assert body.read() == b""


def test_never_past_the_length():
    server = ServerInput(b"abcdefghij")
    body = WholeBody(server, 6)
    assert body.read(4) == b"abcd"
    assert body.tell() == 4
    assert body.read() == b"ef"
    assert body.read(3) == b""
    assert server.asked == [4, 2]


@pytest.mark.parametrize("server", [ServerInput(b"abc"), ServerInput(b"", error=True)])
def test_a_client_that_stops_early_is_disconnected(server):
    with pytest.raises(ClientDisconnected):
        WholeBody(server, 10).read()


def test_sized_requests_read_through_it_and_terminated_ones_do_not():
    sized = EnvironBuilder(method="POST", data=b"{}").get_environ()
    assert isinstance(GatewayRequest(sized).stream, WholeBody)
    assert GatewayRequest(sized).get_data() == b"{}"
    terminated = {**sized, "wsgi.input_terminated": True}
    request = GatewayRequest(terminated)
    request.max_content_length = 100
    assert isinstance(request.stream, LimitedStream)
