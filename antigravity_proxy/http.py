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

import io
import tempfile
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, cast
from urllib.parse import quote

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import LimitedStream

from antigravity_proxy import json_codec
from antigravity_proxy.errors import InvalidRequest, RequestTooLarge
from antigravity_proxy.protocols.shape import Shape, check_shape

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# A chunked body is spooled to a temporary file past this size, so a request
# near ``max_body_bytes`` does not also hold the spool copy in memory.
SPOOL_IN_MEMORY: Final = 1 << 20
READ_STEP: Final = 1 << 16
HEADER_TEXT_MAX: Final = 256
HEADER_SAFE: Final = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


class ServerStream(Protocol):
    """What ``WholeBody`` needs of the server's ``wsgi.input``."""

    def read(self, size: int, /) -> bytes: ...


class WholeBody(io.RawIOBase):
    """The body of a request with a ``Content-Length``, read whole in one call.

    Werkzeug's ``LimitedStream`` semantics for a sized body: never more than
    ``length`` bytes, and a client that stops sending early (no bytes, or the
    server's read failing) is ``ClientDisconnected``. Why not Werkzeug's: its
    ``readall`` (what ``get_data`` calls) reads 64 KiB at a time through a
    ``bytearray``, and gunicorn answers each such read by copying what it holds
    beyond it twice; asking the server for the whole rest at once cost a 700 KB
    agent request about 2.5 ms of CPU less, a 3 MB one about 10 ms.
    """

    def __init__(self, stream: ServerStream, length: int) -> None:
        self.stream = stream
        self.length = length
        self.left = length

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.length - self.left

    def readinto(self, buffer: Any) -> int:
        data = self._take(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        parts = []
        while self.left > 0:
            parts.append(self._take(self.left))
        return b"".join(parts)

    def _take(self, size: int) -> bytes:
        """Up to ``size`` bytes of what is left (none once all was read)."""
        size = min(size, self.left)
        if size <= 0:
            return b""
        try:
            data = self.stream.read(size)
        except (OSError, ValueError) as exc:
            raise ClientDisconnected() from exc
        if not data:
            raise ClientDisconnected()
        self.left -= len(data)
        return data


class GatewayRequest(Request):
    """A request that closes every upload file it opened, parsed or not.

    Why: Werkzeug hands an upload's temporary file to the form only once the
    whole form parsed; a truncated or malformed multipart body leaves the files
    of its parts open (``Request.close`` cannot see them) until the collector.
    A body of known length is read through ``WholeBody``.
    """

    def __init__(self, environ: WSGIEnvironment) -> None:
        super().__init__(environ)
        self.opened: list[IO[bytes]] = []

    @cached_property
    def stream(self) -> IO[bytes]:
        """Werkzeug's stream; ``WholeBody`` where that limits to the length."""
        stream = super().stream
        if (
            isinstance(stream, LimitedStream)
            and "wsgi.input_terminated" not in self.environ
        ):
            return cast(IO[bytes], WholeBody(self.input_stream, stream.limit))
        return stream

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self.opened.append(stream)
        return stream

    def make_form_data_parser(self) -> FormDataParser:
        """A parser that raises on a malformed form (``read_form`` says why).

        Werkzeug's default swallows the error and reports an empty form, which
        a client would read as "missing prompt".
        """
        parser = super().make_form_data_parser()
        parser.silent = False
        return parser

    def close(self) -> None:
        super().close()
        for stream in self.opened:
            stream.close()
        self.opened.clear()


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


def read_form(request: Request) -> dict[str, str]:
    """The text fields of a multipart form (first value of each), parts checked.

    Why the checks: Werkzeug parses a JSON body as an empty form, so a client
    that sent the wrong encoding would otherwise read "missing prompt"; and a
    part without ``name=`` is filed under ``None``, which every later lookup
    trips over.
    """
    if request.mimetype != "multipart/form-data":
        raise InvalidRequest(
            "this endpoint expects multipart/form-data (file uploads), "
            f"got {header_text(request.mimetype or 'no content type')}"
        )
    try:
        request.form  # noqa: B018 (parses the form and the files)
    except ValueError as exc:
        raise InvalidRequest(
            f"the multipart body is malformed: {header_text(str(exc))}"
        ) from None
    for parts in (request.form, request.files):
        if any(not isinstance(name, str) for name in parts):
            raise InvalidRequest(
                "every multipart part needs a name= in its Content-Disposition"
            )
    return request.form.to_dict()


def read_json_object(request: Request, shape: Shape | None = None) -> dict[str, Any]:
    """The body as a JSON object, checked against the protocol's ``shape``.

    Why the shape here: it is the one boundary every JSON route passes, so no
    translator sees a list where it branches on a string tag.
    """
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    if shape is not None:
        check_shape(body, shape)
    return body


def dumps(value: Any) -> str:
    return json_codec.dumps(value).decode("utf-8")


def header_text(value: str, limit: int = HEADER_TEXT_MAX) -> str:
    """Client-supplied text made safe for a response header or a message.

    Anything outside printable ASCII (CR, LF, other controls, non-ASCII) and
    ``%`` itself are percent-encoded, so nothing can end the header or forge
    another; the result is cut to ``limit`` characters (``...`` marks a cut),
    because clients and gunicorn fail on huge headers.
    """
    escaped = quote(value, safe=HEADER_SAFE)
    if len(escaped) <= limit:
        return escaped
    return escaped[: limit - 3] + "..."


def safe_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Every value through ``header_text``: the one gate for headers we build."""
    return {name: header_text(value) for name, value in (headers or {}).items()}


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json_codec.dumps(value),
        status=status,
        headers=safe_headers(headers),
        mimetype="application/json",
    )
