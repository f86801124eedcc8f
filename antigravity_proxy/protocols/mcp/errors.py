"""MCP failures: one ``GatewayError`` subclass and the JSON-RPC 2.0 error body.

Every MCP failure is a ``GatewayError`` and is rendered by the app's error seam
like any other protocol's: ``error_body`` writes the JSON-RPC error object, with
the request id in ``data``. ``RpcError`` is the MCP server's own failure and
carries its JSON-RPC code and the HTTP status that carries it (200 when it
answers a request in-band, 4xx for a transport-level failure). Any other
``GatewayError`` gets a code by its kind: -32600 invalid request for client
mistakes, -32001 for auth (a server-defined code, as MCP servers commonly use),
-32601 not found, -32603 internal otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import KIND_FROM_STATUS, ErrorKind, GatewayError

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
RPC_CODE: Final[Mapping[ErrorKind, int]] = {
    ErrorKind.INVALID_REQUEST: INVALID_REQUEST,
    ErrorKind.AUTHENTICATION: -32001,
    ErrorKind.PERMISSION: -32001,
    ErrorKind.NOT_FOUND: METHOD_NOT_FOUND,
    ErrorKind.METHOD_NOT_ALLOWED: INVALID_REQUEST,
    ErrorKind.TOO_LARGE: INVALID_REQUEST,
}


class RpcError(GatewayError):
    """A JSON-RPC error answer.

    :param rpc_code: the JSON-RPC error code.
    :param message: shown to the client.
    :param status: the HTTP status carrying it (200 for an answered request).
    :param headers: extra response headers (``Allow`` on a 405).
    """

    def __init__(
        self,
        rpc_code: int,
        message: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        kind = KIND_FROM_STATUS.get(status, ErrorKind.INVALID_REQUEST)
        super().__init__(message, status=status, kind=kind, response_headers=headers)
        self.rpc_code = rpc_code


def error_body(err: GatewayError) -> dict[str, Any]:
    """The JSON-RPC error; the request id in its ``data`` member."""
    if isinstance(err, RpcError):
        code = err.rpc_code
    else:
        code = RPC_CODE.get(err.kind, INTERNAL_ERROR)
    error: dict[str, Any] = {"code": code, "message": err.message}
    if err.request_id:
        error["data"] = {"request_id": err.request_id}
    return {"jsonrpc": "2.0", "id": None, "error": error}


def error_status(err: GatewayError) -> int:
    return err.status
