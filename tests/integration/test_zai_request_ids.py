"""z.ai's error answers reach the client naming our request, as our own errors do.

z.ai is stubbed with ``responses``; each relayed error body must carry the id
of the response's ``X-Request-Id`` header (Anthropic: top-level ``request_id``;
MCP: ``error.data.request_id``) with a ``Content-Length`` that fits the new
body, while answers that are not errors, and streams, pass untouched.
"""

from __future__ import annotations

import json

import pytest
import responses
from werkzeug.test import Client

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from tests.conftest import API_KEY, write_config

ZAI = "https://zai.test"
ANTHROPIC_UPSTREAM = {
    "/v1/messages": "/api/anthropic/v1/messages",
    "/v1/messages/count_tokens": "/api/anthropic/v1/messages/count_tokens",
}
MCP_ROUTES = ["web_search_prime", "web_reader"]
MESSAGE = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
ACCEPT = {"Accept": "application/json, text/event-stream"}
STATUSES = {400: "invalid_request_error", 429: "rate_limit_error", 503: "api_error"}
ANTHROPIC_CALLS = {
    "messages": ("/v1/messages", False),
    "messages stream": ("/v1/messages", True),
    "count_tokens": ("/v1/messages/count_tokens", False),
}


@pytest.fixture
def gateway(tmp_path) -> Client:
    zai = {
        "enabled": True,
        "api_key": "zai-key",
        "dispatch_mode": "exclusive",
        "base_url": f"{ZAI}/api/anthropic",
        "mcp_base_url": f"{ZAI}/api/mcp",
        "mcp": {
            "enabled": True,
            "web_search_enabled": True,
            "web_reader_enabled": True,
        },
    }
    data = {"proxy": {"api_key": API_KEY, "auth_mode": "off"}, "zai": zai}
    config = load_config(write_config(tmp_path / "home", data), env={})
    return Client(create_app(config, background=False))


@pytest.fixture
def zai():
    with responses.RequestsMock() as mock:
        yield mock


def anthropic_error(status: int, **extra) -> dict:
    error = {"type": STATUSES.get(status, "api_error"), "message": f"z.ai {status}"}
    return {"type": "error", "error": error, **extra}


def post_anthropic(gateway, path: str, stream: bool, headers=None):
    body = {**MESSAGE, "stream": True} if stream else MESSAGE
    return gateway.post(path, json=body, headers=headers or {})


def assert_length_fits(response) -> None:
    assert response.headers["Content-Length"] == str(len(response.get_data()))


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize(
    ("path", "stream"), ANTHROPIC_CALLS.values(), ids=ANTHROPIC_CALLS.keys()
)
def test_anthropic_zai_error_names_our_request(gateway, zai, path, stream, status):
    zai.post(
        ZAI + ANTHROPIC_UPSTREAM[path], json=anthropic_error(status), status=status
    )
    response = post_anthropic(gateway, path, stream)
    assert response.status_code == status
    request_id = response.headers["X-Request-Id"]
    assert response.json == anthropic_error(status, request_id=request_id)
    assert response.mimetype == "application/json"
    assert_length_fits(response)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("server", MCP_ROUTES)
def test_mcp_zai_rpc_error_names_our_request(gateway, zai, server, status):
    error = {"code": -32000, "message": f"z.ai {status}"}
    upstream = {"jsonrpc": "2.0", "id": 1, "error": error}
    zai.post(f"{ZAI}/api/mcp/{server}/mcp", json=upstream, status=status)
    response = gateway.post(f"/mcp/{server}/mcp", json=INIT, headers=ACCEPT)
    assert response.status_code == status
    request_id = response.headers["X-Request-Id"]
    data = {"request_id": request_id}
    assert response.json == {**upstream, "error": {**error, "data": data}}
    assert_length_fits(response)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("server", MCP_ROUTES)
def test_mcp_zai_error_not_json_rpc_is_wrapped_with_our_request(
    gateway, zai, server, status
):
    zai.post(f"{ZAI}/api/mcp/{server}/mcp", body="<html>busy</html>", status=status)
    response = gateway.post(f"/mcp/{server}/mcp", json=INIT, headers=ACCEPT)
    assert response.status_code == status
    error = response.json["error"]
    assert error["message"] == f"z.ai MCP answered HTTP {status}: <html>busy</html>"
    assert error["data"] == {"request_id": response.headers["X-Request-Id"]}
    assert_length_fits(response)


def test_anthropic_zai_request_id_kept_as_upstream_request_id(gateway, zai):
    upstream = anthropic_error(529, request_id="req_zai_upstream_1")
    zai.post(ZAI + ANTHROPIC_UPSTREAM["/v1/messages"], json=upstream, status=529)
    response = post_anthropic(gateway, "/v1/messages", False)
    assert response.status_code == 529
    assert response.json == {
        **anthropic_error(529),
        "request_id": response.headers["X-Request-Id"],
        "upstream_request_id": "req_zai_upstream_1",
    }


def test_mcp_zai_request_id_kept_as_upstream_request_id(gateway, zai):
    error = {"code": -32603, "message": "x", "data": {"request_id": "zai-7"}}
    upstream = {"jsonrpc": "2.0", "id": 1, "error": error}
    zai.post(f"{ZAI}/api/mcp/web_reader/mcp", json=upstream, status=500)
    response = gateway.post("/mcp/web_reader/mcp", json=INIT, headers=ACCEPT)
    data = {
        "request_id": response.headers["X-Request-Id"],
        "upstream_request_id": "zai-7",
    }
    assert response.json["error"] == {**error, "data": data}


def test_zai_error_names_the_clients_own_request_id(gateway, zai):
    zai.post(
        ZAI + ANTHROPIC_UPSTREAM["/v1/messages"], json=anthropic_error(429), status=429
    )
    headers = {"X-Request-Id": "client-req-42"}
    response = post_anthropic(gateway, "/v1/messages", False, headers)
    assert response.headers["X-Request-Id"] == "client-req-42"
    assert response.json["request_id"] == "client-req-42"


UNTOUCHED = {
    "html error": (b"<html>502 Bad Gateway</html>", 502, "text/html", False),
    "empty error": (b"", 502, "text/html", False),
    "2xx in the error shape": (
        json.dumps(anthropic_error(200), indent=3).encode(),
        200,
        "application/json",
        False,
    ),
    "2xx stream with an error event": (
        b'event: error\ndata: {"type": "error", "error": {"type": "x"}}\n\n',
        200,
        "text/event-stream",
        True,
    ),
}


@pytest.mark.parametrize(
    ("content", "status", "content_type", "stream"),
    UNTOUCHED.values(),
    ids=UNTOUCHED.keys(),
)
def test_anthropic_zai_answer_passes_as_it_came(
    gateway, zai, content, status, content_type, stream
):
    """Not JSON: nothing to name the request in; a 2xx or a stream: never parsed."""
    zai.post(
        ZAI + ANTHROPIC_UPSTREAM["/v1/messages"],
        body=content,
        status=status,
        content_type=content_type,
    )
    response = post_anthropic(gateway, "/v1/messages", stream)
    assert response.status_code == status
    assert response.get_data() == content
    assert response.mimetype == content_type
    if not stream:
        assert_length_fits(response)
