"""Google's error body: ``{"error": {"code", "message", "status"}}``.

``status`` is the canonical google.rpc code name for the HTTP status, as the real
Gemini API sends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import ErrorKind, GatewayError

RPC_STATUS: Final[Mapping[ErrorKind, str]] = {
    ErrorKind.INVALID_REQUEST: "INVALID_ARGUMENT",
    ErrorKind.AUTHENTICATION: "UNAUTHENTICATED",
    ErrorKind.PERMISSION: "PERMISSION_DENIED",
    ErrorKind.NOT_FOUND: "NOT_FOUND",
    ErrorKind.FAILED_PRECONDITION: "FAILED_PRECONDITION",
    ErrorKind.METHOD_NOT_ALLOWED: "INVALID_ARGUMENT",
    ErrorKind.TOO_LARGE: "INVALID_ARGUMENT",
    ErrorKind.RATE_LIMIT: "RESOURCE_EXHAUSTED",
    ErrorKind.OVERLOADED: "UNAVAILABLE",
    ErrorKind.NOT_IMPLEMENTED: "UNIMPLEMENTED",
    ErrorKind.UPSTREAM: "INTERNAL",
    ErrorKind.TIMEOUT: "DEADLINE_EXCEEDED",
    ErrorKind.INTERNAL: "INTERNAL",
}


REQUEST_INFO: Final = "type.googleapis.com/google.rpc.RequestInfo"


def error_body(err: GatewayError) -> dict[str, Any]:
    """The error; the request id as a ``google.rpc.RequestInfo`` detail."""
    error: dict[str, Any] = {
        "code": err.status,
        "message": err.message,
        "status": RPC_STATUS[err.kind],
    }
    if err.request_id:
        error["details"] = [{"@type": REQUEST_INFO, "requestId": err.request_id}]
    return {"error": error}


def error_status(err: GatewayError) -> int:
    return err.status
