"""A whole upstream answer, as one OpenAI ``chat.completion`` object.

Owns the non-stream collector. The upstream is always called in streaming mode;
the answer is the fold of exactly the chunks ``ChatStreamTranslator`` would have
streamed, so a client sees the same text, tool calls, finish reasons and usage
either way. ``completion_from_chunks`` is the fold alone, which the tests also run
over recorded SSE to prove that equality.

Dropped: ``logprobs`` (always null), ``refusal`` (always null: the upstream does
not separate refusals; a blocked answer has ``finish_reason: content_filter``),
``system_fingerprint``, ``service_tier``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from antigravity_proxy.protocols.gemini.chunk import TokenUsage
from antigravity_proxy.protocols.openai.chat_stream import (
    DEFAULT_FINISH_REASON,
    ChatStreamTranslator,
    usage_from_upstream,
)
from antigravity_proxy.protocols.openai.types import (
    ChatChoice,
    ChatCompletion,
    ChatContext,
    ChatMessage,
    ToolCall,
    Usage,
)


def response_from_upstream(
    chunks: Iterable[Mapping[str, Any]], ctx: ChatContext
) -> ChatCompletion:
    """The ``chat.completion`` for a list of upstream stream events."""
    return collect_from_upstream(chunks, ctx)[0]


def collect_from_upstream(
    chunks: Iterable[Mapping[str, Any]], ctx: ChatContext
) -> tuple[ChatCompletion, dict[str, str]]:
    """The ``chat.completion`` and the thought signatures seen (tool_call id ->
    signature), which the handler stores as it does after a stream.

    Why ``include_usage`` is forced on: a non-stream answer always has ``usage``.
    """
    translator = ChatStreamTranslator(replace(ctx, include_usage=True))
    emitted = [out for chunk in chunks for out in translator.feed_chunks(chunk)]
    emitted += translator.finish_chunks()
    return completion_from_chunks(emitted, ctx), translator.signatures


def completion_from_chunks(
    chunks: Iterable[Mapping[str, Any]], ctx: ChatContext
) -> ChatCompletion:
    """Fold ``chat.completion.chunk`` objects (ours, or parsed SSE) into one answer."""
    messages: dict[int, _Message] = {}
    usage: Usage | None = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            messages.setdefault(choice["index"], _Message()).add(choice)
    return {
        "id": ctx.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [messages[index].choice(index) for index in sorted(messages)],
        "usage": usage or usage_from_upstream(TokenUsage()),
    }


@dataclass(slots=True)
class _Message:
    """One choice's deltas, accumulated as a client library would."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None

    def add(self, choice: Mapping[str, Any]) -> None:
        delta = choice.get("delta") or {}
        self.content.append(delta.get("content") or "")
        self.reasoning.append(delta.get("reasoning_content") or "")
        for call in delta.get("tool_calls") or []:
            self._add_call(call)
        self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def _add_call(self, delta: Mapping[str, Any]) -> None:
        function = delta.get("function") or {}
        call = self.calls.setdefault(
            delta["index"],
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        call["id"] = delta.get("id") or call["id"]
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""

    def choice(self, index: int) -> ChatChoice:
        """The choice; ``content`` is null only when tool calls replace it."""
        content = "".join(self.content)
        message: ChatMessage = {
            "role": "assistant",
            "content": content if content or not self.calls else None,
            "refusal": None,
        }
        reasoning = "".join(self.reasoning)
        if reasoning:
            message["reasoning_content"] = reasoning
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return {
            "index": index,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason or DEFAULT_FINISH_REASON,
        }
