"""Upstream Gemini stream events, as OpenAI ``chat.completion.chunk`` SSE.

Owns the chat stream state machine (one ``ChatStreamTranslator`` per response, one
method per upstream event kind) and the mappings it shares with the non-stream
collector and legacy completions: finish reasons, usage, inline images
(upstream chunks are read by ``protocols.gemini.chunk``).
Frames follow the official API: a first chunk per choice with ``role`` and empty
``content``, content / ``reasoning_content`` deltas as they arrive, each tool call
as a header chunk (``index``, ``id``, ``type``, ``function.name``) then its
arguments, a finishing chunk with an empty delta, the usage chunk with empty
``choices`` when ``include_usage``, then ``data: [DONE]``.

Dropped upstream fields: ``groundingMetadata``, ``citationMetadata``,
``safetyRatings``, ``avgLogprobs``, ``modelVersion``, ``responseId`` (the client
sees ``ctx.id``), ``executableCode`` / ``codeExecutionResult`` / ``fileData`` parts,
thought images, and thought signatures on non-call parts.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from antigravity_proxy.errors import GatewayError
from antigravity_proxy.protocols.gemini.chunk import (
    Candidate,
    InlineData,
    Part,
    TokenUsage,
    chunk_from_upstream,
)
from antigravity_proxy.protocols.openai.errors import error_body
from antigravity_proxy.protocols.openai.types import (
    ChatCompletionChunk,
    ChatContext,
    ChatDelta,
    ChunkChoice,
    TextCompletion,
    ToolCallDelta,
    Usage,
)
from antigravity_proxy.sse import encode_event

logger = logging.getLogger(__name__)

FINISH_REASON_FROM_UPSTREAM: Final[Mapping[str, str]] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
    "NO_IMAGE": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
}
DEFAULT_FINISH_REASON: Final = "stop"
DONE: Final = encode_event("[DONE]")
NO_USAGE: Final = TokenUsage()
ChunkT = TypeVar("ChunkT", ChatCompletionChunk, TextCompletion)


def finish_reason_from_upstream(reason: str) -> str:
    """An upstream ``finishReason`` as OpenAI's; unknown ones are logged as stop."""
    mapped = FINISH_REASON_FROM_UPSTREAM.get(reason)
    if mapped is None:
        logger.warning("unknown upstream finishReason %r reported as stop", reason)
        return DEFAULT_FINISH_REASON
    return mapped


def usage_from_upstream(usage: TokenUsage) -> Usage:
    """The upstream's token counts as OpenAI ``usage``.

    Why thoughts count as completion tokens: OpenAI bills reasoning inside
    ``completion_tokens`` and reports it again in ``reasoning_tokens``. The total
    is recomputed so ``prompt + completion == total`` holds as on OpenAI (the
    upstream total also counts tool-use prompt tokens).
    """
    prompt = usage.prompt_tokens
    thoughts = usage.thoughts_tokens
    completion = usage.candidates_tokens + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def image_markdown(inline: InlineData) -> str:
    """An inlineData image as a markdown data-URL image, as chat clients render."""
    mime = inline.mime_type or "image/png"
    return f"![image](data:{mime};base64,{inline.data})"


