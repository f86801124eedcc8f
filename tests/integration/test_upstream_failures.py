"""An upstream that fails after answering, on every non-stream route of every protocol.

Cut mid-body, too slow, or a 2xx with nothing readable in it (broken JSON, an HTML
page): each gives the same status in every protocol (502, a timeout 504), in that
protocol's own error body, never a 200 with an empty answer. And the MCP proxies
never hand a JSON-RPC client an error body that is not JSON-RPC.
"""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from antigravity_proxy.config import load_config
from antigravity_proxy.wsgi import create_app
from tests.conftest import API_KEY, write_config
from tests.fakes.cloudcode import CutStream, Fault, Stream, serve
from tests.integration.test_mcp_api import ACCEPT, INIT, MCP_ON
from tests.upstream_env import seed_account, upstream_section

HI = [{"role": "user", "content": "hi"}]
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
# route → (protocol, path, body, the Cloud Code method it calls)
ROUTES = {
    "openai-chat": (
        "openai",
        "/v1/chat/completions",
        {"model": "gemini-3-flash", "messages": HI},
        "streamGenerateContent",
    ),
    "openai-completions": (
        "openai",
        "/v1/completions",
        {"model": "gemini-3-flash", "prompt": "hi"},
        "streamGenerateContent",
    ),
    "openai-responses": (
        "openai",
        "/v1/responses",
        {"model": "gemini-3-flash", "input": "hi"},
        "streamGenerateContent",
    ),
    "openai-images": (
        "openai",
        "/v1/images/generations",
        {"model": "gemini-3-pro-image", "prompt": "a cat"},
        "generateContent",
    ),
    "anthropic-messages": (
        "anthropic",
        "/v1/messages",
        {"model": "gemini-3-flash", "max_tokens": 64, "messages": HI},
        "streamGenerateContent",
    ),
    "anthropic-count-tokens": (
        "anthropic",
        "/v1/messages/count_tokens",
        {"model": "gemini-3-flash", "messages": HI},
        "countTokens",
    ),
    "gemini-generate": (
        "gemini",
        "/v1beta/models/gemini-3-flash:generateContent",
        GEMINI_BODY,
        "streamGenerateContent",
    ),
    "gemini-count-tokens": (
        "gemini",
        "/v1beta/models/gemini-3-flash:countTokens",
        GEMINI_BODY,
        "countTokens",
    ),
}
CHUNK = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "partial"}]}, "index": 0}
    ]
}
HTML = Fault(200, b"<html><body>502 Bad Gateway</body></html>")
BROKEN_SSE = Fault(200, b'data: {"response": {"candidates": [\n\n')
# failure → (steps for a generation call, steps for a unary call, status)
FAILURES = {
    "cut": ([CutStream([CHUNK, CHUNK], after=1)], None, 502),
    "stalled": ([Stream([CHUNK], initial_delay=3.0)], None, 504),
    "html": ([HTML], [HTML], 502),
    "broken-json": ([BROKEN_SSE], [Fault(200, b'{"totalTokens": ')], 502),
}
# Anthropic's and Gemini's own words for "upstream failed" and "timed out".
TYPES = {
    ("openai", 502): "api_error",
    ("openai", 504): "api_error",
    ("anthropic", 502): "api_error",
    ("anthropic", 504): "api_error",
    ("gemini", 502): "INTERNAL",
    ("gemini", 504): "DEADLINE_EXCEEDED",
}


def protocol_error(protocol: str, body: dict) -> str:
    if protocol == "anthropic":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
        return body["error"]["type"]
    if protocol == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
        return body["error"]["type"]
    assert {"code", "message", "status"} <= set(body["error"])
    return body["error"]["status"]


CASES = [
    (route, failure)
    for route in ROUTES
    for failure in FAILURES
    # countTokens is one JSON answer: there is no stream to cut or stall.
    if ROUTES[route][3] != "countTokens" or FAILURES[failure][1] is not None
]


@pytest.mark.parametrize(("route", "failure"), CASES)
def test_non_stream_upstream_failure_is_the_protocols_own_error(
    gateway, home, fake_upstream, route, failure
):
    protocol, path, body, method = ROUTES[route]
    generation, unary, status = FAILURES[failure]
    if method == "countTokens":
        fake_upstream.script(*unary * 3, method="countTokens")
    elif method == "generateContent" and unary is not None:
        fake_upstream.script(*unary * 3)
    else:
        fake_upstream.script(*generation * 3)
    seed_account(home, fake_upstream, "a")
    upstream = upstream_section(fake_upstream.base_url)
    client = gateway({"upstream": {**upstream, "read_timeout": 1}})
    response = client.post(path, json=body)
    text = response.get_data(as_text=True)
    if route == "anthropic-count-tokens":
        # Documented: a failed upstream count is answered with the local estimate.
        assert response.status_code == 200, text
        assert response.json["input_tokens"] > 0
        assert len(fake_upstream.calls(":countTokens")) == 1
        return
    assert response.status_code == status, text
    assert response.mimetype == "application/json"
    assert protocol_error(protocol, response.json) == TYPES[(protocol, status)]
    assert "Traceback" not in text


def mcp_gateway(tmp_path, base: str) -> Client:
    zai = {"enabled": True, "api_key": "zai-key", "mcp_base_url": base, "mcp": MCP_ON}
    data = {"proxy": {"api_key": API_KEY, "auth_mode": "off"}, "zai": zai}
    config = load_config(write_config(tmp_path / "home", data), env={})
    return Client(create_app(config, background=False))


def zai_mcp_answering(status: int, content: bytes, content_type: str):
    def app(environ, start_response):
        return Response(content, status=status, content_type=content_type)(
            environ, start_response
        )

    return app


RPC_ERROR = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}}
ZAI_ANSWERS = [
    (
        401,
        b'{"error": {"code": 401, "message": "bad key", "status": "UNAUTHENTICATED"}}',
    ),
    (429, b'{"code": 1302, "msg": "rate limited", "success": false}'),
    (502, b"<html>bad gateway</html>"),
    (404, b"not found"),
    (500, b""),
]


@pytest.mark.parametrize(("status", "content"), ZAI_ANSWERS)
@pytest.mark.parametrize("server", ["web_search_prime", "web_reader"])
def test_mcp_proxy_error_answers_are_json_rpc(tmp_path, status, content, server):
    answering = zai_mcp_answering(status, content, "application/json")
    with serve(answering) as base:
        client = mcp_gateway(tmp_path, base)
        response = client.post(f"/mcp/{server}/mcp", json=INIT, headers=ACCEPT)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.json
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert set(body["error"]) == {"code", "message", "data"}
    assert body["error"]["data"] == {"request_id": response.headers["X-Request-Id"]}
    assert isinstance(body["error"]["code"], int)
    assert body["error"]["message"].startswith(f"z.ai MCP answered HTTP {status}")


def test_mcp_proxy_passes_a_json_rpc_error_through(tmp_path):
    content = json.dumps(RPC_ERROR).encode()
    with serve(zai_mcp_answering(400, content, "application/json")) as base:
        client = mcp_gateway(tmp_path, base)
        response = client.post("/mcp/web_reader/mcp", json=INIT, headers=ACCEPT)
    assert response.status_code == 400
    data = {"request_id": response.headers["X-Request-Id"]}
    assert response.json == {**RPC_ERROR, "error": {**RPC_ERROR["error"], "data": data}}
