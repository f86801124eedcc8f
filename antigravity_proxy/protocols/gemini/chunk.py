"""One upstream ``GenerateContentResponse`` chunk, read once into typed values.

The upstream answers every model call with Gemini ``GenerateContentResponse``
chunks, each wrapped in the ``v1internal`` envelope (``{"response": {...}}``,
sometimes bare). ``chunk_from_upstream`` is the only code that looks inside one:
every translator, streamed or not, in every protocol (OpenAI chat, completions
and Responses, Anthropic, Gemini, images, audio) reads ``candidates``, parts,
``finishReason``, ``usageMetadata``, ``groundingMetadata``, ``promptFeedback``
and thought signatures from the ``Chunk`` it returns.

The reader is forgiving, because an odd chunk must not break a stream that is
already flowing: a value of the wrong JSON type reads as absent (a candidate or
part that is not an object is skipped, a count that is not an integer is 0, an
empty ``finishReason`` is none). A candidate without ``index`` is candidate 0,
as proto3 JSON omits zero values. The raw JSON stays reachable (``Chunk.response``,
``Candidate.raw``, ``Part.raw``) for the Gemini passthrough, which forwards the
upstream's own objects; nothing here copies or mutates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, Final, TypeGuard

from antigravity_proxy.records import record
from antigravity_proxy.upstream.envelope import unwrap_response


@record
class FunctionCall:
    """A ``functionCall`` part's call: Gemini always sends it whole.

    ``id`` is None when the upstream gave none (or not a non-empty string);
    ``args`` is the upstream's object (empty when absent), not a copy.
    """

    name: str
    args: Mapping[str, Any]
    id: str | None = None

    @property
    def key(self) -> str:
        """What a replayed call is recognised by: its id, else its name."""
        return self.id or self.name


@record
class InlineData:
    """An ``inlineData`` part's blob: base64 ``data`` and its declared type."""

    mime_type: str | None
    data: str


@record
class Part:
    """One content part; the fields that do not apply are None / False / ""."""

    raw: Mapping[str, Any]
    text: str | None = None
    thought: bool = False
    signature: str = ""
    function_call: FunctionCall | None = None
    inline_data: InlineData | None = None


@record
class WebSource:
    """A ``groundingChunks[].web`` source; the title falls back to the URL."""

    url: str
    title: str


@record
class Support:
    """A ``groundingSupports`` entry: an answer segment and the sources behind it."""

    text: str
    chunk_indices: tuple[int, ...]


@record
class Grounding:
    """A candidate's Google Search ``groundingMetadata``.

    ``sources`` is aligned with ``groundingChunks`` (None for a chunk that is
    not a web source), so ``Support.chunk_indices`` index into it.
    """

    queries: tuple[str, ...] = ()
    sources: tuple[WebSource | None, ...] = ()
    supports: tuple[Support, ...] = ()


@record
class TokenUsage:
    """``usageMetadata``, as the upstream counts (absent counts are 0).

    ``candidates_tokens`` excludes thinking (``thoughts_tokens``);
    ``cached_tokens`` is part of ``prompt_tokens``; ``prompt_details`` holds the
    prompt's (modality, tokens) pairs from ``promptTokensDetails``.
    """

    prompt_tokens: int = 0
    candidates_tokens: int = 0
    thoughts_tokens: int = 0
    cached_tokens: int = 0
    tool_use_prompt_tokens: int = 0
    total_tokens: int = 0
    prompt_details: tuple[tuple[str, int], ...] = ()

    def prompt_tokens_of(self, modality: str) -> int:
        """The prompt tokens of one modality (``IMAGE``, ``AUDIO``, ``TEXT``...)."""
        return sum(tokens for kind, tokens in self.prompt_details if kind == modality)


@record
class Candidate:
    """One candidate of a chunk; its ``index`` says which choice it continues."""

    index: int = 0
    parts: tuple[Part, ...] = ()
    finish_reason: str | None = None
    grounding: Grounding | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


EMPTY_CANDIDATE: Final = Candidate()


@record
class Chunk:
    """One upstream chunk: its candidates, usage and prompt feedback.

    ``response`` is the unwrapped ``GenerateContentResponse`` itself.
    """

    response: Mapping[str, Any] = field(default_factory=dict)
    candidates: tuple[Candidate, ...] = ()
    usage: TokenUsage | None = None
    block_reason: str | None = None

    @property
    def first(self) -> Candidate:
        """The first candidate (an empty one when there is none).

        Why the first in the list: the protocols that ask for one candidate read
        only that one; the others are dropped.
        """
        return self.candidates[0] if self.candidates else EMPTY_CANDIDATE

    @property
    def finished(self) -> bool:
        """True when a candidate of this chunk carries a ``finishReason``."""
        return any(c.finish_reason is not None for c in self.candidates)

    @property
    def signatures(self) -> dict[str, str]:
        """functionCall id (or name, when it has no id) → its thoughtSignature.

        Why: a client may replay a call without its signature; the handler
        stores these so the next request can restore them.
        """
        return {
            part.function_call.key: part.signature
            for candidate in self.candidates
            for part in candidate.parts
            if part.function_call is not None
            and part.function_call.key
            and part.signature
        }


