"""``Intake``: the bytes of one HTTP/1.x request as they arrive, and when it is whole.

The worker's main loop feeds each ``recv()`` to an ``Intake`` and hands the
connection to a thread only once ``feed`` says the request can be served without
waiting on the client again: the head and the whole body arrived, or there is
nothing worth waiting for (the declared body is over the limit, the framing is
broken, the head is too large). gunicorn's own parser then reads the same bytes
and decides what they mean; this module only needs to know where a request ends,
so it parses no more than ``Content-Length``, ``Transfer-Encoding`` (chunk sizes,
never their data) and ``Expect``; and the request line's method and path
(``target``), so that a request gunicorn refuses while parsing its head can
still be answered in the error format of the route it named.
"""

from __future__ import annotations

import enum
import re
from typing import Final
from urllib.parse import unquote, urlsplit

# A head larger than this is handed on unfinished; gunicorn's own limits then
# decide (usually 431/400) while the thread reads against the same deadline.
MAX_HEAD: Final = 64 * 1024
# A chunk-size line or a trailer line longer than this is not one.
MAX_CHUNK_LINE: Final = 8 * 1024
MAX_CHUNK_DIGITS: Final = 16
HEAD_ENDS: Final = (b"\r\n\r\n", b"\n\n")
CHUNKED: Final = -1
SMALL_READ: Final = 64 * 1024
# Longer request lines are gunicorn's 414 and name no route worth knowing.
MAX_TARGET_LINE: Final = 8 * 1024
METHOD: Final = re.compile(rb"[A-Za-z]{3,20}")


class Phase(enum.Enum):
    HEAD = "head"
    BODY = "body"
    READY = "ready"


class Intake:
    """One request's bytes, in arrival order, until ``phase`` is ``READY``.

    ``max_body`` is the largest body worth waiting for: a body declared or
    received past it is handed on at once, so the application answers 413
    having read no more than the limit.
    """

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.phase = Phase.HEAD
        self._pieces: list[bytes] = []
        self._small = bytearray()  # small reads, joined before they become a piece
        self.wants_continue = False
        self._head = bytearray()
        self._lead = 0  # empty-line bytes before the request line
        self._remaining = 0  # sized body: bytes still to come
        self._chunks: _ChunkScanner | None = None
        # (method, path) of the request line, once the head is in and sane.
        self.target: tuple[str, str] | None = None

    def feed(self, data: bytes) -> Phase:
        """Take one read's bytes; the phase after them."""
        if self.phase is Phase.READY:
            self._keep(data)
        elif self.phase is Phase.HEAD:
            self._feed_head(data)
        else:
            self._keep(data)
            self._feed_body(data)
        return self.phase

    @property
    def pieces(self) -> list[bytes]:
        """Everything received, in order (a body in pieces, never joined whole)."""
        self._flush()
        return self._pieces

    def _flush(self) -> None:
        if self._small:
            self._pieces.append(bytes(self._small))
            self._small.clear()

    def _keep(self, data: bytes) -> None:
        """Why join small reads: a body trickled in tiny reads would otherwise
        cost an object per read, many times its own size."""
        if len(data) >= SMALL_READ:
            self._flush()  # what came before, in order
            self._pieces.append(data)
            return
        self._small += data
        if len(self._small) >= SMALL_READ:
            self._flush()

    def _feed_head(self, data: bytes) -> None:
        # Only the tail of what was already searched can start the empty line
        # this read completes: a head sent a byte at a time costs linear time.
        searched = max(0, len(self._head) - 3)
        self._head += data
        if self._lead == len(self._head) - len(data):
            # Empty lines before the request line are allowed (RFC 9112 2.2).
            while self._lead < len(self._head) and self._head[self._lead] in b"\r\n":
                self._lead += 1
        end = _head_end(self._head, max(self._lead, searched))
        if end is None:
            if len(self._head) > MAX_HEAD:
                self._finish_head(bytes(self._head), b"", ready=True)
            return
        head, rest = bytes(self._head[:end]), bytes(self._head[end:])
        self._finish_head(head, rest, ready=False)

    def _finish_head(self, head: bytes, rest: bytes, *, ready: bool) -> None:
        self.target = request_target(head)
        self._keep(head)
        self._head = bytearray()
        self.phase = Phase.READY if ready else Phase.BODY
        if not ready:
            self._frame(head)
        if rest:
            self._keep(rest)
            if self.phase is Phase.BODY:
                self._feed_body(rest)

    def _frame(self, head: bytes) -> None:
        """Decide from the head how the body ends (or that there is none)."""
        framing = _framing(head)
        if framing is None or framing == 0:
            self.phase = Phase.READY  # nothing to wait for, or gunicorn refuses it
        elif framing == CHUNKED:
            self._chunks = _ChunkScanner(self.max_body)
        elif framing > self.max_body:
            self.phase = Phase.READY
        else:
            self._remaining = framing
        if self.phase is Phase.BODY:
            self.wants_continue = _expects_continue(head)

    def _feed_body(self, data: bytes) -> None:
        if self._chunks is None:
            self._remaining -= len(data)
            if self._remaining <= 0:
                self.phase = Phase.READY
        elif self._chunks.feed(data):
            self.phase = Phase.READY


