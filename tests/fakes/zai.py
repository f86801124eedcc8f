"""Loopback fake of z.ai: the Anthropic API, two hosted MCP servers, vision chat.

``FakeZai`` is a WSGI app (run it with ``tests.fakes.cloudcode.serve``):

* ``POST /api/anthropic/v1/messages`` answers a Message naming the model it got,
  or (``"stream": true``) an SSE stream of ``stream_events`` events written
  ``stream_delay`` seconds apart (the connection is cut after ``cut_after``
  events when set); ``/v1/messages/count_tokens`` answers
  ``{"input_tokens": 42}``. ``anthropic_error`` (status, body) answers instead.
* ``/api/mcp/<server>/mcp`` is a minimal streamable-HTTP MCP server: initialize
  (``Mcp-Session-Id``), notifications 202, ``tools/list`` (one tool named after
  the server), ``tools/call`` answered as SSE, preceded by ``mcp_progress``
  progress notifications ``stream_delay`` apart; GET 405, DELETE 200.
* ``POST /api/paas/v4/chat/completions`` answers ``vision_reply``.

Every request is recorded (lower-case header names); each SSE event's write
time is logged in ``event_times`` (``time.monotonic``, after the flush).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.cloudcode_wire import cut_connection

ZAI_KEY = "zai-secret-key-0123456789"


@dataclass(frozen=True)
class ZaiRecord:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FakeZai:
    stream_events: int = 3
    stream_delay: float = 0.0
    mcp_progress: int = 0
    cut_after: int | None = None
    anthropic_error: tuple[int, dict] | None = None
    vision_reply: dict = field(
        default_factory=lambda: {"choices": [{"message": {"content": "I see a cat"}}]}
    )
    records: list[ZaiRecord] = field(default_factory=list)
    event_times: list[float] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()  # each request has its own server thread

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        with self._lock:
            self.records.append(
                ZaiRecord(
                    request.method,
                    request.path,
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                )
            )
        self._local.socket = environ.get("werkzeug.socket")
        return self._route(request, body)(environ, start_response)

    def config(self, **extra) -> dict:
        """The gateway's ``zai`` config section pointing here."""
        section = {
            "enabled": True,
            "api_key": ZAI_KEY,
            "base_url": self.base_url + "/api/anthropic",
            "mcp_base_url": self.base_url + "/api/mcp",
            "vision_base_url": self.base_url + "/api/paas/v4",
        }
        return {**section, **extra}

    def seen(self, prefix: str) -> list[ZaiRecord]:
        with self._lock:
            return [r for r in self.records if r.path.startswith(prefix)]

    def _route(self, request: Request, body: bytes) -> Response:
        path = request.path
        if path.startswith("/api/anthropic/v1/messages"):
            return self._anthropic(path, json.loads(body))
        if path.startswith("/api/mcp/") and path.endswith("/mcp"):
            return self._mcp(request, path.split("/")[3], body)
        if path == "/api/paas/v4/chat/completions":
            return Response(json.dumps(self.vision_reply), mimetype="application/json")
        return Response("not found", status=404)

    def _anthropic(self, path: str, body: dict) -> Response:
        if self.anthropic_error is not None:
            status, error = self.anthropic_error
            return Response(
                json.dumps(error), status=status, mimetype="application/json"
            )
        if path.endswith("/count_tokens"):
            return Response('{"input_tokens": 42}', mimetype="application/json")
        if not body.get("stream"):
            message = {"type": "message", "model": body["model"], "content": []}
            return Response(json.dumps(message), mimetype="application/json")
        events = [
            f"event: ping\ndata: {json.dumps({'type': 'ping', 'n': n})}\n\n".encode()
            for n in range(self.stream_events)
        ]
        return Response(self._paced(events), mimetype="text/event-stream")

    def _paced(self, events: list[bytes]) -> Iterator[bytes]:
        for index, event in enumerate(events):
            if index:
                time.sleep(self.stream_delay)
            yield event
            self.event_times.append(time.monotonic())
            if self.cut_after is not None and index + 1 >= self.cut_after:
                cut_connection(self._local.socket)

    def _mcp(self, request: Request, server: str, body: bytes) -> Response:
        if request.method == "GET":
            return Response(status=405, headers={"Allow": "POST, DELETE"})
        if request.method == "DELETE":
            self.sessions.discard(request.headers.get("mcp-session-id", ""))
            return Response(status=200)
        message = json.loads(body)
        if message.get("method") == "initialize":
            session = uuid.uuid4().hex
            self.sessions.add(session)
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": f"fake-{server}", "version": "1"},
            }
            return self._json_reply(message["id"], result, session)
        if request.headers.get("mcp-session-id") not in self.sessions:
            return Response('{"error": "no session"}', status=404)
        if "id" not in message:
            return Response(status=202)
        return self._mcp_request(server, message)

    def _mcp_request(self, server: str, message: dict) -> Response:
        method = message["method"]
        if method == "tools/list":
            tool = {"name": server, "inputSchema": {"type": "object"}}
            return self._json_reply(message["id"], {"tools": [tool]})
        if method == "tools/call":
            arguments = message["params"].get("arguments", {})
            result = {"content": [{"type": "text", "text": f"{server}: {arguments}"}]}
            return self._sse_reply(message, result)
        return self._json_reply(message["id"], {})

    def _json_reply(self, request_id, result, session: str | None = None) -> Response:
        reply = {"jsonrpc": "2.0", "id": request_id, "result": result}
        headers = {"Mcp-Session-Id": session} if session else {}
        return Response(json.dumps(reply), mimetype="application/json", headers=headers)

    def _sse_reply(self, message: dict, result: dict) -> Response:
        token = (message["params"].get("_meta") or {}).get("progressToken", "p")
        progress = [
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": n},
            }
            for n in range(self.mcp_progress)
        ]
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        events = [
            f"event: message\ndata: {json.dumps(m)}\n\n".encode()
            for m in [*progress, reply]
        ]
        return Response(self._paced(events), mimetype="text/event-stream")
