"""MCP endpoints answer HTTP-level failures with a JSON-RPC 2.0 error object.

Codes: -32600 invalid request for client mistakes, -32001 for auth (a
server-defined code, as MCP servers commonly use), -32603 internal otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import ErrorKind, GatewayError

RPC_CODE: Final[Mapping[ErrorKind, int]] = {
    ErrorKind.INVALID_REQUEST: -32600,
    ErrorKind.AUTHENTICATION: -32001,
    ErrorKind.PERMISSION: -32001,
    ErrorKind.NOT_FOUND: -32601,
    ErrorKind.METHOD_NOT_ALLOWED: -32600,
    ErrorKind.TOO_LARGE: -32600,
}


def error_body(err: GatewayError) -> dict[str, Any]:
    """The JSON-RPC error; the request id in its ``data`` member."""
    error: dict[str, Any] = {"code": RPC_CODE.get(err.kind, -32603)}
    error["message"] = err.message
    if err.request_id:
        error["data"] = {"request_id": err.request_id}
    return {"jsonrpc": "2.0", "id": None, "error": error}


def error_status(err: GatewayError) -> int:
    return err.status
