"""Anthropic's error body: ``{"type": "error", "error": {"type", "message"}}``.

"No account can serve" is ``overloaded_error`` with Anthropic's own status 529,
which Claude Code retries with backoff instead of giving up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import ErrorKind, GatewayError

ERROR_TYPE: Final[Mapping[ErrorKind, str]] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.METHOD_NOT_ALLOWED: "invalid_request_error",
    ErrorKind.TOO_LARGE: "request_too_large",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.OVERLOADED: "overloaded_error",
    ErrorKind.NOT_IMPLEMENTED: "api_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.TIMEOUT: "api_error",
    ErrorKind.INTERNAL: "api_error",
}


def error_body(err: GatewayError) -> dict[str, Any]:
    """The error object; ``request_id`` beside it, where Anthropic's API puts it."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": ERROR_TYPE[err.kind], "message": err.message},
    }
    if err.request_id:
        body["request_id"] = err.request_id
    return body


def error_status(err: GatewayError) -> int:
    """Anthropic's statuses: 529 when overloaded, 500 ``api_error`` for failures
    behind the API (it documents no 502)."""
    if err.kind is ErrorKind.OVERLOADED:
        return 529
    if err.kind is ErrorKind.UPSTREAM:
        return 500
    return err.status
