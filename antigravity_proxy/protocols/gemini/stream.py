"""Upstream stream → the Gemini client's ``streamGenerateContent`` body.

The upstream always answers in SSE with each ``GenerateContentResponse`` wrapped
in ``{"response": ...}``. The client gets the unwrapped chunks, framed as the
real API frames them: ``data: <json>\\r\\n\\r\\n`` with ``alt=sse``, otherwise
one JSON array written incrementally (``[{...}``, ``,\\r\\n{...}``, ``]``). A
failure after the first byte ends the stream with a Gemini error object, never
an OpenAI-shaped chunk (the reference's [QUIRK], §8.3).

Gemini CLI needs a ``finishReason`` before the stream ends (without one it logs
"Model stream ended without a finish reason", retries and prints the reply
again), so an upstream stream that ends cleanly without one gets a last chunk
``{"candidates": [{"finishReason": "STOP", "index": 0}]}``, the default the
reference's collectors apply (§8.3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import GatewayError
from antigravity_proxy.protocols.gemini.chunk import TokenUsage, chunk_from_upstream
from antigravity_proxy.protocols.gemini.errors import error_body

DEFAULT_FINISH: Final = {"candidates": [{"finishReason": "STOP", "index": 0}]}


class GeminiStreamTranslator:
    """Re-frames upstream chunks for a Gemini client.

    :param sse: ``True`` for ``alt=sse`` (SSE events), ``False`` for the JSON
        array the API returns to ``streamGenerateContent`` without ``alt=sse``.

    ``signatures`` (functionCall id or name → thoughtSignature) and ``usage``
    (the last ``usageMetadata``) are what the stream carried; ``done`` turns
    true once the stream was closed by ``finish()`` or ``error()``.
    """

    def __init__(self, sse: bool) -> None:
        self.sse = sse
        self.signatures: dict[str, str] = {}
        self.usage: TokenUsage | None = None
        self.done = False
        self._sent = 0
        self._finished = False

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]:
        """One upstream ``data:`` JSON → the client's frame for it.

        Remembers the thought signatures of function calls on the way. An
        event with nothing in it (a bare envelope) is not forwarded.
        """
        if self.done:
            return []
        read = chunk_from_upstream(chunk)
        if not read.response:
            return []
        self.signatures.update(read.signatures)
        self.usage = read.usage or self.usage
        self._finished = self._finished or read.finished
        return [self._frame(read.response)]

    def finish(self) -> list[bytes]:
        """End of the upstream stream: a finish reason if none came, close the array.

        An empty stream stays empty (``[]``): there is nothing to finish.
        """
        if self.done:
            return []
        unfinished = self._sent and not self._finished
        frames = [self._frame(DEFAULT_FINISH)] if unfinished else []
        self.done = True
        if self.sse:
            return frames
        return [*frames, b"]" if self._sent else b"[]"]

    def error(self, err: GatewayError) -> list[bytes]:
        """A failure mid-stream: the Gemini error body as the last element."""
        if self.done:
            return []
        frame = self._frame(error_body(err))
        self.done = True
        return [frame] if self.sse else [frame, b"]"]

    def _frame(self, payload: Mapping[str, Any]) -> bytes:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        first = self._sent == 0
        self._sent += 1
        if self.sse:
            return f"data: {text}\r\n\r\n".encode()
        return (("[" if first else ",\r\n") + text).encode()
