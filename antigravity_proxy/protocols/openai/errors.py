"""OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``.

Types and codes follow the official API: 401 is ``invalid_request_error`` with code
``invalid_api_key``; 429 is ``rate_limit_error``; gateway-side failures are
``api_error``. The object has no field for the request id, so the message names
it, as OpenAI's own server errors do ("... include the request ID ... in your
message"); the SDKs also read it from the ``X-Request-Id`` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import ErrorKind, GatewayError

ERROR_TYPE: Final[Mapping[ErrorKind, str]] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "invalid_request_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "invalid_request_error",
    ErrorKind.FAILED_PRECONDITION: "invalid_request_error",
    ErrorKind.METHOD_NOT_ALLOWED: "invalid_request_error",
    ErrorKind.TOO_LARGE: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.OVERLOADED: "api_error",
    ErrorKind.NOT_IMPLEMENTED: "api_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.TIMEOUT: "api_error",
    ErrorKind.INTERNAL: "api_error",
}
DEFAULT_CODE: Final[Mapping[ErrorKind, str]] = {
    ErrorKind.AUTHENTICATION: "invalid_api_key",
    ErrorKind.FAILED_PRECONDITION: "no_usable_account",
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.NOT_IMPLEMENTED: "not_implemented",
}


def message_of(err: GatewayError) -> str:
    """The client's message: ``err.message``, then the request id when known."""
    if err.request_id:
        return f"{err.message} (request id: {err.request_id})"
    return err.message


def error_body(err: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": message_of(err),
            "type": ERROR_TYPE[err.kind],
            "param": err.param,
            "code": err.code or DEFAULT_CODE.get(err.kind),
        }
    }


def error_status(err: GatewayError) -> int:
    return err.status
