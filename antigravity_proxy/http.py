"""Request and response bodies: the one place handlers parse and emit JSON.

Reading goes through Werkzeug's limited stream, so a body over
``proxy.max_body_bytes`` fails as 400/413 in the client's protocol before it is
read whole. Parsing is strict JSON (RFC 8259), as Google's and OpenAI's front ends
are: ``NaN``/``Infinity`` literals, numbers that overflow a double, lone UTF-16
surrogates, invalid UTF-8 and nesting past 1024 levels are all 400s
(``json_codec``), never a 500 or a body that cannot be re-encoded for the
upstream.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Final

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from antigravity_proxy import json_codec
from antigravity_proxy.errors import InvalidRequest, RequestTooLarge

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# A chunked body is spooled to a temporary file past this size, so a request
# near ``max_body_bytes`` does not also hold the spool copy in memory.
SPOOL_IN_MEMORY: Final = 1 << 20
READ_STEP: Final = 1 << 16


def sized_body(environ: WSGIEnvironment, limit: int) -> IO[bytes] | None:
    """Make the body's length known to every reader, or refuse it past ``limit``.

    Why: gunicorn marks every input terminated, and Werkzeug then bounds the
    body by ``max_content_length`` alone: a chunked body is silently *cut* at
    the limit (the handler sees the first ``limit`` bytes as if that were all),
    and a sized body of exactly ``limit`` bytes trips the limit when multipart
    parsing reads on to its end. So a sized body drops the mark and is read to
    its ``Content-Length``; a chunked one is read at most ``limit + 1`` bytes
    into a spool: one byte more than the limit is ``RequestTooLarge``, else the
    spool replaces the input with its length. The caller closes the returned
    spool once the handler has returned.
    """
    if environ.get("CONTENT_LENGTH"):
        environ.pop("wsgi.input_terminated", None)
        return None
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    spool = _spool(environ["wsgi.input"], limit)
    # What follows is a plain sized body: Werkzeug ignores the length of a
    # request still marked chunked.
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING")
    environ["wsgi.input"] = spool
    environ["CONTENT_LENGTH"] = str(spool.tell())
    spool.seek(0)
    return spool


def _spool(stream: IO[bytes], limit: int) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size = 0
    while size <= limit:
        data = _read_client(stream, min(READ_STEP, limit + 1 - size), spool)
        if not data:
            return spool
        size += len(data)
        spool.write(data)
    spool.close()
    raise RequestTooLarge(f"request body exceeds the limit of {limit} bytes")


def _read_client(stream: IO[bytes], size: int, spool: IO[bytes]) -> bytes:
    """One read of the client's body; broken framing or a cut is a 400.

    The server raises its own parse errors (a bad chunk size, a missing chunk
    terminator) or ``OSError`` from this read; all mean the client sent no
    well-formed body, and none may become a 500 or the server's HTML page.
    """
    try:
        return stream.read(size)
    except Exception as exc:
        spool.close()
        raise InvalidRequest(
            f"request body could not be read: {type(exc).__name__}"
        ) from exc


def read_body(request: Request) -> bytes:
    """The raw body, or ``RequestTooLarge`` past the configured limit."""
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise RequestTooLarge(
            "request body is larger than the gateway accepts"
        ) from exc


def read_json(request: Request) -> Any:
    """The body parsed as JSON; ``InvalidRequest`` when it is empty or malformed."""
    raw = read_body(request)
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object")
    return loads_strict(raw)


def loads_strict(raw: bytes) -> Any:
    """Parse a client's JSON; anything Python accepts but JSON does not is a 400.

    Why strict: ``NaN``, out-of-range numbers and lone surrogates cannot be sent
    on to the upstream, and are not JSON (``json_codec`` says which was found).
    """
    try:
        return json_codec.loads(raw)
    except json_codec.JsonError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc


def read_json_object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def dumps(value: Any) -> str:
    return json_codec.dumps(value).decode("utf-8")


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json_codec.dumps(value),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )
