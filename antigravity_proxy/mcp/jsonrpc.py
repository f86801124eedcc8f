"""JSON-RPC 2.0 as MCP uses it: classify an incoming message, build answers.

Pure: values in, values out; a message that is not one raises
``protocols.mcp.errors.RpcError``. MCP narrows JSON-RPC (2025-11-25 "Base
Protocol"): one message per POST (no batches), request ids are strings or
integers and never null, and ``params`` is an object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from antigravity_proxy.protocols.mcp.errors import INVALID_REQUEST, RpcError

RequestId = str | int
Kind = Literal["request", "notification", "response"]


@dataclass(frozen=True, slots=True)
class Incoming:
    kind: Kind
    method: str = ""
    id: RequestId | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def incoming(message: Any) -> Incoming:
    """Classify one decoded message; ``RpcError`` (HTTP 400) when it is not one.

    A message without ``id`` is a notification; ``result`` or ``error`` with an
    ``id`` is the client's answer to a server request.
    """
    if isinstance(message, list):
        raise _invalid("JSON-RPC batches are not supported; send one message")
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise _invalid('expected a JSON-RPC 2.0 object ("jsonrpc": "2.0")')
    has_id = "id" in message
    request_id = message.get("id")
    if has_id and not _valid_id(request_id):
        raise _invalid("a request id must be a string or an integer")
    method = message.get("method")
    if method is None:
        if has_id and ("result" in message or "error" in message):
            return Incoming("response", id=request_id)
        raise _invalid("a JSON-RPC message needs a method")
    if not isinstance(method, str):
        raise _invalid("method must be a string")
    params = message.get("params", {})
    if not isinstance(params, dict):
        raise _invalid("params must be an object")
    return Incoming("request" if has_id else "notification", method, request_id, params)


def result(request_id: RequestId | None, value: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": dict(value)}


def error(request_id: RequestId | None, code: int, message: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": message},
    }


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _invalid(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, message, status=400)
