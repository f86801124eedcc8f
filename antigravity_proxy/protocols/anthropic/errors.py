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
    ErrorKind.FAILED_PRECONDITION: "invalid_request_error",
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
    """The gateway's status, but 529 when overloaded (Anthropic's own).

    Why an upstream failure stays 502 ``api_error`` although Anthropic documents
    500 for ``api_error``: the same failure answers 502 in every protocol, 500 is
    kept for the gateway's own bugs, and Anthropic's SDKs (and Claude Code) treat
    every 5xx alike, retrying it.
    """
    if err.kind is ErrorKind.OVERLOADED:
        return 529
    return err.status
