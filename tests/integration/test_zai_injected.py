"""z.ai is a client injected in ``Services``: handlers turn its data into responses.

A fake ``ZaiClient`` stands in for z.ai, so these tests reach no network and
show that nothing in the Anthropic or MCP handlers calls z.ai except through
``services.zai``.
"""

from __future__ import annotations

import dataclasses
import json

from werkzeug.test import Client

from antigravity_proxy.app import Gateway
from antigravity_proxy.config import load_config
from antigravity_proxy.errors import UpstreamTimeout
from antigravity_proxy.routing import resolve_handlers
from antigravity_proxy.services import Services
from antigravity_proxy.upstream.zai import Relayed
from antigravity_proxy.wsgi import routes_for
from tests.conftest import write_config

ZAI = {
    "enabled": True,
    "api_key": "zai-key",
    "dispatch_mode": "exclusive",
    "mcp": {"enabled": True, "web_search_enabled": True},
}


class FakeZai:
    """Answers with what a test set; records every call it got."""

    def __init__(self, answer: Relayed | None = None, error=None):
        self.answer, self.error, self.calls = answer, error, []

    def anthropic(self, path, body, client_headers, stream):
        self.calls.append(("anthropic", path, body, stream))
        return self._answer()

    def mcp(self, server, method, client_headers, body):
        self.calls.append(("mcp", server, method, body is not None))
        return self._answer()

    def vision_chat(self, body):  # pragma: no cover  (not reached here)
        raise AssertionError("vision is not asked in these tests")

    def _answer(self) -> Relayed:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


def gateway_with(tmp_path, fake: FakeZai) -> Client:
    data = {"proxy": {"api_key": "sk-test", "auth_mode": "off"}, "zai": ZAI}
    config = load_config(write_config(tmp_path / "home", data), env={})
    services = dataclasses.replace(Services.build(config), zai=fake)
    routes = routes_for(config)
    return Client(Gateway(routes, resolve_handlers(routes), services))


def test_anthropic_answer_read_whole_is_sent_as_it_came(tmp_path):
    body = json.dumps({"type": "message", "content": []}).encode()
    headers = {"content-type": "application/json", "X-Mapped-Model": "glm-4.7"}
    fake = FakeZai(Relayed(200, headers, body))
    client = gateway_with(tmp_path, fake)
    request = {"model": "claude-opus-4-5", "max_tokens": 5, "messages": []}
    response = client.post("/v1/messages?beta=true", json=request)
    assert response.status_code == 200
    assert response.json == {"type": "message", "content": []}
    assert response.headers["X-Mapped-Model"] == "glm-4.7"
    assert fake.calls == [
        ("anthropic", "/v1/messages?beta=true", json.dumps(request).encode(), False)
    ]


def test_anthropic_stream_passes_through_chunk_by_chunk(tmp_path):
    sent: list[bytes] = []

    def chunks():
        for n in range(3):
            sent.append(b"x")
            yield f"event: ping\ndata: {n}\n\n".encode()

    headers = {"content-type": "text/event-stream"}
    fake = FakeZai(Relayed(200, headers, chunks(), stream=True))
    client = gateway_with(tmp_path, fake)
    request = {"model": "glm-4.6", "stream": True, "messages": []}
    response = client.post("/v1/messages", json=request, buffered=False)
    assert response.headers["Cache-Control"] == "no-cache"
    body = iter(response.response)
    assert next(body) == b"event: ping\ndata: 0\n\n"
    assert sent == [b"x"]  # one chunk read, one chunk sent: nothing held back
    assert b"".join(body).count(b"event: ping") == 2
    response.close()


def test_mcp_proxy_relays_status_and_headers(tmp_path):
    headers = {"content-type": "application/json", "mcp-session-id": "s1"}
    fake = FakeZai(Relayed(202, headers, iter([b"{}"])))
    client = gateway_with(tmp_path, fake)
    response = client.post(
        "/mcp/web_search_prime/mcp", json={"jsonrpc": "2.0", "method": "x"}
    )
    assert response.status_code == 202
    assert response.headers["mcp-session-id"] == "s1"
    assert fake.calls == [("mcp", "web_search_prime", "POST", True)]


def test_a_client_failure_is_the_protocols_error(tmp_path):
    fake = FakeZai(error=UpstreamTimeout("z.ai did not answer in time"))
    client = gateway_with(tmp_path, fake)
    anthropic = client.post("/v1/messages", json={"model": "glm-4.6", "messages": []})
    assert anthropic.status_code == 504
    assert anthropic.json["error"]["message"] == "z.ai did not answer in time"
    mcp = client.post("/mcp/web_search_prime/mcp", json={"jsonrpc": "2.0"})
    assert mcp.status_code == 504
    assert mcp.json["error"]["message"] == "z.ai did not answer in time"
