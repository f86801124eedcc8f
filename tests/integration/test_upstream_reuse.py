"""Upstream connections are reused: a finished call, streamed or not, gives its
connection back, and the next call of any thread of the worker takes it.

Against Google every new connection is a TCP and TLS handshake before the first
byte. The fake here keeps connections open (``fakes/keepalive.py``) and records
each call's client port, so one port for every generation call means one
connection served them all.
"""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest
import requests
from werkzeug.test import Client

from antigravity_proxy.config import load_config
from antigravity_proxy.upstream.watch import WatchedBody
from antigravity_proxy.wsgi import create_app
from tests.conftest import write_config
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.keepalive import serve_keepalive
from tests.upstream_env import seed_account, upstream_section

HI = [{"role": "user", "content": "hi"}]
ANTHROPIC = {"anthropic-version": "2023-06-01"}
# name -> (path, body, headers)
CALLS = {
    "anthropic": ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": HI}, ANTHROPIC),  # noqa: E501
    "openai-chat": ("/v1/chat/completions", {"model": "gemini-3-flash", "messages": HI}, {}),  # noqa: E501
    "openai-completions": ("/v1/completions", {"model": "gemini-3-flash", "prompt": "hi"}, {}),  # noqa: E501
    "openai-responses": ("/v1/responses", {"model": "gemini-3-flash", "input": "hi"}, {}),  # noqa: E501
    "gemini": ("/v1beta/models/gemini-3-flash:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, {}),  # noqa: E501
}  # fmt: skip
STREAM_PATHS = {"gemini": "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse"}


@pytest.fixture
def stack(tmp_path):
    fake = FakeCloudCode()
    with serve_keepalive(fake) as served:
        home = tmp_path / "home"
        seed_account(home, fake, "a")
        data = {
            "proxy": {"api_key": "sk-test", "auth_mode": "off"},
            "upstream": upstream_section(served.base_url, ("/v1internal",)),
        }
        app = create_app(
            load_config(write_config(home, data), env={}), background=False
        )
        yield Client(app), fake


def generation_ports(fake: FakeCloudCode) -> list[int]:
    return [r.peer_port for r in fake.requests if "GenerateContent" in r.path]


def call(client: Client, name: str, stream: bool) -> bytes:
    path, body, headers = CALLS[name]
    if stream and name in STREAM_PATHS:
        path = STREAM_PATHS[name]
    elif stream:
        body = {**body, "stream": True}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_data()
    response.close()
    return data


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("name", list(CALLS))
def test_one_connection_serves_call_after_call(stack, name, stream):
    client, fake = stack
    for _ in range(3):
        assert call(client, name, stream)
    ports = generation_ports(fake)
    assert len(ports) == 3 and len(set(ports)) == 1


def test_a_connection_freed_on_one_thread_serves_another(stack):
    client, fake = stack
    for _ in range(3):
        worker = threading.Thread(target=call, args=(client, "anthropic", True))
        worker.start()
        worker.join(timeout=30)
    ports = generation_ports(fake)
    assert len(ports) == 3 and len(set(ports)) == 1


def test_a_stopped_stream_is_not_waited_for(tmp_path):
    """An upstream that goes on sending after the reader is done: ``release``
    reads for its grace only, then says the body did not end (the caller closes
    the connection)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
            )
            for _ in range(40):  # a trickle that would outlast any grace
                time.sleep(0.05)
                try:
                    conn.sendall(b"1\r\nx\r\n")
                except OSError:
                    break
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        with requests.get(f"http://127.0.0.1:{port}/", stream=True, timeout=5) as up:
            body = WatchedBody(up)
            assert next(iter(body)) == b"abc"
            started = time.monotonic()
            assert body.release(grace=0.2) is False
            assert time.monotonic() - started < 1.5  # generous: the box is shared


def test_a_body_without_a_socket_is_read_to_its_end():
    response = requests.Response()
    response.raw = io.BytesIO(b"rest")
    response.status_code = 200
    body = WatchedBody(response)
    assert body.release() is True
