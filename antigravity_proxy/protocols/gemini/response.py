"""Upstream ``GenerateContentResponse`` chunks → one response, and what to remember.

The gateway always streams from the upstream (protocol-translation.md §0), so a
non-streaming answer is the fold of the streamed chunks. ``merge_chunks`` is that
fold for every protocol: what a client collects equals what it would have seen
streamed. Unlike the reference collector (§8.3) it keeps every candidate, thought
parts, signatures, ``modelVersion`` and ``responseId``, as the real API does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from antigravity_proxy.protocols.gemini.chunk import (
    Candidate,
    Chunk,
    chunk_from_upstream,
)
from antigravity_proxy.upstream.envelope import unwrap_response

TEXT_PART_KEYS: Final = frozenset({"text", "thought", "thoughtSignature"})


def merge_chunks(chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fold streamed chunks into the response the non-streaming API returns.

    Per candidate ``index`` (0 when absent): parts are appended in order;
    adjacent text parts of the same kind (thought or not) are concatenated and
    keep the ``thoughtSignature`` one of them carried (two different signatures
    keep two parts); an empty unsigned text part is dropped once the candidate
    has a part; function calls, inline data and other parts are kept as they
    are. Any other candidate key (``finishReason``, ``safetyRatings``,
    ``groundingMetadata``, ``citationMetadata``...) and any top-level key
    (``usageMetadata``, ``modelVersion``, ``responseId``, ``promptFeedback``...)
    takes its last value. Candidates are sorted by index.
    """
    return merge_read([chunk_from_upstream(event) for event in chunks])


def merge_read(chunks: Sequence[Chunk]) -> dict[str, Any]:
    """``merge_chunks`` of chunks already read (each upstream event is read once).

    The result shares nested values with the chunks instead of copying them: it
    is built to be serialised, and neither it nor the chunks are changed after.
    Only the parts it joins text into are its own (shallow) copies.
    """
    top: dict[str, Any] = {}
    candidates: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for key, value in chunk.response.items():
            if key != "candidates":
                top[key] = value
        for candidate in chunk.candidates:
            _merge_candidate(candidates.setdefault(candidate.index, {}), candidate)
    if not candidates:
        return top
    return {"candidates": [candidates[i] for i in sorted(candidates)], **top}


def response_to_client(merged: Mapping[str, Any]) -> dict[str, Any]:
    """The Gemini client's ``generateContent`` body: the response, unwrapped."""
    return unwrap_response(dict(merged))


def _merge_candidate(target: dict[str, Any], candidate: Candidate) -> None:
    for key, value in candidate.raw.items():
        if key == "content" and isinstance(value, Mapping):
            _merge_content(target.setdefault("content", {}), value)
        else:
            target[key] = value


def _merge_content(target: dict[str, Any], content: Mapping[str, Any]) -> None:
    for key, value in content.items():
        if key == "parts" and isinstance(value, list):
            parts = target.setdefault("parts", [])
            for part in value:
                if isinstance(part, Mapping):
                    _append_part(parts, part)
        elif key == "role":
            target.setdefault("role", value)
        else:
            target[key] = value


def _append_part(parts: list[dict[str, Any]], part: Mapping[str, Any]) -> None:
    last = parts[-1] if parts else None
    if last is not None and _joinable(last, part):
        last["text"] += part["text"]
        if part.get("thoughtSignature"):
            last["thoughtSignature"] = part["thoughtSignature"]
        return
    if (
        parts
        and _is_text(part)
        and not part["text"]
        and not part.get("thoughtSignature")
    ):
        return
    parts.append(dict(part))  # its own copy: later text is joined into it


def _joinable(last: Mapping[str, Any], part: Mapping[str, Any]) -> bool:
    if not (_is_text(last) and _is_text(part)):
        return False
    if bool(last.get("thought")) != bool(part.get("thought")):
        return False
    return not (last.get("thoughtSignature") and part.get("thoughtSignature"))


def _is_text(part: Mapping[str, Any]) -> bool:
    return isinstance(part.get("text"), str) and TEXT_PART_KEYS.issuperset(part)
