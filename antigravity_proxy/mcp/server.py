"""The vision MCP server's Streamable HTTP transport (MCP 2025-11-25, "Transports").

``POST`` carries one JSON-RPC message: ``initialize`` opens a session (its id in
the ``Mcp-Session-Id`` response header), every other message needs a live
session (400 without the header, 404 for an unknown or ended one), notifications
and client responses get 202, requests get their answer as JSON, or as a
one-event SSE stream to a client that accepts only ``text/event-stream``.
``GET`` opens the server-to-client SSE stream: this server never sends requests,
so it carries keep-alive comments until the client leaves, the session ends or
``lifetime`` passes (then a ``retry`` hint invites a reconnect). ``DELETE`` ends
the session. Sessions live in the shared state, so any worker serves any
session. Requests with a foreign ``Origin`` get 403 (DNS-rebinding guard).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from antigravity_proxy.config import Config
from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.http import dumps, json_response, loads_strict, read_body
from antigravity_proxy.mcp import jsonrpc, vision
from antigravity_proxy.mcp.jsonrpc import Incoming
from antigravity_proxy.mcp.sessions import Session, SessionStore
from antigravity_proxy.protocols.mcp.errors import (
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)
from antigravity_proxy.streaming import stream_response

SUPPORTED_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION: Final = SUPPORTED_VERSIONS[-1]
SERVER_INFO: Final = {"name": "zai-mcp-server", "version": "4.5.8"}
SESSION_HEADER: Final = "Mcp-Session-Id"
VERSION_HEADER: Final = "MCP-Protocol-Version"
ALLOWED_METHODS: Final = "GET, POST, DELETE"
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """How the ``GET`` stream paces itself (seconds; ``retry_ms`` for the client).

    A gthread worker spends one thread per open stream, and only a write notices
    a client that left, hence a keep-alive every few seconds and a bounded
    lifetime. ``tick`` is how often the session is checked for its end.
    """

    tick: float = 1.0
    keepalive: float = 5.0
    lifetime: float = 300.0
    retry_ms: int = 2000


class VisionServer:
    """One HTTP exchange of the vision MCP server."""

    def __init__(
        self,
        config: Config,
        sessions: SessionStore,
        zai: vision.VisionChat,
        timing: StreamTiming = StreamTiming(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.zai = zai
        self.timing = timing
        self.sleep = sleep

    def respond(self, request: Request) -> Response:
        """The answer to one exchange; a transport failure raises ``RpcError``,
        which the app renders as a JSON-RPC error with its status."""
        methods = {"POST": self._post, "GET": self._get, "DELETE": self._delete}
        handler = methods.get(request.method)
        if handler is None:
            raise RpcError(
                INVALID_REQUEST,
                "Method Not Allowed",
                status=405,
                headers={"Allow": ALLOWED_METHODS},
            )
        check_origin(self.config, request)
        return handler(request)

    def _post(self, request: Request) -> Response:
        call = jsonrpc.incoming(_decoded(read_body(request)))
        if call.kind == "request" and call.method == "initialize":
            return self._initialize(request, call)
        session = self._session(request)
        if call.kind != "request":
            return Response(status=202, headers={SESSION_HEADER: session.id})
        return _reply(request, self._answer(call), session.id)

    def _initialize(self, request: Request, call: Incoming) -> Response:
        """Open a session; agree on the client's version when supported.

        Why echo or counter-offer: lifecycle "Version Negotiation" has the server
        answer the requested version if it supports it, else its latest.
        """
        requested = call.params.get("protocolVersion")
        version = requested if requested in SUPPORTED_VERSIONS else LATEST_VERSION
        session = self.sessions.create(str(version))
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": SERVER_INFO,
        }
        return _reply(request, jsonrpc.result(call.id, result), session.id)

    def _answer(self, call: Incoming) -> dict[str, Any]:
        try:
            return jsonrpc.result(call.id, self._run(call.method, call.params))
        except RpcError as err:
            return jsonrpc.error(call.id, err.rpc_code, err.message)

    def _run(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": vision.tool_specs()}
        if method == "tools/call":
            return vision.call_tool(self.zai, self.config, params)
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    def _get(self, request: Request) -> Response:
        session = self._session(request)
        if "text/event-stream" not in request.headers.get(
            "Accept", "text/event-stream"
        ):
            raise RpcError(
                INVALID_REQUEST, "Not Acceptable: accept text/event-stream", status=406
            )
        frames = keepalive_stream(self.sessions, session.id, self.timing, self.sleep)
        return stream_response(
            frames, "text/event-stream", {SESSION_HEADER: session.id}
        )

    def _delete(self, request: Request) -> Response:
        session = self._session(request)
        self.sessions.end(session.id)
        return Response(status=200)

    def _session(self, request: Request) -> Session:
        """The live session named by the request, its protocol version checked."""
        session_id = request.headers.get(SESSION_HEADER, "").strip()
        if not session_id:
            raise RpcError(
                INVALID_REQUEST,
                f"Bad Request: the {SESSION_HEADER} header is required",
                status=400,
            )
        session = self.sessions.get(session_id)
        if session is None:
            raise RpcError(
                INVALID_REQUEST,
                "Not Found: unknown or ended MCP session; send initialize again",
                status=404,
            )
        version = request.headers.get(VERSION_HEADER)
        if version is not None and version not in SUPPORTED_VERSIONS:
            raise RpcError(
                INVALID_REQUEST,
                f"Bad Request: unsupported {VERSION_HEADER} {version!r}; "
                f"supported: {', '.join(SUPPORTED_VERSIONS)}",
                status=400,
            )
        return session


def keepalive_stream(
    sessions: SessionStore,
    session_id: str,
    timing: StreamTiming,
    sleep: Callable[[float], None],
) -> Iterator[bytes]:
    """SSE comments until the session ends or ``lifetime`` passes.

    Why the first comment: it sends the headers at once, so the client knows
    the stream is open. A client that leaves makes a write fail; gunicorn then
    closes this generator at its ``yield``.
    """
    yield b": stream open\n\n"
    elapsed = since_keepalive = 0.0
    while elapsed < timing.lifetime:
        sleep(timing.tick)
        elapsed += timing.tick
        since_keepalive += timing.tick
        if not sessions.alive(session_id):
            return
        if since_keepalive >= timing.keepalive:
            since_keepalive = 0.0
            yield b": keepalive\n\n"
    yield f"retry: {timing.retry_ms}\n\n".encode()


def check_origin(config: Config, request: Request) -> None:
    """403 for a browser page from a foreign origin (MCP transports "Security").

    Why: a web page can reach a loopback server through DNS rebinding; only
    loopback origins and the configured host are accepted. Clients that are
    not browsers send no ``Origin`` and pass.
    """
    origin = request.headers.get("Origin")
    if not origin:
        return
    try:
        host = urlsplit(origin).hostname or ""
    except ValueError:  # "http://[::1": not an origin a browser sends
        host = ""
    if host and (host in LOOPBACK_HOSTS or host == config.server.host):
        return
    raise RpcError(
        INVALID_REQUEST, f"Forbidden: origin {origin} not allowed", status=403
    )


def _decoded(body: bytes) -> Any:
    """The message, parsed as strictly as every other route's JSON.

    Why the shared parser: it turns too-deep nesting, oversized integers and
    lone surrogates (which would fail later, when sent to z.ai) into a 400.
    """
    try:
        return loads_strict(body)
    except InvalidRequest as exc:
        raise RpcError(PARSE_ERROR, f"Parse error: {exc.message}", status=400) from exc


def _reply(request: Request, message: Mapping[str, Any], session_id: str) -> Response:
    """JSON, unless the client accepts only SSE (then a one-event stream)."""
    headers = {SESSION_HEADER: session_id}
    accept = request.headers.get("Accept", "")
    wants_sse = "text/event-stream" in accept and not _accepts_json(accept)
    if not wants_sse:
        return json_response(message, headers=headers)
    event = f"event: message\ndata: {dumps(message)}\n\n".encode()
    return Response(event, mimetype="text/event-stream", headers=headers)


def _accepts_json(accept: str) -> bool:
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(types & {"application/json", "application/*", "*/*"})
