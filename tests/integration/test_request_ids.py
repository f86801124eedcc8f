"""X-Request-Id on every response (errors, 401s, preflights), kept when sane,
named in error bodies where the protocol has a place for it."""

from __future__ import annotations

import pytest

from antigravity_proxy.auth import SHELL_HANDLER
from antigravity_proxy.routing import DEFAULT_ROUTES_FILE, load_routes_file

ROUTES = [r for r in load_routes_file(DEFAULT_ROUTES_FILE) if r.enabled]
# Routes a strict gateway serves without the key (strict covers /healthz).
PUBLIC = {SHELL_HANDLER}


def _concrete(path: str) -> str:
    return path.replace("<model>", "gemini-3-flash:generateContent")


@pytest.mark.parametrize(
    "route", ROUTES, ids=[f"{r.methods[0]} {r.path}" for r in ROUTES]
)
@pytest.mark.parametrize("auth_mode", ["strict", "off"])
def test_every_route_answers_with_a_request_id(make_client, route, auth_mode):
    """Every route, with the key refused (401) and with a bad body (4xx/2xx)."""
    client = make_client({"proxy": {"auth_mode": auth_mode}})
    method = route.methods[0] if route.methods[0] != "ANY" else "POST"
    response = client.open(_concrete(route.path), method=method, data=b"{")
    rid = response.headers.get("X-Request-Id", "")
    assert rid.startswith("req_") and len(rid) == 36, (response.status, rid)
    if auth_mode == "strict" and route.handler not in PUBLIC:
        assert response.status_code == 401


@pytest.mark.parametrize(
    "path,method",
    [("/nowhere", "GET"), ("/v1/messages", "GET"), ("/v1beta/nope", "DELETE")],
)
def test_routing_misses_carry_a_request_id(client, path, method):
    response = client.open(path, method=method)
    assert response.status_code in (404, 405)
    assert response.headers["X-Request-Id"].startswith("req_")


def test_cors_preflight_carries_a_request_id(client):
    response = client.options(
        "/v1/messages",
        headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"},
    )
    assert response.headers["X-Request-Id"].startswith("req_")


def test_a_sane_client_id_is_kept(make_client):
    client = make_client({"proxy": {"auth_mode": "off"}})
    sent = "trace-01HZX.abc:42/x=1"
    response = client.get("/healthz", headers={"X-Request-Id": sent})
    assert response.headers["X-Request-Id"] == sent


@pytest.mark.parametrize(
    "sent",
    ["", "a" * 129, "has space", "new\nline", 'quote"d', "-starts-with-dash", "é"],
)
def test_an_unsafe_client_id_is_replaced(make_client, sent):
    client = make_client({"proxy": {"auth_mode": "off"}})
    environ = {"HTTP_X_REQUEST_ID": sent}
    response = client.get("/healthz", environ_overrides=environ)
    rid = response.headers["X-Request-Id"]
    assert rid != sent and rid.startswith("req_")


def test_ids_differ_between_requests(client):
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


def test_error_bodies_name_the_request_id(make_client):
    client = make_client({"proxy": {"auth_mode": "strict"}})
    sent = {"X-Request-Id": "abc-123", "x-api-key": "wrong"}
    anthropic = client.post("/v1/messages", headers=sent, json={})
    assert anthropic.json["request_id"] == "abc-123"
    gemini = client.get("/v1beta/models", headers=sent)
    assert gemini.json["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "abc-123"}
    ]
    mcp = client.post("/mcp/web_reader/mcp", headers=sent, json={})
    assert mcp.json["error"]["data"] == {"request_id": "abc-123"}
    openai = client.post("/v1/chat/completions", headers=sent, json={})
    assert openai.headers["X-Request-Id"] == "abc-123"
    assert set(openai.json["error"]) == {"message", "type", "param", "code"}


def test_handler_errors_name_the_request_id(make_client):
    client = make_client({"proxy": {"auth_mode": "off"}})
    response = client.post(
        "/v1/messages", headers={"X-Request-Id": "rid-7"}, json={"model": 3}
    )
    assert response.status_code == 400
    assert response.json["request_id"] == "rid-7"


def id_in_body(body: dict) -> tuple[str, str | None]:
    """(the protocol the error body is written in, the request id it names)."""
    if body.get("jsonrpc") == "2.0":
        return "mcp", (body["error"].get("data") or {}).get("request_id")
    if body.get("type") == "error":
        return "anthropic", body.get("request_id")
    error = body["error"]
    if "status" in error:
        details = error.get("details") or [{}]
        return "gemini", details[0].get("requestId")
    message = error["message"]
    found = message.rsplit(" (request id: ", 1)
    return "openai", found[1].removesuffix(")") if len(found) == 2 else None


def expected_protocol(route) -> str:
    return "openai" if route.protocol == "internal" else route.protocol


@pytest.mark.parametrize(
    "route", ROUTES, ids=[f"{r.methods[0]} {r.path}" for r in ROUTES]
)
@pytest.mark.parametrize("case", ["401", "bad-body"])
def test_every_error_body_names_the_request_id(make_client, route, case):
    """Every route's error, in its protocol's place: the message for OpenAI,
    ``request_id`` for Anthropic, a RequestInfo detail for Gemini, JSON-RPC
    ``data`` for MCP."""
    strict = case == "401"
    client = make_client({"proxy": {"auth_mode": "strict" if strict else "off"}})
    method = route.methods[0] if route.methods[0] != "ANY" else "POST"
    sent = {"X-Request-Id": f"rid-{case}", "x-api-key": "wrong"}
    response = client.open(
        _concrete(route.path), method=method, data=b"{", headers=sent
    )
    if response.status_code < 400:
        assert not strict or route.handler in PUBLIC
        return
    assert response.mimetype == "application/json", response.status
    protocol, named = id_in_body(response.json)
    assert (protocol, named) == (expected_protocol(route), f"rid-{case}")
    if strict and route.handler not in PUBLIC:
        assert response.status_code == 401


@pytest.mark.parametrize(
    "path,method,protocol",
    [
        ("/nowhere", "GET", "openai"),
        ("/v1/chat/completions", "GET", "openai"),
        ("/v1/messages", "GET", "anthropic"),
        ("/v1/messages/nothing-here", "POST", "anthropic"),
        ("/v1beta/nope", "DELETE", "gemini"),
        ("/v1beta/models/x:generateContent", "PUT", "gemini"),
        ("/mcp/nothing/mcp", "POST", "mcp"),
    ],
)
def test_routing_misses_name_the_request_id(client, path, method, protocol):
    response = client.open(path, method=method, headers={"X-Request-Id": "miss-1"})
    assert response.status_code in (404, 405)
    assert id_in_body(response.json) == (protocol, "miss-1")