def chunk_from_upstream(event: Any) -> Chunk:
    """Read one upstream SSE event (or non-streamed body), wrapped or bare."""
    response = unwrap_response(event)
    if not response:
        return Chunk()
    raw = response.get("candidates")
    feedback = response.get("promptFeedback")
    block = feedback.get("blockReason") if isinstance(feedback, dict) else None
    meta = response.get("usageMetadata")
    return Chunk(
        response,
        tuple([_candidate(c) for c in raw if isinstance(c, dict)])
        if isinstance(raw, list)
        else (),
        usage_from_metadata(meta) if isinstance(meta, dict) else None,
        str(block) if block else None,
    )


def usage_from_metadata(meta: Mapping[str, Any]) -> TokenUsage:
    """The counts of one ``usageMetadata`` object."""
    details = tuple(
        (d["modality"], _count(d, "tokenCount"))
        for d in _list(meta.get("promptTokensDetails"))
        if _is_object(d) and isinstance(d.get("modality"), str)
    )
    return TokenUsage(
        prompt_tokens=_count(meta, "promptTokenCount"),
        candidates_tokens=_count(meta, "candidatesTokenCount"),
        thoughts_tokens=_count(meta, "thoughtsTokenCount"),
        cached_tokens=_count(meta, "cachedContentTokenCount"),
        tool_use_prompt_tokens=_count(meta, "toolUsePromptTokenCount"),
        total_tokens=_count(meta, "totalTokenCount"),
        prompt_details=details,
    )


def _candidate(raw: Mapping[str, Any]) -> Candidate:
    index = raw.get("index")
    reason = raw.get("finishReason")
    grounding = raw.get("groundingMetadata")
    content = raw.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return Candidate(
        index if _is_int(index) else 0,
        tuple([_part(p) for p in parts if isinstance(p, dict)])
        if isinstance(parts, list)
        else (),
        reason if isinstance(reason, str) and reason else None,
        _grounding(grounding) if isinstance(grounding, dict) else None,
        raw,
    )


def _part(raw: Mapping[str, Any]) -> Part:
    """One part. The signature is read under either spelling (the upstream
    writes ``thoughtSignature``; some paths echo ``thought_signature``)."""
    text = raw.get("text")
    signature = raw.get("thoughtSignature") or raw.get("thought_signature")
    call = raw.get("functionCall")
    inline = raw.get("inlineData")
    return Part(
        raw,
        text if isinstance(text, str) else None,
        raw.get("thought") is True,
        signature if isinstance(signature, str) else "",
        _function_call(call) if isinstance(call, dict) else None,
        _inline_data(inline) if isinstance(inline, dict) else None,
    )


def _function_call(raw: Mapping[str, Any]) -> FunctionCall:
    name, args, call_id = raw.get("name"), raw.get("args"), raw.get("id")
    return FunctionCall(
        name=name if isinstance(name, str) else "",
        args=args if _is_object(args) else {},
        id=call_id if isinstance(call_id, str) and call_id else None,
    )


def _inline_data(raw: Mapping[str, Any]) -> InlineData:
    mime_type, data = raw.get("mimeType"), raw.get("data")
    return InlineData(
        mime_type=mime_type if isinstance(mime_type, str) and mime_type else None,
        data=data if isinstance(data, str) else "",
    )


def _grounding(raw: Mapping[str, Any]) -> Grounding:
    queries = _list(raw.get("webSearchQueries"))
    return Grounding(
        queries=tuple(q for q in queries if isinstance(q, str) and q),
        sources=tuple(_source(c) for c in _list(raw.get("groundingChunks"))),
        supports=tuple(
            _support(s)
            for s in _list(raw.get("groundingSupports"))
            if _is_object(s) and _is_object(s.get("segment"))
        ),
    )


def _source(chunk: Any) -> WebSource | None:
    web = chunk.get("web") if _is_object(chunk) else None
    if not _is_object(web) or not isinstance(web.get("uri"), str):
        return None
    title = web.get("title")
    return WebSource(web["uri"], title if isinstance(title, str) else web["uri"])


def _support(raw: Mapping[str, Any]) -> Support:
    text = raw["segment"].get("text")
    indices = _list(raw.get("groundingChunkIndices"))
    return Support(
        text=text if isinstance(text, str) else "",
        chunk_indices=tuple(i for i in indices if _is_int(i)),
    )


def _count(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    return value if _is_int(value) else 0


def _is_int(value: Any) -> TypeGuard[int]:
    return type(value) is int  # JSON numbers: never a bool, never a subclass


def _is_object(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
