"""Stream lifecycle under real gunicorn: a client that leaves while the upstream
is silent (a thinking model) gets the upstream closed within 1 s, for the OpenAI
chat, Responses, Anthropic and Gemini streams (the fake notes when the gateway
closed the connection during its pause)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack
from tests.fakes.cloudcode import Stream

pytestmark = pytest.mark.e2e

TEXT = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]}
CHAT = {"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]}
CASES = {
    "openai-chat": ("/v1/chat/completions", {**CHAT, "stream": True}),
    "openai-responses": (
        "/v1/responses",
        {"model": "gemini-3-flash", "input": "hi", "stream": True},
    ),
    "anthropic": ("/v1/messages", {**CHAT, "max_tokens": 50, "stream": True}),
    "gemini": (
        "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("lifecycle-e2e") / "home"
    with sdk_stack(home, workers=1, threads=4) as stack:
        yield stack


def _open_request(base_url: str, path: str, body: dict) -> socket.socket:
    """POST over a raw socket, so the test decides when the client leaves."""
    address = urlsplit(base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=5)
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nx-api-key: {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("case", sorted(CASES))
def test_client_leaving_a_silent_stream_closes_the_upstream_within_1s(stack, case):
    fake, gateway = stack
    fake.reset()
    path, body = CASES[case]
    # The upstream answers at once (a comment), then thinks for 20 s.
    fake.script(Stream([b": thinking\n\n", TEXT], delay=20.0))
    sock = _open_request(gateway.base_url, path, body)
    _wait_for(lambda: fake.stream_outcomes == ["open"])
    time.sleep(0.4)  # the gateway now waits on the silent upstream
    left_at = time.monotonic()
    sock.close()
    _wait_for(lambda: fake.stream_closed_at != [None])
    (closed_at,) = fake.stream_closed_at
    assert closed_at - left_at < 1.0, closed_at - left_at
    assert fake.stream_outcomes == ["aborted"]
