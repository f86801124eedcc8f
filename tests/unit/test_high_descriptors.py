"""Socket checks on descriptors past 1024, where ``select.select`` refuses.

A worker holding hundreds of streams has a client and an upstream socket for
each, so its descriptors pass 1024; the checks that notice a gone client and an
upstream's next bytes must work there too.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from antigravity_proxy.observer import client_socket_gone
from antigravity_proxy.upstream import watch
from tests.fakes.cloudcode_wire import pause

HIGH_FD = 1500


@pytest.fixture
def high_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair whose first socket has a descriptor past 1024."""
    left, right = socket.socketpair()
    fd = os.dup2(left.fileno(), HIGH_FD)
    left.close()
    high = socket.socket(fileno=fd)
    try:
        yield high, right
    finally:
        high.close()
        right.close()


def test_client_gone_is_seen_past_1024(high_pair):
    high, peer = high_pair
    assert not client_socket_gone(high)
    peer.close()
    assert client_socket_gone(high)


def test_upstream_bytes_are_seen_past_1024(high_pair):
    high, peer = high_pair
    transport = _transport(high)
    assert transport.ready(0.01) is watch._QUIET
    peer.sendall(b"data")
    assert transport.ready(0.01) is watch._UPSTREAM


def test_a_client_leaving_ends_the_wait_past_1024(high_pair):
    high, peer = high_pair
    upstream, _other = socket.socketpair()
    with upstream, _other:
        transport = _transport(upstream)
        assert transport.ready(0.01, high) is watch._QUIET
        peer.close()
        assert transport.ready(30.0, high) is watch._CLIENT


def _transport(sock: socket.socket) -> watch._Transport:
    transport = watch._Transport.__new__(watch._Transport)
    transport.sock, transport.fp, transport.limit = sock, sock.makefile("rb"), None
    return transport


def test_fake_notices_a_gone_reader_past_1024(high_pair):
    high, peer = high_pair
    peer.close()
    assert pause(5.0, high) is False
