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


def error_body(err: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "code": err.status,
            "message": err.message,
            "status": RPC_STATUS[err.kind],
        }
    }


def error_status(err: GatewayError) -> int:
    return err.status
