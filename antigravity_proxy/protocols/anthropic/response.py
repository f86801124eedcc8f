"""Upstream response facts in Anthropic terms: stop reasons, usage, web search.

Owns the tables and small pure functions the stream translator (and through it
the non-streaming answer) builds on: ``finishReason`` -> ``stop_reason``,
token counts -> ``usage``, Google Search grounding ->
``web_search_tool_result`` content and text citations, stop-sequence detection
in streamed text, and the ``count_tokens`` answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from antigravity_proxy.protocols.anthropic.types import (
    StopReason,
    Usage,
    WebSearchResult,
)
from antigravity_proxy.protocols.gemini.chunk import Grounding, TokenUsage, WebSource

logger = logging.getLogger(__name__)

STOP_REASON_FROM_UPSTREAM: Final[Mapping[str, StopReason]] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
    "IMAGE_PROHIBITED_CONTENT": "refusal",
    "IMAGE_RECITATION": "refusal",
    "LANGUAGE": "end_turn",
    "MALFORMED_FUNCTION_CALL": "end_turn",
    "UNEXPECTED_TOOL_CALL": "end_turn",
    "FINISH_REASON_UNSPECIFIED": "end_turn",
    "OTHER": "end_turn",
}
DEFAULT_STOP_REASON: Final[StopReason] = "end_turn"
CITED_TEXT_LIMIT: Final = 150


def stop_reason_from_upstream(finish_reason: str | None) -> StopReason:
    """The ``stop_reason`` for a Gemini ``finishReason`` (None: the stream ended).

    Why ``refusal`` for SAFETY and the other content filters: it is Anthropic's
    reason for "the model's output was blocked by policy", which clients show as
    such instead of a silently truncated answer.
    """
    if finish_reason is None:
        return DEFAULT_STOP_REASON
    reason = STOP_REASON_FROM_UPSTREAM.get(finish_reason)
    if reason is None:
        logger.warning("unknown upstream finishReason %r -> end_turn", finish_reason)
        return DEFAULT_STOP_REASON
    return reason


def usage_from_upstream(usage: TokenUsage) -> Usage:
    """Anthropic ``usage`` from the upstream's token counts.

    ``input_tokens`` excludes cached tokens (Anthropic counts them apart in
    ``cache_read_input_tokens``); ``output_tokens`` includes thinking, which
    Anthropic bills as output; the upstream never reports cache writes.
    """
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return {
        "input_tokens": usage.prompt_tokens - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.candidates_tokens + usage.thoughts_tokens,
    }


def count_tokens_from_upstream(body: Mapping[str, Any]) -> dict[str, int]:
    """The ``/v1/messages/count_tokens`` answer for an upstream countTokens body."""
    return {"input_tokens": _count(body, "totalTokens")}


def search_results(grounding: Grounding) -> list[WebSearchResult]:
    """``web_search_result`` items for the grounding's web sources.

    ``encrypted_content`` is empty: the upstream gives no page content, and
    replayed search results are dropped from requests anyway.
    """
    return [
        {
            "type": "web_search_result",
            "url": web.url,
            "title": web.title,
            "encrypted_content": "",
            "page_age": None,
        }
        for web in grounding.sources
        if web is not None
    ]


def citations(grounding: Grounding) -> list[dict[str, Any]]:
    """One ``web_search_result_location`` per grounding support (its first source).

    ``cited_text`` is the supported answer segment, cut to Anthropic's 150
    characters; ``encrypted_index`` is empty (nothing to resolve it against).
    """
    out: list[dict[str, Any]] = []
    for support in grounding.supports:
        web = _source(grounding, support.chunk_indices)
        if web is not None:
            out.append(
                {
                    "type": "web_search_result_location",
                    "cited_text": support.text[:CITED_TEXT_LIMIT],
                    "url": web.url,
                    "title": web.title,
                    "encrypted_index": "",
                }
            )
    return out


def find_stop(text: str, sequences: Sequence[str]) -> tuple[int, str] | None:
    """The earliest stop sequence in ``text``: (its index, the sequence)."""
    best: tuple[int, str] | None = None
    for sequence in sequences:
        index = text.find(sequence) if sequence else -1
        if index >= 0 and (best is None or index < best[0]):
            best = (index, sequence)
    return best


def held_length(text: str, sequences: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could begin a stop sequence.

    Why hold them back: a sequence split across two upstream chunks must not be
    half-sent before it is recognised.
    """
    held = 0
    for sequence in sequences:
        for size in range(min(len(sequence) - 1, len(text)), held, -1):
            if text.endswith(sequence[:size]):
                held = size
                break
    return held


def _source(grounding: Grounding, indices: Sequence[int]) -> WebSource | None:
    """The web source of a support's first grounding chunk, if it is one."""
    if not indices or not 0 <= indices[0] < len(grounding.sources):
        return None
    return grounding.sources[indices[0]]


def _count(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
