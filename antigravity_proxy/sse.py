"""Server-sent events, sans-IO: a decoder fed with bytes, and an encoder.

The decoder follows the HTML living standard's event-stream parsing: lines end in
CR, LF or CRLF (a CRLF may be split across two chunks), ``:`` starts a comment,
``data`` lines of one event are joined with ``\\n``, a blank line dispatches the
event, and an event with no ``data`` is dropped. It never does I/O, so the same
code serves the upstream reader, the tests and the benchmarks.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = ""
    id: str = ""

    def json(self) -> Any:
        """The ``data`` parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.data)


class SSEDecoder:
    """Incremental event-stream parser: ``feed(chunk)`` returns completed events."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # the current line, no CR or LF in it
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self._id = ""

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        # An incremental decoder: a multi-byte character may be split across chunks.
        text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return []
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = text.endswith("\r")
        if "\n" not in text and "\r" not in text:
            # Why: one event can be megabytes (an inline image); only the new
            # bytes are scanned, so decoding it costs linear time.
            self._partial.append(text)
            return []
        events: list[SSEEvent] = []
        for line in self._complete_lines(text):
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line still counts.

        Why: upstreams (and our fake) sometimes close right after the last
        ``data:`` line; dropping that event would lose the finish reason.
        """
        events: list[SSEEvent] = []
        line = "".join(self._partial) + self._utf8.decode(b"", final=True)
        self._partial = []
        if line:
            self._process_line(line)  # a non-empty line never dispatches
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _complete_lines(self, text: str) -> list[str]:
        joined = "".join(self._partial) + text
        normalized = joined.replace("\r\n", "\n").replace("\r", "\n")
        *lines, rest = normalized.split("\n")
        self._partial = [rest] if rest else []
        return lines

    def _process_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(data="\n".join(self._data), event=self._event, id=self._id)
        self._data = []
        self._event = ""
        return event


# ``json.dumps`` with these arguments builds the same encoder on every call.
_COMPACT_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_event(data: str | Any, event: str | None = None) -> bytes:
    """One SSE frame; non-string data is serialised as compact JSON.

    Why JSON needs no line split: its text escapes every control character, so
    it is a single ``data`` line (a frame per stream event, on the hot path).
    """
    head = f"event: {event}\n" if event else ""
    if isinstance(data, str):
        body = "".join(f"data: {line}\n" for line in data.split("\n"))
    else:
        body = f"data: {_COMPACT_JSON.encode(data)}\n"
    return (head + body + "\n").encode("utf-8")