def compact_json(value: Any) -> str:
    """Tool-call arguments as OpenAI sends them: compact JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class _Choice:
    index: int
    tool_calls: int = 0
    finished: bool = False


class CandidateStream(ABC, Generic[ChunkT]):
    """What chat and legacy completion streams share: SSE framing, usage, closing
    once, and the walk over each event's candidates. A subclass says what one
    candidate, a blocked prompt and the closing of the open choices produce.

    ``feed_chunks`` / ``finish_chunks`` return the chunk objects (the non-stream
    collectors fold them); ``feed`` / ``finish`` / ``error`` return SSE bytes.
    ``usage`` is the last token count the upstream reported, ``signatures`` the
    thought signatures of the emitted tool calls (a subclass fills it), ``done``
    true once the stream was closed.
    """

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx
        self.usage: TokenUsage | None = None
        self.signatures: dict[str, str] = {}
        self.done = False

    def feed(self, chunk: Mapping[str, Any]) -> list[bytes]:
        return [encode_event(out) for out in self.feed_chunks(chunk)]

    def finish(self) -> list[bytes]:
        if self.done:
            return []
        return [*(encode_event(out) for out in self.finish_chunks()), DONE]

    def error(self, err: GatewayError) -> list[bytes]:
        """The in-band error after the first byte: the error object, then DONE."""
        if self.done:
            return []
        self.done = True
        return [encode_event(error_body(err)), DONE]

    def feed_chunks(self, chunk: Mapping[str, Any]) -> list[ChunkT]:
        """The chunks for one upstream event (wrapped or bare)."""
        if self.done:
            return []
        read = chunk_from_upstream(chunk)
        self.usage = read.usage or self.usage
        if not read.candidates and read.block_reason is not None:
            return self._on_prompt_blocked()
        return [out for cand in read.candidates for out in self._on_candidate(cand)]

    def finish_chunks(self) -> list[ChunkT]:
        """Close every open choice, then the usage chunk when ``include_usage``."""
        if self.done:
            return []
        self.done = True
        out = self._close_choices()
        if self._ctx.include_usage:
            out.append(self._usage_chunk(usage_from_upstream(self.usage or NO_USAGE)))
        return out

    @abstractmethod
    def _on_candidate(self, candidate: Candidate) -> list[ChunkT]:
        """The chunks for one candidate of an event."""

    @abstractmethod
    def _on_prompt_blocked(self) -> list[ChunkT]:
        """The chunks when the upstream refused the prompt (no candidates)."""

    @abstractmethod
    def _close_choices(self) -> list[ChunkT]:
        """The finishing chunks of the choices still open (choice 0 at least)."""

    @abstractmethod
    def _usage_chunk(self, usage: Usage) -> ChunkT:
        """The last chunk: empty ``choices`` and the usage."""


class ChatStreamTranslator(CandidateStream[ChatCompletionChunk]):
    """Feeds upstream events in, gets ``chat.completion.chunk`` frames out.

    ``signatures`` maps each emitted tool-call id to the thoughtSignature the
    upstream attached to it, for the handler to store.

    :param ctx: ids, model name and ``include_usage`` of this response.
    """

    def __init__(self, ctx: ChatContext) -> None:
        super().__init__(ctx)
        self._choices: dict[int, _Choice] = {}
        self._generated_ids = 0

    def _close_choices(self) -> list[ChatCompletionChunk]:
        """Close every open choice (``stop`` if the upstream never said).

        Why choice 0 is opened on an empty stream: a client, and the non-stream
        collector, always get at least one choice, as from OpenAI.
        """
        out = self._opened(0) if not self._choices else []
        for index in sorted(self._choices):
            if not self._choices[index].finished:
                out += self._finished(self._choices[index], DEFAULT_FINISH_REASON)
        return out

    def _usage_chunk(self, usage: Usage) -> ChatCompletionChunk:
        return self._chunk([], usage)

    def _on_candidate(self, candidate: Candidate) -> list[ChatCompletionChunk]:
        index = candidate.index
        if index in self._choices and self._choices[index].finished:
            return []
        out = self._opened(index)
        choice = self._choices[index]
        for part in candidate.parts:
            out += self._on_part(choice, part)
        if candidate.finish_reason is not None:
            reason = finish_reason_from_upstream(candidate.finish_reason)
            out += self._finished(choice, reason)
        return out

    def _on_part(self, choice: _Choice, part: Part) -> list[ChatCompletionChunk]:
        if part.thought:
            return self._on_thought(choice, part.text or "")
        if part.function_call is not None:
            return self._on_function_call(choice, part)
        if part.inline_data is not None:
            return self._on_text(choice, image_markdown(part.inline_data))
        return self._on_text(choice, part.text or "")

    def _on_thought(self, choice: _Choice, text: str) -> list[ChatCompletionChunk]:
        return [self._delta(choice.index, {"reasoning_content": text})] if text else []

    def _on_text(self, choice: _Choice, text: str) -> list[ChatCompletionChunk]:
        return [self._delta(choice.index, {"content": text})] if text else []

    def _on_function_call(
        self, choice: _Choice, part: Part
    ) -> list[ChatCompletionChunk]:
        """A complete upstream call as OpenAI's two steps: header, then arguments."""
        assert part.function_call is not None
        call = part.function_call
        call_id = call.id or self._new_call_id()
        if part.signature:
            self.signatures[call_id] = part.signature
        index = choice.tool_calls
        choice.tool_calls += 1
        head: ToolCallDelta = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        arguments = compact_json(call.args)
        body: ToolCallDelta = {"index": index, "function": {"arguments": arguments}}
        return [
            self._delta(choice.index, {"tool_calls": [head]}),
            self._delta(choice.index, {"tool_calls": [body]}),
        ]

    def _on_prompt_blocked(self) -> list[ChatCompletionChunk]:
        out = self._opened(0)
        if not self._choices[0].finished:
            out += self._finished(self._choices[0], "content_filter")
        return out

    def _new_call_id(self) -> str:
        """``call_<ctx id suffix>_<n>``: deterministic and unique per response."""
        suffix = self._ctx.id.rsplit("-", 1)[-1]
        self._generated_ids += 1
        return f"call_{suffix}_{self._generated_ids}"

    def _opened(self, index: int) -> list[ChatCompletionChunk]:
        """The role chunk the first time choice ``index`` appears, else nothing."""
        if index in self._choices:
            return []
        self._choices[index] = _Choice(index)
        return [self._delta(index, {"role": "assistant", "content": ""})]

    def _finished(self, choice: _Choice, reason: str) -> list[ChatCompletionChunk]:
        """The finishing chunk; a stop after tool calls is ``tool_calls``."""
        choice.finished = True
        if reason == "stop" and choice.tool_calls:
            reason = "tool_calls"
        finishing: ChunkChoice = {
            "index": choice.index,
            "delta": {},
            "logprobs": None,
            "finish_reason": reason,
        }
        return [self._chunk([finishing])]

    def _delta(self, index: int, delta: ChatDelta) -> ChatCompletionChunk:
        return self._chunk(
            [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}]
        )

    def _chunk(
        self, choices: list[ChunkChoice], usage: Usage | None = None
    ) -> ChatCompletionChunk:
        """One chunk; with ``include_usage`` every chunk has ``usage`` (null but
        the last), as the official API documents."""
        chunk: ChatCompletionChunk = {
            "id": self._ctx.id,
            "object": "chat.completion.chunk",
            "created": self._ctx.created,
            "model": self._ctx.model,
            "choices": choices,
        }
        if self._ctx.include_usage:
            chunk["usage"] = usage
        return chunk
