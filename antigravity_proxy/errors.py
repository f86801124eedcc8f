"""The gateway's error tree: every failure a client can see is one of these.

Errors are raised anywhere (translators, the upstream client, the account pool) and
rendered in exactly one place per protocol (``protocols/<p>/errors.py``), so a
handler never builds an error body by hand::

    GatewayError(kind, message, status, retry_after, param, code)
     +-- InvalidRequest       400  the client's request is wrong (names ``param``)
     +-- AuthError            401  missing or wrong gateway key
     +-- PermissionDenied     403
     +-- NotFoundError        404  unknown route, model or object
     +-- MethodNotAllowed     405
     +-- RequestTooLarge      413
     +-- SetupRequired        400  no usable account at all: the operator must act
     |                             (``x-should-retry: false``; SDKs retry 408, 409,
     |                             429 and 5xx, so it is none of those)
     +-- RateLimited          429  every usable account is cooling down
     +-- Overloaded           503  no account can serve now (Anthropic renders 529)
     +-- NotImplementedYet    501  a route whose handler is not built yet
     +-- InternalError        500  a bug: logged with its traceback
     +-- ClientGone           499  the client disconnected (nobody reads it)
     +-- UpstreamError        502  Cloud Code failed
          +-- UpstreamTimeout      504
          +-- UpstreamUnavailable  502  network failure on every base URL
          +-- UpstreamStatus       the upstream answered non-2xx (status kept)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final


class ErrorKind(enum.Enum):
    """What went wrong, independent of any protocol's vocabulary."""

    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    FAILED_PRECONDITION = "failed_precondition"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    NOT_IMPLEMENTED = "not_implemented"
    UPSTREAM = "upstream"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


DEFAULT_STATUS: Final[Mapping[ErrorKind, int]] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FAILED_PRECONDITION: 400,
    ErrorKind.METHOD_NOT_ALLOWED: 405,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.OVERLOADED: 503,
    ErrorKind.NOT_IMPLEMENTED: 501,
    ErrorKind.UPSTREAM: 502,
    ErrorKind.TIMEOUT: 504,
    ErrorKind.INTERNAL: 500,
}

KIND_FROM_STATUS: Final[Mapping[int, ErrorKind]] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    405: ErrorKind.METHOD_NOT_ALLOWED,
    413: ErrorKind.TOO_LARGE,
    429: ErrorKind.RATE_LIMIT,
    501: ErrorKind.NOT_IMPLEMENTED,
    503: ErrorKind.OVERLOADED,
    504: ErrorKind.TIMEOUT,
}


class GatewayError(Exception):
    """A failure with a kind, an HTTP status and a client-safe message.

    :param kind: what went wrong; protocols map it to their own error type.
    :param message: shown to the client, so it never carries secrets or emails.
    :param status: HTTP status; defaults to the kind's usual status.
    :param retry_after: seconds, sent as ``Retry-After`` when set.
    :param param: the request field at fault (OpenAI's ``param``).
    :param code: a protocol-specific machine code (OpenAI's ``code``).

    ``should_retry`` False is sent as ``x-should-retry: false``, which the OpenAI
    and Anthropic SDKs obey before looking at the status.
    """

    kind: ErrorKind = ErrorKind.INTERNAL
    should_retry: bool | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        param: str | None = None,
        code: str | None = None,
        kind: ErrorKind | None = None,
        response_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.message = message
        self.status = status if status is not None else DEFAULT_STATUS[self.kind]
        self.retry_after = retry_after
        self.param = param
        self.code = code
        # Headers the client's error response needs besides Retry-After (Allow
        # on a 405); never the upstream's headers (UpstreamStatus.headers).
        self.response_headers: dict[str, str] = dict(response_headers or {})
        # The request's X-Request-Id, set where the error is rendered; protocols
        # whose error body has a place for it put it there.
        self.request_id: str | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r})"


class InvalidRequest(GatewayError):
    kind = ErrorKind.INVALID_REQUEST


class AuthError(GatewayError):
    kind = ErrorKind.AUTHENTICATION


class PermissionDenied(GatewayError):
    kind = ErrorKind.PERMISSION


class NotFoundError(GatewayError):
    kind = ErrorKind.NOT_FOUND


class MethodNotAllowed(GatewayError):
    kind = ErrorKind.METHOD_NOT_ALLOWED


class RequestTooLarge(GatewayError):
    kind = ErrorKind.TOO_LARGE


class SetupRequired(GatewayError):
    """Nothing can serve until the operator acts (add or re-enable an account)."""

    kind = ErrorKind.FAILED_PRECONDITION
    should_retry = False


class RateLimited(GatewayError):
    kind = ErrorKind.RATE_LIMIT


class Overloaded(GatewayError):
    kind = ErrorKind.OVERLOADED


class NotImplementedYet(GatewayError):
    kind = ErrorKind.NOT_IMPLEMENTED


class InternalError(GatewayError):
    kind = ErrorKind.INTERNAL


class UpstreamError(GatewayError):
    kind = ErrorKind.UPSTREAM


class ClientGone(GatewayError):
    """The client disconnected: stop, make no further upstream call.

    Nobody reads the answer; 499 (nginx's "client closed request") is what the
    access log shows.
    """

    kind = ErrorKind.INTERNAL

    def __init__(self, message: str = "the client went away") -> None:
        super().__init__(message, status=499)


class UpstreamTimeout(UpstreamError):
    kind = ErrorKind.TIMEOUT


class UpstreamUnavailable(UpstreamError):
    kind = ErrorKind.UPSTREAM


class UpstreamStatus(UpstreamError):
    """The upstream answered with a non-2xx status.

    ``upstream_status`` and ``body`` are kept for the retry and cooldown logic;
    ``status`` and ``kind`` describe what the client should see if no retry helps.
    """

    def __init__(
        self,
        upstream_status: int,
        body: str,
        *,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        kind = KIND_FROM_STATUS.get(upstream_status, ErrorKind.UPSTREAM)
        status = upstream_status if upstream_status in KIND_FROM_STATUS else 502
        super().__init__(
            message or f"upstream returned HTTP {upstream_status}",
            status=status,
            kind=kind,
        )
        self.upstream_status = upstream_status
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        # Set at the upstream seam when the message says the prompt exceeds the
        # context window: (tokens sent, tokens allowed), either may be unknown.
        self.prompt_too_long: tuple[int | None, int | None] | None = None
        # The base URL that answered (set at the upstream seam).
        self.base_url = ""
