"""z.ai through the WSGI app: Anthropic pass-through, MCP proxies, the vision server."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from antigravity_proxy import streaming
from antigravity_proxy.config import load_config
from antigravity_proxy.errors import InvalidRequest, UpstreamUnavailable
from antigravity_proxy.exchange import Ending, Exchange
from antigravity_proxy.mcp.server import StreamTiming, keepalive_stream
from antigravity_proxy.mcp.sessions import SessionStore
from antigravity_proxy.passthrough import watched
from antigravity_proxy.state import SQLiteState
from antigravity_proxy.streaming import relayed_response
from antigravity_proxy.upstream.zai import ZaiClient
from antigravity_proxy.wsgi import create_app
from tests.conftest import API_KEY, write_config
from tests.e2e.conftest import free_port
from tests.fakes.cloudcode import serve
from tests.fakes.zai import ZAI_KEY, FakeZai

MCP_ON = {
    "enabled": True,
    "web_search_enabled": True,
    "web_reader_enabled": True,
    "vision_enabled": True,
}
ACCEPT = {"Accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


@pytest.fixture
def fake_zai():
    fake = FakeZai()
    with serve(fake) as base:
        fake.base_url = base
        yield fake


@pytest.fixture
def make_gateway(tmp_path, fake_zai):
    """A Werkzeug client for a gateway whose ``zai`` section points at the fake."""

    def make(auth_mode: str = "off", **zai) -> Client:
        data = {
            "proxy": {"api_key": API_KEY, "auth_mode": auth_mode},
            "zai": fake_zai.config(**zai),
        }
        config = load_config(write_config(tmp_path / "home", data), env={})
        return Client(create_app(config, background=False))

    return make


def make_config(tmp_path, fake_zai, **zai):
    data = {"proxy": {"api_key": API_KEY}, "zai": fake_zai.config(**zai)}
    return load_config(write_config(tmp_path / "home", data), env={})


def rpc(method, request_id=2, **params):
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


# --- ZaiClient.anthropic ----------------------------------------------------


def forward_anthropic(config, path, body, headers, stream):
    """The client's answer through the handler's conversion of a ``Relayed``."""
    return relayed_response(ZaiClient(config).anthropic(path, body, headers, stream))


def test_forward_anthropic_substitutes_the_key_and_filters_headers(tmp_path, fake_zai):
    config = make_config(tmp_path, fake_zai)
    client_headers = {
        "X-Api-Key": API_KEY,
        "Anthropic-Version": "2023-06-01",
        "anthropic-beta": "tools-2024",
        "Cookie": "c=1",
        "X-Custom": "no",
        "User-Agent": "claude-cli/2",
    }
    body = json.dumps(
        {"model": "claude-opus-4-5", "max_tokens": 5, "messages": []}
    ).encode()
    response = forward_anthropic(
        config, "/v1/messages?beta=true", body, client_headers, stream=False
    )
    assert response.status_code == 200
    assert response.json == {"type": "message", "model": "glm-4.7", "content": []}
    assert response.headers["X-Mapped-Model"] == "glm-4.7"
    (seen,) = fake_zai.seen("/api/anthropic")
    assert seen.path == "/api/anthropic/v1/messages"
    assert seen.headers["x-api-key"] == ZAI_KEY
    assert "authorization" not in seen.headers
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["user-agent"] == "claude-cli/2"
    assert seen.headers["content-type"] == "application/json"
    for dropped in ("anthropic-beta", "cookie", "x-custom"):
        assert dropped not in seen.headers
    assert API_KEY not in json.dumps(seen.headers)
    assert seen.json["model"] == "glm-4.7"


def test_forward_anthropic_bearer_clients_get_a_bearer_zai_key(tmp_path, fake_zai):
    config = make_config(tmp_path, fake_zai)
    body = b'{"model": "glm-4.6", "messages": []}'
    response = forward_anthropic(
        config,
        "/v1/messages/count_tokens",
        body,
        {"Authorization": f"Bearer {API_KEY}"},
        stream=False,
    )
    assert response.json == {"input_tokens": 42}
    (seen,) = fake_zai.seen("/api/anthropic")
    assert seen.path == "/api/anthropic/v1/messages/count_tokens"
    assert seen.headers["authorization"] == f"Bearer {ZAI_KEY}"
    assert "x-api-key" not in seen.headers
    assert seen.body == body  # an unchanged model leaves the bytes alone


def test_forward_anthropic_streams_sse_verbatim(tmp_path, fake_zai):
    config = make_config(tmp_path, fake_zai)
    body = json.dumps(
        {"model": "claude-sonnet-4-5", "stream": True, "messages": []}
    ).encode()
    response = forward_anthropic(config, "/v1/messages", body, {}, stream=True)
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    text = b"".join(response.response).decode()
    response.close()
    assert text.count("event: ping") == 3
    assert text.startswith('event: ping\ndata: {"type": "ping", "n": 0}\n\n')


def test_forward_anthropic_stream_cut_midway_ends_in_an_error_event(tmp_path, fake_zai):
    fake_zai.stream_events, fake_zai.cut_after = 5, 2
    config = make_config(tmp_path, fake_zai)
    body = json.dumps({"model": "glm-4.6", "stream": True}).encode()
    exchange = Exchange("req_cut", protocol="anthropic")
    response = watched(
        forward_anthropic(config, "/v1/messages", body, {}, stream=True), exchange
    )
    text = b"".join(response.response).decode()
    response.close()
    assert text.count("event: ping") == 2
    last = text.rstrip().split("\n\n")[-1]
    assert last.startswith("event: error\n")
    assert json.loads(last.split("data: ", 1)[1])["request_id"] == "req_cut"
    assert exchange.ending is Ending.UPSTREAM_CUT


def test_forward_anthropic_stream_keepalive_between_events(
    tmp_path, fake_zai, monkeypatch
):
    monkeypatch.setattr(streaming, "KEEPALIVE_SECONDS", 0.2)
    fake_zai.stream_events, fake_zai.stream_delay = 2, 0.7
    config = make_config(tmp_path, fake_zai)
    body = json.dumps({"model": "glm-4.6", "stream": True}).encode()
    exchange = Exchange("req_ka", protocol="anthropic")
    response = watched(
        forward_anthropic(config, "/v1/messages", body, {}, stream=True), exchange
    )
    frames = b"".join(response.response).decode().split("\n\n")
    response.close()
    ours = 'event: ping\ndata: {"type":"ping"}'
    assert frames[0].endswith('"n": 0}') and frames[-2].endswith('"n": 1}')
    assert frames[1:-2] and set(frames[1:-2]) == {ours}
    assert exchange.ending is Ending.COMPLETE


def test_forward_anthropic_passes_zai_errors_through(tmp_path, fake_zai):
    fake_zai.anthropic_error = (
        429,
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
    )
    config = make_config(tmp_path, fake_zai)
    response = forward_anthropic(
        config, "/v1/messages", b'{"model": "glm-4.6"}', {}, stream=True
    )
    assert response.status_code == 429
    assert response.json["error"] == {"type": "rate_limit_error", "message": "slow"}


def test_forward_anthropic_transport_failure_is_a_502_gateway_error(tmp_path, fake_zai):
    config = make_config(tmp_path, fake_zai, base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamUnavailable) as caught:
        forward_anthropic(config, "/v1/messages", b"{}", {}, stream=False)
    assert caught.value.status == 502
    assert caught.value.__cause__ is not None


def test_forward_anthropic_refuses_without_key(tmp_path, fake_zai):
    for zai_section in ({"api_key": ""}, {"enabled": False}):
        config = make_config(tmp_path, fake_zai, **zai_section)
        with pytest.raises(InvalidRequest):
            forward_anthropic(config, "/v1/messages", b"{}", {}, stream=False)
    assert fake_zai.records == []


# --- MCP reverse proxies ----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/mcp/web_search_prime/mcp", "/mcp/web_reader/mcp", "/mcp/zai-mcp-server/mcp"],
)
def test_mcp_endpoints_are_404_while_disabled(make_gateway, path):
    for mcp in ({}, {"enabled": True}, {**MCP_ON, "enabled": False}):
        response = make_gateway(mcp=mcp).post(path, json=INIT, headers=ACCEPT)
        assert response.status_code == 404
        assert response.json["jsonrpc"] == "2.0"
        assert response.json["error"]["code"] == -32601


@pytest.mark.parametrize(
    "path",
    ["/mcp/web_search_prime/mcp", "/mcp/web_reader/mcp", "/mcp/zai-mcp-server/mcp"],
)
def test_mcp_endpoints_are_400_without_a_zai_key(make_gateway, fake_zai, path):
    response = make_gateway(mcp=MCP_ON, api_key="").post(
        path, json=INIT, headers=ACCEPT
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == -32600
    assert "z.ai is not configured" in response.json["error"]["message"]
    assert fake_zai.records == []


def test_mcp_proxy_relays_a_session_with_the_zai_key(make_gateway, fake_zai):
    client = make_gateway(auth_mode="strict", mcp=MCP_ON)
    auth = {
        **ACCEPT,
        "Authorization": f"Bearer {API_KEY}",
        "Mcp-Protocol-Version": "2025-06-18",
    }
    init = client.post("/mcp/web_reader/mcp", json=INIT, headers=auth)
    assert init.status_code == 200
    session = init.headers["Mcp-Session-Id"]
    assert init.json["result"]["serverInfo"]["name"] == "fake-web_reader"
    with_session = {**auth, "Mcp-Session-Id": session, "Last-Event-ID": "e-1"}
    note = client.post(
        "/mcp/web_reader/mcp",
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=with_session,
    )
    assert note.status_code == 202
    call = client.post(
        "/mcp/web_reader/mcp",
        json=rpc("tools/call", name="web_reader", arguments={"url": "u"}),
        headers=with_session,
    )
    assert call.status_code == 200
    assert call.mimetype == "text/event-stream"
    event = json.loads(call.get_data(as_text=True).split("data: ", 1)[1])
    assert event["result"]["content"][0]["text"] == "web_reader: {'url': 'u'}"
    seen = fake_zai.seen("/api/mcp/web_reader/mcp")
    assert [r.method for r in seen] == ["POST", "POST", "POST"]
    assert all(r.headers["authorization"] == f"Bearer {ZAI_KEY}" for r in seen)
    assert seen[2].headers["mcp-session-id"] == session
    assert seen[2].headers["mcp-protocol-version"] == "2025-06-18"
    assert seen[2].headers["last-event-id"] == "e-1"
    assert seen[2].json["params"]["arguments"] == {"url": "u"}


def test_mcp_proxy_relays_statuses_and_allow(make_gateway, fake_zai):
    client = make_gateway(mcp=MCP_ON)
    get = client.get(
        "/mcp/web_search_prime/mcp", headers={"Accept": "text/event-stream"}
    )
    assert get.status_code == 405
    assert get.headers["Allow"] == "POST, DELETE"
    unknown = client.post(
        "/mcp/web_search_prime/mcp",
        json=rpc("tools/list"),
        headers={**ACCEPT, "Mcp-Session-Id": "nope"},
    )
    assert unknown.status_code == 404
    assert fake_zai.seen("/api/mcp/web_search_prime/mcp")[0].body == b""


def test_mcp_proxy_transport_failure_is_502(make_gateway):
    client = make_gateway(mcp=MCP_ON, mcp_base_url=f"http://127.0.0.1:{free_port()}")
    response = client.post("/mcp/web_search_prime/mcp", json=INIT, headers=ACCEPT)
    assert response.status_code == 502
    assert response.json["error"]["code"] == -32603


@pytest.mark.parametrize(
    "path", ["/mcp/web_search_prime/mcp", "/mcp/zai-mcp-server/mcp"]
)
def test_mcp_endpoints_refuse_foreign_origins(make_gateway, fake_zai, path):
    client = make_gateway(mcp=MCP_ON)
    evil = client.post(
        path, json=INIT, headers={**ACCEPT, "Origin": "http://evil.test"}
    )
    assert evil.status_code == 403
    assert evil.json["error"]["code"] == -32600
    local = client.post(
        path, json=INIT, headers={**ACCEPT, "Origin": "http://localhost:6274"}
    )
    assert local.status_code == 200


# --- the built-in vision server ---------------------------------------------

VISION = "/mcp/zai-mcp-server/mcp"


@pytest.fixture
def vision_client(make_gateway, tmp_path):
    allowed = tmp_path / "shots"
    allowed.mkdir()
    (allowed / "a.png").write_bytes(b"\x89PNG fake")
    return make_gateway(mcp={**MCP_ON, "allowed_dirs": [str(allowed)]})


def open_session(client, version="2025-06-18") -> dict:
    init = client.post(
        VISION,
        json={**INIT, "params": {**INIT["params"], "protocolVersion": version}},
        headers=ACCEPT,
    )
    assert init.status_code == 200, init.get_data(as_text=True)
    return {
        **ACCEPT,
        "Mcp-Session-Id": init.headers["Mcp-Session-Id"],
        "MCP-Protocol-Version": init.json["result"]["protocolVersion"],
    }


def test_vision_initialize_negotiates_and_opens_a_session(vision_client):
    init = vision_client.post(VISION, json=INIT, headers=ACCEPT)
    assert init.json == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "zai-mcp-server", "version": "4.5.8"},
        },
    }
    assert len(init.headers["Mcp-Session-Id"]) == 32
    newer = vision_client.post(
        VISION,
        json={**INIT, "params": {"protocolVersion": "2099-01-01"}},
        headers=ACCEPT,
    )
    assert newer.json["result"]["protocolVersion"] == "2025-11-25"


def test_vision_session_lifecycle(vision_client):
    headers = open_session(vision_client)
    note = vision_client.post(
        VISION,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=headers,
    )
    assert (note.status_code, note.get_data()) == (202, b"")
    answer = vision_client.post(
        VISION, json={"jsonrpc": "2.0", "id": 9, "result": {}}, headers=headers
    )
    assert answer.status_code == 202
    ping = vision_client.post(VISION, json=rpc("ping", request_id="p"), headers=headers)
    assert ping.json == {"jsonrpc": "2.0", "id": "p", "result": {}}
    tools = vision_client.post(VISION, json=rpc("tools/list"), headers=headers)
    assert len(tools.json["result"]["tools"]) == 8
    deleted = vision_client.delete(VISION, headers=headers)
    assert deleted.status_code == 200
    gone = vision_client.post(VISION, json=rpc("ping"), headers=headers)
    assert gone.status_code == 404
    assert gone.json["error"]["code"] == -32600


def test_vision_sessions_are_shared_by_app_instances(tmp_path, fake_zai):
    data = {
        "proxy": {"api_key": API_KEY, "auth_mode": "off"},
        "zai": fake_zai.config(mcp=MCP_ON),
    }
    config = load_config(write_config(tmp_path / "home", data), env={})
    first = Client(create_app(config, background=False))
    second = Client(create_app(config, background=False))
    headers = open_session(first)
    assert second.post(VISION, json=rpc("ping"), headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, -32700),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', {}, 400, -32600),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
            {"Mcp-Session-Id": ""},
            400,
            -32600,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
            {"Mcp-Session-Id": "unknown"},
            404,
            -32600,
        ),
    ],
    ids=["parse", "batch", "no-session", "unknown-session"],
)
def test_vision_transport_errors(vision_client, body, headers, status, code):
    response = vision_client.post(
        VISION,
        data=body,
        headers={**ACCEPT, **headers},
        content_type="application/json",
    )
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["id"] is None


def test_vision_rejects_an_unsupported_protocol_version_header(vision_client):
    headers = {**open_session(vision_client), "MCP-Protocol-Version": "1999-01-01"}
    response = vision_client.post(VISION, json=rpc("ping"), headers=headers)
    assert response.status_code == 400
    assert "unsupported MCP-Protocol-Version" in response.json["error"]["message"]


def test_vision_method_errors_carry_the_request_id(vision_client):
    headers = open_session(vision_client)
    unknown = vision_client.post(
        VISION, json=rpc("resources/list", request_id=4), headers=headers
    )
    assert unknown.status_code == 200
    assert unknown.json == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {"code": -32601, "message": "Method not found: resources/list"},
    }
    bad_tool = vision_client.post(
        VISION, json=rpc("tools/call", request_id=5, name="nope"), headers=headers
    )
    assert bad_tool.json["error"] == {"code": -32602, "message": "Unknown tool: nope"}


def test_vision_other_methods_are_405(vision_client):
    response = vision_client.put(VISION, json=INIT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST, DELETE"


def test_vision_tool_call_inlines_an_allowed_file(vision_client, fake_zai, tmp_path):
    headers = open_session(vision_client)
    arguments = {
        "image_source": str(tmp_path / "shots" / "a.png"),
        "prompt": "what is it",
    }
    call = vision_client.post(
        VISION,
        json=rpc("tools/call", name="analyze_image", arguments=arguments),
        headers=headers,
    )
    assert call.json["result"] == {
        "content": [{"type": "text", "text": "I see a cat"}],
        "isError": False,
    }
    (seen,) = fake_zai.seen("/api/paas/v4")
    assert seen.headers["authorization"] == f"Bearer {ZAI_KEY}"
    assert seen.headers["x-title"] == "Vision MCP Local"
    content = seen.json["messages"][1]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[1] == {"type": "text", "text": "what is it"}


def test_vision_tool_call_refuses_a_path_outside_allowed_dirs(
    vision_client, fake_zai, tmp_path
):
    (tmp_path / "secret.png").write_bytes(b"secret")
    headers = open_session(vision_client)
    for source in (
        str(tmp_path / "secret.png"),
        str(tmp_path / "shots" / ".." / "secret.png"),
    ):
        arguments = {"image_source": source, "prompt": "p"}
        call = vision_client.post(
            VISION,
            json=rpc("tools/call", name="analyze_image", arguments=arguments),
            headers=headers,
        )
        assert call.status_code == 200
        assert call.json["result"]["isError"] is True
        assert (
            "outside the allowed directories"
            in call.json["result"]["content"][0]["text"]
        )
    assert fake_zai.seen("/api/paas/v4") == []


def test_vision_tool_call_reports_zai_failures_as_tool_errors(vision_client, fake_zai):
    fake_zai.vision_reply = {"error": "nope"}
    headers = open_session(vision_client)
    arguments = {"image_source": "https://x.test/a.png", "prompt": "p"}
    call = vision_client.post(
        VISION,
        json=rpc("tools/call", name="analyze_image", arguments=arguments),
        headers=headers,
    )
    assert call.json["result"]["isError"] is True
    assert "choices[0].message.content" in call.json["result"]["content"][0]["text"]


def test_vision_answers_sse_only_clients_with_an_event(vision_client):
    headers = {**open_session(vision_client), "Accept": "text/event-stream"}
    response = vision_client.post(
        VISION, json=rpc("ping", request_id=3), headers=headers
    )
    assert response.mimetype == "text/event-stream"
    assert (
        response.get_data(as_text=True)
        == 'event: message\ndata: {"jsonrpc":"2.0","id":3,"result":{}}\n\n'
    )


def test_vision_get_opens_a_keepalive_stream_that_closes(vision_client):
    headers = open_session(vision_client)
    assert vision_client.get(VISION, headers=ACCEPT).status_code == 400
    response = vision_client.get(
        VISION, headers={**headers, "Accept": "text/event-stream"}, buffered=False
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert next(iter(response.response)) == b": stream open\n\n"
    response.close()
    refused = vision_client.get(
        VISION, headers={**headers, "Accept": "application/json"}
    )
    assert refused.status_code == 406


def test_keepalive_stream_paces_and_ends_with_a_retry_hint(tmp_path):
    sessions = SessionStore(SQLiteState(tmp_path / "s.db", clock=lambda: 1000.0))
    session = sessions.create("2025-11-25")
    naps: list[float] = []
    timing = StreamTiming(tick=1.0, keepalive=2.0, lifetime=5.0, retry_ms=700)
    frames = list(keepalive_stream(sessions, session.id, timing, naps.append))
    assert frames == [
        b": stream open\n\n",
        b": keepalive\n\n",
        b": keepalive\n\n",
        b"retry: 700\n\n",
    ]
    assert naps == [1.0] * 5


def test_keepalive_stream_ends_when_the_session_ends(tmp_path):
    sessions = SessionStore(SQLiteState(tmp_path / "s.db", clock=lambda: 1000.0))
    session = sessions.create("2025-11-25")
    timing = StreamTiming(tick=1.0, keepalive=1.0, lifetime=100.0)
    stream = keepalive_stream(sessions, session.id, timing, lambda _: None)
    assert next(stream) == b": stream open\n\n"
    assert next(stream) == b": keepalive\n\n"
    sessions.end(session.id)
    assert list(stream) == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("put", VISION, {}, 405),
        ("post", VISION, {"Origin": "http://evil.test"}, 403),
        ("post", "/mcp/web_reader/mcp", {"Origin": "http://evil.test"}, 403),
        ("get", VISION, {"Accept": "text/event-stream"}, 400),
    ],
)
def test_mcp_transport_errors_carry_the_request_id(
    vision_client, method, path, headers, status
):
    """MCP failures go through the app's one error seam, like every protocol's."""
    response = getattr(vision_client, method)(
        path, json=INIT, headers={**headers, "X-Request-Id": "req-mcp-1"}
    )
    assert response.status_code == status
    assert response.headers["X-Request-Id"] == "req-mcp-1"
    assert response.json["error"]["data"] == {"request_id": "req-mcp-1"}


def test_vision_tool_call_reports_a_non_object_answer(vision_client, fake_zai):
    fake_zai.vision_reply = ["not", "an", "object"]
    headers = open_session(vision_client)
    arguments = {"image_source": "https://x.test/a.png", "prompt": "p"}
    call = vision_client.post(
        VISION,
        json=rpc("tools/call", name="analyze_image", arguments=arguments),
        headers=headers,
    )
    assert call.json["result"]["isError"] is True
    text = call.json["result"]["content"][0]["text"]
    assert text == "Error: upstream z.ai vision chat answered JSON list, not an object"
