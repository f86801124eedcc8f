"""Client text under real gunicorn: headers, log lines and Content-Type.

What the WSGI-level tests cannot see: gunicorn refuses a response header with
CR/LF (its HTML 500 after the upstream call was paid for) and a request header
with control characters (its HTML 400, before the app runs); and the log file
is the one the CLI configured.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

import pytest
import requests

from tests.conftest import API_KEY
from tests.e2e.conftest import sdk_stack

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {API_KEY}"}
EVIL = "gemini-3-flash\r\nX-Injected: 1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("hostile") / "home"
    extra = {"model_mapping": {"evil*": EVIL}}
    with sdk_stack(home, extra=extra, workers=1, threads=4) as (fake, gateway):
        yield fake, gateway


def raw_request(base_url: str, head: bytes, body: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_mapped_model_header_with_crlf_is_escaped_not_a_500(stack):
    _, gateway = stack
    body = {"model": "evil-1", "messages": [{"role": "user", "content": "hi"}]}
    response = requests.post(
        f"{gateway.base_url}/v1/chat/completions", json=body, headers=AUTH, timeout=30
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["X-Mapped-Model"] == "gemini-3-flash%0D%0AX-Injected: 1"
    assert "X-Injected" not in response.headers


def test_hostile_model_ids_forge_no_log_line(stack):
    _, gateway = stack
    chat = {"model": EVIL, "messages": [{"role": "user", "content": "hi"}]}
    long_id = {"model": "m" * 200_000, "messages": [{"role": "user", "content": "x"}]}
    for body in (chat, long_id):
        response = requests.post(
            f"{gateway.base_url}/v1/chat/completions",
            json=body,
            headers=AUTH,
            timeout=30,
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "model"
    path = quote("gemini\r\nX-Injected: 1", safe="")
    response = requests.post(
        f"{gateway.base_url}/v1beta/models/{path}:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": API_KEY},
        timeout=30,
    )
    assert response.status_code == 400
    lines = gateway.log_text().splitlines()
    assert not [line for line in lines if line.startswith("X-Injected")]
    assert max(len(line) for line in lines) < 20_000


@pytest.mark.xfail(
    strict=True,
    reason="gunicorn refuses a control character in a request header while "
    "parsing, before the app runs, and writes its own HTML 400; the protocol "
    "error body needs gunicorn's handle_error overridden in the custom worker "
    "(antigravity_proxy/worker.py, h-server's part of issue 10)",
)
def test_control_character_in_content_type_is_the_protocols_400(stack):
    _, gateway = stack
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + API_KEY.encode() + b"\r\n"
        b"Connection: close\r\nContent-Type: application/json\x01\r\n"
    )
    answer = raw_request(gateway.base_url, head, b'{"model":"gemini-3-flash"}')
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400"
    body = rest.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
