"""Upstream Gemini stream -> Anthropic Messages server-sent events.

Owns the official event sequence: ``message_start``, one ``ping``, per block
``content_block_start`` / ``content_block_delta``\\* / ``content_block_stop``,
then ``message_delta`` (stop reason, usage) and ``message_stop``; ``event:
error`` for a failure after the first byte. Every emitted event is also applied
to a message accumulator, so ``message()`` (the non-streaming answer) equals
what the stream carried, signatures included.

Block mapping: thought parts -> ``thinking`` (the upstream ``thoughtSignature``
wrapped by ``signature.encode_signature`` arrives as ``signature_delta`` just
before the block closes); text -> ``text``; ``functionCall`` -> ``tool_use`` with
its whole ``args`` as one ``input_json_delta`` (Gemini never streams partial
arguments). A signed ``functionCall`` without an open, unsigned thinking block
before it gets an empty signed ``thinking`` block (Anthropic's shape for omitted
thinking), so the signature survives the round trip without server state; a
thinking block the upstream never signed closes without ``signature_delta``
(Claude Code then replays ``"signature": ""``). Google Search
``groundingMetadata`` becomes, when the answer ends, ``citations_delta`` events
on the open text block, then per search query a ``server_tool_use`` (input
``{"query": q}``) and a ``web_search_tool_result`` (all sources on the first);
Claude Code's WebSearch reads its links from those results.

Dropped: ``inlineData``/``executableCode``/``codeExecutionResult`` parts (no
Anthropic output block), calls after the first when the client disabled parallel
tool use (``ctx.parallel_tool_use``), a signature on a text part outside
thinking (nothing validates it on replay), ``responseId``/``modelVersion`` (ids
and the model name come from the context), candidates after the first.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from antigravity_proxy.errors import GatewayError
from antigravity_proxy.protocols.anthropic.errors import error_body
from antigravity_proxy.protocols.anthropic.response import (
    citations,
    find_stop,
    held_length,
    search_results,
    stop_reason_from_upstream,
    usage_from_upstream,
)
from antigravity_proxy.protocols.anthropic.signature import encode_signature
from antigravity_proxy.protocols.anthropic.types import (
    MessagesContext,
    StopReason,
    Usage,
)
from antigravity_proxy.protocols.gemini.chunk import (
    Candidate,
    Chunk,
    Grounding,
    Part,
    TokenUsage,
    chunk_from_upstream,
)
from antigravity_proxy.sse import encode_event

TOOL_ID: Final = re.compile(r"[A-Za-z0-9_-]+")
EMPTY_BLOCK: Final[Mapping[str, Mapping[str, str]]] = {
    "text": {"type": "text", "text": ""},
    "thinking": {"type": "thinking", "thinking": "", "signature": ""},
}
DELTA_FIELD: Final[Mapping[str, str]] = {
    "text_delta": "text",
    "thinking_delta": "thinking",
}


class MessagesStreamTranslator:
    """Translates upstream SSE chunks as they arrive; one instance per response.

    :param ctx: ids, the client's model name and the stop sequences to detect.

    ``signatures`` maps each emitted tool_use id to the thoughtSignature the
    upstream put on its call, for the handler's store; ``usage`` is the last
    token count the upstream reported. ``done`` turns true once
    ``message_stop`` or an error was written; later chunks are ignored (after a
    stop sequence the handler may close the upstream early).
    """

    def __init__(self, ctx: MessagesContext) -> None:
        self.ctx = ctx
        self.signatures: dict[str, str] = {}
        self.usage: TokenUsage | None = None
        self.done = False
        self._out: list[bytes] = []
        self._started = False
        self._usage: Usage = usage_from_upstream(TokenUsage())
        self._message: dict[str, Any] = {}
        self._block: str | None = None
        self._pending: tuple[str, str] | None = None
        self._held = ""
        self._finish: str | None = None
        self._blocked = False
        self._stop_sequence: str | None = None
        self._tool_used = False
        self._generated_ids = 0
        self._grounding: Grounding | None = None

    def start(self) -> list[bytes]:
        """``message_start`` and one ``ping``, once (``feed`` calls it if needed)."""
        self._begin()
        return self._drain()

    def _begin(self) -> None:
        if not self._started:
            self._started = True
            self._message = {
                "id": self.ctx.message_id,
                "type": "message",
                "role": "assistant",
                "model": self.ctx.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": dict(self._usage),
            }
            self._emit(
                "message_start", {"type": "message_start", "message": self._message}
            )
            self._emit("ping", {"type": "ping"})

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]:
        """The events for one upstream chunk (bare or wrapped in ``response``)."""
        if self.done:
            return []
        read = chunk_from_upstream(chunk)
        if read.usage is not None:
            self.usage = read.usage
            self._usage = usage_from_upstream(read.usage)
        self._begin()
        self._parts(read.first.parts)
        self._read_end(read, read.first)
        if self._finish is not None or self._blocked or self._stop_sequence is not None:
            self._stop()
        return self._drain()

    def finish(self) -> list[bytes]:
        """End of the upstream stream: close whatever is still open."""
        if not self.done:
            self._begin()
            self._stop()
        return self._drain()

    def error(self, err: GatewayError) -> list[bytes]:
        """The in-band ``event: error`` for a failure after the first byte."""
        if self.done:
            return []
        self.done = True
        self._emit("error", error_body(err))
        return self._drain()

    def message(self) -> dict[str, Any]:
        """The complete message the stream has described so far."""
        return copy.deepcopy(self._message)

    def _parts(self, parts: tuple[Part, ...]) -> None:
        for part in parts:
            if self._stop_sequence is not None:
                return
            if part.thought:
                self._thought(part)
            elif part.function_call is not None:
                self._function_call(part)
            elif part.text is not None:
                self._text(part.text, part.signature)

    def _read_end(self, chunk: Chunk, candidate: Candidate) -> None:
        if candidate.grounding is not None:
            self._grounding = candidate.grounding
        if candidate.finish_reason is not None:
            self._finish = candidate.finish_reason
        if chunk.block_reason is not None:
            self._blocked = True

    def _thought(self, part: Part) -> None:
        self._open("thinking")
        if part.text:
            self._delta({"type": "thinking_delta", "thinking": part.text})
        if part.signature:
            self._pending = (part.signature, "thought")

    def _text(self, text: str, signature: str) -> None:
        if signature and self._block == "thinking" and self._pending is None:
            self._pending = (signature, "text")
        if text:
            self._open("text")
            self._add_text(text)

    def _add_text(self, text: str) -> None:
        """Text, minus a detected stop sequence and the tail that may begin one."""
        stops = self.ctx.stop_sequences
        buffer = self._held + text
        hit = find_stop(buffer, stops)
        if hit is not None:
            buffer, self._stop_sequence = buffer[: hit[0]], hit[1]
            self._held = ""
        elif stops:
            keep = held_length(buffer, stops)
            buffer, self._held = (
                buffer[: len(buffer) - keep],
                buffer[len(buffer) - keep :],
            )
        if buffer:
            self._delta({"type": "text_delta", "text": buffer})

    def _function_call(self, part: Part) -> None:
        if self._tool_used and not self.ctx.parallel_tool_use:
            return
        assert part.function_call is not None
        call = part.function_call
        signature = part.signature
        if signature:
            self._carry_call_signature(signature)
        self._close()
        tool_id = self._tool_id(call.id)
        if signature:
            self.signatures[tool_id] = signature
        args = copy.deepcopy(dict(call.args))
        block = {"type": "tool_use", "id": tool_id, "name": call.name, "input": {}}
        self._start_block(block, {**block, "input": args})
        partial = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
        self._delta({"type": "input_json_delta", "partial_json": partial})
        self._close()
        self._tool_used = True

    def _carry_call_signature(self, signature: str) -> None:
        """Put a call's signature on the open thinking block, or on a new empty one.

        A thinking block that already holds its own (thought) signature is closed
        first: the call needs its signature back on replay as well.
        """
        if self._block != "thinking" or self._pending is not None:
            self._close()
            self._open("thinking")
        self._pending = (signature, "call")

    def _tool_id(self, upstream_id: str | None) -> str:
        """The upstream's call id when Anthropic clients accept it, else ours."""
        if upstream_id is not None and TOOL_ID.fullmatch(upstream_id):
            return upstream_id
        self._generated_ids += 1
        return f"toolu_{self.ctx.id_seed}_{self._generated_ids}"

    def _ground(self, grounding: Grounding) -> None:
        """Search citations on the open text, then the search blocks themselves."""
        if self._block == "text":
            for citation in citations(grounding):
                self._delta({"type": "citations_delta", "citation": citation})
        self._close()
        results = search_results(grounding)
        queries = list(grounding.queries) or ([""] if results else [])
        for n, query in enumerate(queries, start=1):
            tool_id = f"srvtoolu_{self.ctx.id_seed}_{n}"
            block = {"type": "server_tool_use", "id": tool_id, "name": "web_search"}
            self._start_block(
                {**block, "input": {}}, {**block, "input": {"query": query}}
            )
            partial = json.dumps(
                {"query": query}, ensure_ascii=False, separators=(",", ":")
            )
            self._delta({"type": "input_json_delta", "partial_json": partial})
            self._close()
            content = results if n == 1 else []
            result = {"type": "web_search_tool_result", "tool_use_id": tool_id}
            self._start_block({**result, "content": content})
            self._close()
        if queries:
            self._usage = {
                **self._usage,
                "server_tool_use": {"web_search_requests": len(queries)},
            }

    def _stop(self) -> None:
        if self._grounding is not None:
            self._ground(self._grounding)
        self._close()
        delta = {
            "stop_reason": self._stop_reason(),
            "stop_sequence": self._stop_sequence,
        }
        usage = dict(self._usage)
        self._emit(
            "message_delta", {"type": "message_delta", "delta": delta, "usage": usage}
        )
        self._message.update(delta, usage=usage)
        self._emit("message_stop", {"type": "message_stop"})
        self.done = True

    def _stop_reason(self) -> StopReason:
        if self._stop_sequence is not None:
            return "stop_sequence"
        if self._blocked:
            return "refusal"
        reason = stop_reason_from_upstream(self._finish)
        if self._tool_used and reason != "refusal":
            return "tool_use"
        return reason

    def _open(self, kind: str) -> None:
        if self._block != kind:
            self._close()
            self._start_block(dict[str, Any](EMPTY_BLOCK[kind]))

    def _start_block(
        self, block: dict[str, Any], stored: dict[str, Any] | None = None
    ) -> None:
        index = len(self._message["content"])
        event = {"type": "content_block_start", "index": index, "content_block": block}
        self._emit("content_block_start", event)
        kept = copy.deepcopy(stored if stored is not None else block)
        if kept["type"] == "thinking":
            kept["signature"] = ""
        self._message["content"].append(kept)
        self._block = block["type"]

    def _delta(self, delta: dict[str, Any]) -> None:
        index = len(self._message["content"]) - 1
        event = {"type": "content_block_delta", "index": index, "delta": delta}
        self._emit("content_block_delta", event)
        block = self._message["content"][index]
        kind = delta["type"]
        if kind in DELTA_FIELD:
            block[DELTA_FIELD[kind]] += delta[DELTA_FIELD[kind]]
        elif kind == "signature_delta":
            block["signature"] = delta["signature"]
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta["citation"])

    def _close(self) -> None:
        if self._block is None:
            return
        if self._held:
            held, self._held = self._held, ""
            self._delta({"type": "text_delta", "text": held})
        if self._block == "thinking" and self._pending is not None:
            signature, placement = self._pending
            wrapped = encode_signature(signature, self.ctx.upstream_model, placement)
            self._delta({"type": "signature_delta", "signature": wrapped})
            self._pending = None
        index = len(self._message["content"]) - 1
        self._emit("content_block_stop", {"type": "content_block_stop", "index": index})
        self._block = None

    def _emit(self, event: str, data: Mapping[str, Any]) -> None:
        self._out.append(encode_event(data, event=event))

    def _drain(self) -> list[bytes]:
        out, self._out = self._out, []
        return out
