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


# (route id, request line, auth header, protocol of the route's error body)
ROUTES = [
    ("openai", b"POST /v1/chat/completions", b"Authorization: Bearer ", "openai"),
    ("anthropic", b"POST /v1/messages", b"x-api-key: ", "anthropic"),
    (
        "gemini",
        b"POST /v1beta/models/gemini-3-flash:generateContent",
        b"x-goog-api-key: ",
        "gemini",
    ),
    (
        "gemini-v1",
        b"POST /v1/models/gemini-3-flash:generateContent",
        b"x-goog-api-key: ",
        "gemini",
    ),
    ("mcp", b"POST /mcp/web_reader/mcp", b"Authorization: Bearer ", "mcp"),
]
BODY = b'{"model":"gemini-3-flash"}'
LENGTH = b"Content-Length: %d\r\n" % len(BODY)
# (kind, extra header lines, status): each malformed in its own way.
MALFORMED = [
    ("control-char-content-type", b"Content-Type: application/json\x01\r\n", 400),
    ("control-char-other-header", b"X-Note: a\x00b\r\n", 400),
    ("header-name-with-space", b"Bad Name: x\r\n", 400),
    ("header-line-without-colon", b"NoColonHere\r\n", 400),
    ("obsolete-folding", b"X-Folded: a\r\n  b\r\n", 400),
    ("two-content-lengths", LENGTH, 400),
    ("gzip-not-chunked", b"Transfer-Encoding: gzip\r\n", 400),
    ("unknown-transfer-coding", b"Transfer-Encoding: frobnicate\r\n", 501),
    ("header-line-too-long", b"X-Long: " + b"a" * 9000 + b"\r\n", 431),
    ("too-many-headers", b"".join(b"X-H%d: 1\r\n" % i for i in range(120)), 431),
]


def request_head(line: bytes, auth: bytes, extra: bytes) -> bytes:
    """A request's head before its blank line: ``line``, ``Host``, the gateway key
    after ``auth``, ``Connection: close``, then the ``extra`` header lines."""
    return (
        line + b" HTTP/1.1\r\nHost: x\r\n" + auth + API_KEY.encode() + b"\r\n"
        b"Connection: close\r\n" + extra
    )


def exchange_raw(base_url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is; the status, headers and body that came back."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def protocol_error(protocol: str, body: dict) -> tuple[str, str | None]:
    """(the error's kind in the protocol's words, the request id it names)."""
    if protocol == "anthropic":
        assert body["type"] == "error"
        return body["error"]["type"], body.get("request_id")
    if protocol == "mcp":
        assert body["jsonrpc"] == "2.0"
        return str(body["error"]["code"]), body["error"]["data"]["request_id"]
    error = body["error"]
    if protocol == "gemini":
        return error["status"], error["details"][0]["requestId"]
    named = error["message"].rsplit("(request id: ", 1)[-1].removesuffix(")")
    assert set(error) == {"message", "type", "param", "code"}
    return error["type"], named


EXPECTED_KIND = {
    ("openai", 400): "invalid_request_error",
    ("openai", 431): "invalid_request_error",
    ("openai", 501): "api_error",
    ("anthropic", 400): "invalid_request_error",
    ("anthropic", 431): "request_too_large",
    ("anthropic", 501): "api_error",
    ("gemini", 400): "INVALID_ARGUMENT",
    ("gemini", 431): "INVALID_ARGUMENT",
    ("gemini", 501): "UNIMPLEMENTED",
    ("mcp", 400): "-32600",
    ("mcp", 431): "-32600",
    ("mcp", 501): "-32603",
}


@pytest.mark.parametrize(
    ("kind", "extra", "status"), MALFORMED, ids=[c[0] for c in MALFORMED]
)
@pytest.mark.parametrize(
    ("route", "line", "auth", "protocol"), ROUTES, ids=[r[0] for r in ROUTES]
)
def test_malformed_headers_get_the_routes_protocol_error(
    stack, route, line, auth, protocol, kind, extra, status
):
    """gunicorn refuses these while parsing the head, before the app runs;
    the answer is still the route's own JSON error, never gunicorn's HTML."""
    _, gateway = stack
    head = request_head(line, auth, extra + LENGTH) + b"\r\n"
    got, headers, body = exchange_raw(gateway.base_url, head + BODY)
    assert got == status, body[:300]
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    rid = headers["X-Request-Id"]
    assert rid.startswith("req_")
    assert protocol_error(protocol, json.loads(body)) == (
        EXPECTED_KIND[protocol, status],
        rid,
    )
    assert b"<html" not in body.lower()


def test_control_character_in_content_type_is_the_protocols_400(stack):
    _, gateway = stack
    head = request_head(
        b"POST /v1/chat/completions",
        b"Authorization: Bearer ",
        b"Content-Type: application/json\x01\r\n" + LENGTH,
    )
    status, _, body = exchange_raw(gateway.base_url, head + b"\r\n" + BODY)
    assert status == 400
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


def test_a_refusal_has_an_access_line_and_keeps_serving(stack):
    _, gateway = stack
    head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\x01\r\n" + LENGTH + b"\r\n"
    )
    status, headers, _ = exchange_raw(gateway.base_url, head + BODY)
    assert status == 400
    rid = headers["X-Request-Id"]
    lines = [line for line in gateway.log_text().splitlines() if rid in line]
    assert any("access: POST /v1/messages 400 anthropic" in line for line in lines)
    assert any("refused a malformed request" in line for line in lines)
    health = requests.get(f"{gateway.base_url}/healthz", headers=AUTH, timeout=10)
    assert health.status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("garbage-request-line", b"\x01\x02 nonsense\r\n\r\n", 400),
        ("bad-http-version", b"GET /v1/messages HTTP/9.x\r\nHost: x\r\n\r\n", 400),
        ("request-line-too-long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
    ids=["garbage-request-line", "bad-http-version", "request-line-too-long"],
)
def test_request_line_errors_are_json_too(stack, name, data, status):
    """Before a route is known the format is OpenAI's; once the path is, its own."""
    _, gateway = stack
    got, headers, body = exchange_raw(gateway.base_url, data)
    assert got == status, body[:300]
    parsed = json.loads(body)
    if name == "bad-http-version":
        assert parsed["request_id"] == headers["X-Request-Id"]
    else:
        assert parsed["error"]["message"].endswith(f"{headers['X-Request-Id']})")


def test_bad_chunk_size_is_the_protocols_400(stack):
    """Body framing errors surface while the app reads the body: same format."""
    _, gateway = stack
    head = request_head(
        b"POST /v1beta/models/gemini-3-flash:generateContent",
        b"x-goog-api-key: ",
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    )
    chunked = b"\r\nzz\r\n{}\r\n0\r\n\r\n"
    status, headers, body = exchange_raw(gateway.base_url, head + chunked)
    assert status == 400, body[:300]
    error = json.loads(body)["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["requestId"] == headers["X-Request-Id"]
