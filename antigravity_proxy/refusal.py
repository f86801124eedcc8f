"""Requests refused while gunicorn parsed them, answered in the protocol's format.

gunicorn parses the request line and the headers before any WSGI code runs. A
control character in a header value, a header name that is no token, too many
or too long header lines, contradictory framing headers or a transfer coding it
does not know raise its parse errors, which stock gunicorn answers with an HTML
page no API client can read. ``worker.GatewayWorker`` hands them here instead:
``error_from_parse`` says what the client did wrong as a ``GatewayError`` (the
status gunicorn would have sent), and ``Refusals.answer`` renders it as the
error body of the protocol of the route the request line named (OpenAI's when
not even the request line could be read), with ``X-Request-Id`` and
``Connection: close``, and finishes an ``Exchange`` for it, so the refusal has
its access line like any other request.

An exception that is no client mistake (the application failed before its
first byte, or sent a header gunicorn refuses) is a 500 ``InternalError`` in
the same format; the application's own ``Exchange`` already observed that
request, so no second access line is written for it.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable, Sequence
from typing import Final

from gunicorn.http import errors as parse

from antigravity_proxy import json_codec
from antigravity_proxy.app import ERROR_MODULES, protocol_for_path
from antigravity_proxy.errors import (
    ErrorKind,
    GatewayError,
    InternalError,
    InvalidRequest,
)
from antigravity_proxy.exchange import (
    REQUEST_ID_HEADER,
    Exchange,
    FinishHook,
    new_request_id,
)
from antigravity_proxy.http import header_text

log = logging.getLogger(__name__)

Target = tuple[str, str]  # (method, path) of the request line
ProtocolFor = Callable[[str, str], str]

# The application's own failures: gunicorn files these under its parse errors.
APPLICATION_FAULTS: Final = (
    parse.InvalidResponseHeader,
    parse.InvalidResponseHeaderName,
)
# (parse errors, status, kind, what the client is told), first match wins.
PARSE_ERRORS: Final[
    tuple[tuple[tuple[type[Exception], ...], int, ErrorKind, str], ...]
] = (
    (
        (parse.LimitRequestLine,),
        414,
        ErrorKind.TOO_LARGE,
        "the request line is too long",
    ),
    (
        (parse.LimitRequestHeaders,),
        431,
        ErrorKind.TOO_LARGE,
        "the request has too many header fields or one that is too large",
    ),
    (
        (parse.UnsupportedTransferCoding,),
        501,
        ErrorKind.NOT_IMPLEMENTED,
        "the request's Transfer-Encoding is not supported (only chunked is)",
    ),
    (
        (parse.ExpectationFailed,),
        417,
        ErrorKind.INVALID_REQUEST,
        "the request's Expect header cannot be met (only 100-continue can)",
    ),
    (
        (parse.ForbiddenProxyRequest,),
        403,
        ErrorKind.PERMISSION,
        "proxy protocol requests from this address are not allowed",
    ),
    (
        (parse.InvalidHeader, parse.InvalidHeaderName, parse.ObsoleteFolding),
        400,
        ErrorKind.INVALID_REQUEST,
        "a request header is malformed",
    ),
    (
        (
            parse.InvalidRequestLine,
            parse.InvalidRequestMethod,
            parse.InvalidHTTPVersion,
            parse.InvalidH2CPreface,
        ),
        400,
        ErrorKind.INVALID_REQUEST,
        "the request line is malformed",
    ),
    (
        (
            parse.InvalidChunkSize,
            parse.ChunkMissingTerminator,
            parse.InvalidChunkExtension,
        ),
        400,
        ErrorKind.INVALID_REQUEST,
        "the chunked request body is malformed",
    ),
    (
        (
            parse.InvalidSchemeHeaders,
            parse.InvalidProxyLine,
            parse.InvalidProxyHeader,
        ),
        400,
        ErrorKind.INVALID_REQUEST,
        "the request's forwarding headers are malformed",
    ),
)
# Header names gunicorn quotes in its errors are safe to echo; values are not
# (a Gemini key may sit in one), so a detail longer than a name is left out.
DETAIL_MAX: Final = 64
DETAILED: Final = (parse.InvalidHeader, parse.InvalidHeaderName, parse.ObsoleteFolding)


def error_from_parse(exc: BaseException) -> GatewayError | None:
    """The client's mistake ``exc`` reports, or None when it is no parse error."""
    if isinstance(exc, APPLICATION_FAULTS):
        return None
    for kinds, status, kind, message in PARSE_ERRORS:
        if isinstance(exc, kinds):
            detail = _detail(exc)
            text = f"{message} ({detail})" if detail else message
            return GatewayError(text, status=status, kind=kind)
    if isinstance(exc, parse.ParseException):
        return InvalidRequest("the request could not be parsed")
    return None


def _detail(exc: BaseException) -> str:
    """The header gunicorn names, when it names one (never a value)."""
    if not isinstance(exc, DETAILED):
        return ""
    name = getattr(exc, "hdr", "")
    if not isinstance(name, str) or not name or len(name) > DETAIL_MAX:
        return ""
    if any(c in name for c in ": \t"):
        return ""
    return f"header {header_text(name.lower())}"


class Refusals:
    """Render refused requests; ``protocol_for`` maps a request line to its
    route's protocol, ``on_finish`` observes each refusal's ``Exchange``."""

    def __init__(
        self,
        protocol_for: ProtocolFor | None = None,
        on_finish: Sequence[FinishHook] = (),
    ) -> None:
        self.protocol_for = protocol_for or _by_prefix
        self.on_finish = list(on_finish)

    def answer(self, exc: BaseException, target: Target | None) -> bytes:
        """The whole HTTP response for a request gunicorn refused with ``exc``."""
        refused = error_from_parse(exc)
        err = refused or InternalError("internal gateway error")
        method, path = target or ("", "")
        exchange = Exchange(new_request_id(), method=method, path=path)
        exchange.protocol = self.protocol_for(method, path) if target else "openai"
        exchange.failed(err)
        module = ERROR_MODULES[exchange.protocol]
        status = module.error_status(err)
        body = json_codec.dumps(module.error_body(err))
        exchange.status, exchange.bytes_out = status, len(body)
        if refused is not None:
            where = header_text(" ".join(target)) if target else "(no request line)"
            log.warning(
                "refused a malformed request for %s: %s",
                where,
                type(exc).__name__,
                extra={"request_id": exchange.request_id},
            )
            exchange.on_finish.extend(self.on_finish)
            exchange.finish()
        return response_bytes(status, body, exchange.request_id)


def response_bytes(status: int, body: bytes, request_id: str) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response carrying JSON."""
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER}: {request_id}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _by_prefix(method: str, path: str) -> str:
    """Without the route table: the protocol the path's prefix implies."""
    return protocol_for_path(path, {})