class _ChunkScanner:
    """Follows chunk sizes to the end of a chunked body, skipping the data."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.decoded = 0
        self.skip = 0
        self.line = bytearray()
        self.in_trailers = False

    def feed(self, data: bytes) -> bool:
        """True once the body ended, went past ``max_body`` or broke its framing."""
        view = memoryview(data)
        while view:
            if self.skip:
                step = min(self.skip, len(view))
                self.skip -= step
                view = view[step:]
                continue
            newline = data.find(b"\n", len(data) - len(view))
            if newline < 0:
                self.line += view
                return len(self.line) > MAX_CHUNK_LINE
            taken = newline + 1 - (len(data) - len(view))
            self.line += view[:taken]
            view = view[taken:]
            if self._line_done(bytes(self.line).rstrip(b"\r\n")):
                return True
        return False

    def _line_done(self, line: bytes) -> bool:
        self.line.clear()
        if self.in_trailers:
            return not line
        size = _chunk_size(line)
        if size is None:
            return True
        if size == 0:
            self.in_trailers = True
            return False
        self.decoded += size
        self.skip = size + 2  # the data and its CRLF
        return self.decoded > self.max_body


def request_target(head: bytes) -> tuple[str, str] | None:
    """The method and path (percent-decoded, no query) the request line names.

    None when the line is not ``METHOD SP target SP version`` with an
    origin-form or absolute-form target: gunicorn refuses those, and they name
    no route. Nothing else is checked; gunicorn's parser decides what is valid.
    """
    line = head.lstrip(b"\r\n")[:MAX_TARGET_LINE].split(b"\n", 1)
    if len(line) < 2:
        return None
    bits = line[0].rstrip(b"\r").split(b" ")
    if len(bits) != 3 or not METHOD.fullmatch(bits[0]):
        return None
    target = bits[1].decode("latin-1")
    if not target.startswith("/") and "://" not in target:
        return None
    try:
        path = urlsplit(target).path if "://" in target else target
    except ValueError:
        return None
    path = path.split("?", 1)[0].split("#", 1)[0]
    return bits[0].decode("ascii"), unquote(path, encoding="latin-1")


def _head_end(buffer: bytearray, start: int) -> int | None:
    """Where the body starts, once the head's empty line arrived."""
    ends = [
        (found + len(end))
        for end in HEAD_ENDS
        if (found := buffer.find(end, start)) >= 0
    ]
    return min(ends) if ends else None


def _fields(head: bytes) -> dict[bytes, list[bytes]]:
    fields: dict[bytes, list[bytes]] = {}
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            fields.setdefault(name.strip().lower(), []).append(value.strip())
    return fields


def _framing(head: bytes) -> int | None:
    """The body's length, ``CHUNKED``, or None when gunicorn must judge it."""
    fields = _fields(head)
    lengths = fields.get(b"content-length", [])
    codings = fields.get(b"transfer-encoding", [])
    if codings:
        last = b",".join(codings).rsplit(b",", 1)[-1].strip().lower()
        return CHUNKED if last == b"chunked" and not lengths else None
    if not lengths:
        return 0
    if len(lengths) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
        return None
    return int(lengths[0])


def _expects_continue(head: bytes) -> bool:
    request_line = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    if request_line.rstrip(b"\r").endswith(b"HTTP/1.0"):
        return False
    return any(v.lower() == b"100-continue" for v in _fields(head).get(b"expect", []))


def _chunk_size(line: bytes) -> int | None:
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > MAX_CHUNK_DIGITS:
        return None
    if any(c not in b"0123456789abcdefABCDEF" for c in digits):
        return None
    return int(digits, 16)
