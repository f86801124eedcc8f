"""Deterministic answers of the fake Cloud Code upstream (pure, no I/O).

Token counting, used by ``countTokens`` and as ``promptTokenCount``: the number of
whitespace-separated words in every ``text`` part of ``contents`` and
``systemInstruction``, plus 1 per part without text (functionCall, inlineData...);
tools are not counted.  The default reply to a generation request is, in order:
a function call when the request declares functions and the last user text
contains ``call <name>`` for a declared name (a ``thinking...`` thought part, then
``functionCall`` with placeholder args from the declared parameter types, id
``call-<name>-<len(contents)>`` and ``thoughtSignature`` ``sig-<16 hex>``); a JSON
text ``{"echo": <last user text>}`` in 2 chunks when
``generationConfig.responseMimeType`` is ``application/json``; otherwise
``echo: <last user text>`` in 3 chunks.  The last user text joins the text parts
of the last ``user`` content, plus ``<name> -> <json>`` per functionResponse part.
Only the final chunk carries ``finishReason`` and ``usageMetadata``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.fakes.cloudcode_steps import Chunk, Reply

CALL_PATTERN = re.compile(r"\bcall\s+([A-Za-z_][\w.\-]*)")
JSON_MIME = "application/json"


@dataclass(frozen=True)
class ReplyMeta:
    """Envelope values of one answer: model echoed as modelVersion, ids."""

    model: str
    response_id: str
    trace_id: str


def count_tokens(request: Mapping[str, Any]) -> int:
    """Count words in text parts plus one per non-text part."""
    return sum(_part_tokens(p) for c in _all_contents(request) for p in _parts(c))


def _all_contents(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    contents = list(request.get("contents") or [])
    system = request.get("systemInstruction")
    if isinstance(system, Mapping):
        contents.append(system)
    return [c for c in contents if isinstance(c, Mapping)]


def _parts(content: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in content.get("parts") or [] if isinstance(p, Mapping)]


def _part_tokens(part: Mapping[str, Any]) -> int:
    text = part.get("text")
    return len(text.split()) if isinstance(text, str) else 1


def last_user_content(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the last content whose role is ``user`` (or missing)."""
    for content in reversed(request.get("contents") or []):
        if isinstance(content, Mapping) and content.get("role", "user") == "user":
            return content
    return None


def _plain_texts(content: Mapping[str, Any] | None) -> list[str]:
    if content is None:
        return []
    return [
        p["text"]
        for p in _parts(content)
        if isinstance(p.get("text"), str) and not p.get("thought")
    ]


def last_user_text(request: Mapping[str, Any]) -> str:
    """Join the last user content's texts and rendered function responses."""
    content = last_user_content(request)
    pieces = _plain_texts(content)
    for part in _parts(content) if content is not None else []:
        response = part.get("functionResponse")
        if isinstance(response, Mapping):
            rendered = json.dumps(response.get("response"), sort_keys=True)
            pieces.append(f"{response.get('name')} -> {rendered}")
    return " ".join(pieces)


def requested_call(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the declaration named by ``call <name>`` in the last user text."""
    declarations = {
        d["name"]: d
        for tool in request.get("tools") or []
        for d in tool.get("functionDeclarations") or []
        if isinstance(d, Mapping) and "name" in d
    }
    text = " ".join(_plain_texts(last_user_content(request)))
    for match in CALL_PATTERN.finditer(text):
        name = match.group(1).rstrip(".-")
        if name in declarations:
            return declarations[name]
    return None


def _placeholder(schema_type: str) -> Any:
    fresh: dict[str, Any] = {
        "number": 1,
        "integer": 1,
        "boolean": True,
        "array": [],
        "object": {},
    }
    return fresh.get(schema_type, "x")


def placeholder_args(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """Build one value per declared property, by its schema type."""
    schema = declaration.get("parameters") or declaration.get("parametersJsonSchema")
    properties = (schema or {}).get("properties") or {}
    return {
        name: _placeholder(str(prop.get("type", "string")).lower())
        for name, prop in properties.items()
        if isinstance(prop, Mapping)
    }


def split_text(text: str, pieces: int) -> list[dict[str, Any]]:
    """Cut ``text`` into up to ``pieces`` text parts of near-equal length."""
    size = max(1, math.ceil(len(text) / pieces))
    return [{"text": text[i : i + size]} for i in range(0, len(text), size)]


def default_reply(request: Mapping[str, Any]) -> Reply:
    """Choose the default answer (see the module docstring)."""
    declaration = requested_call(request)
    if declaration is not None:
        return _call_reply(declaration, request)
    text = last_user_text(request)
    config = request.get("generationConfig") or {}
    if config.get("responseMimeType") == JSON_MIME:
        return Reply(split_text(json.dumps({"echo": text}), 2))
    return Reply(split_text(f"echo: {text}", 3))


def _call_reply(declaration: Mapping[str, Any], request: Mapping[str, Any]) -> Reply:
    name = declaration["name"]
    seed = f"{name}:{last_user_text(request)}".encode()
    call = {
        "name": name,
        "args": placeholder_args(declaration),
        "id": f"call-{name}-{len(request.get('contents') or [])}",
    }
    signature = "sig-" + hashlib.sha256(seed).hexdigest()[:16]
    thought = {"text": "thinking...", "thought": True}
    return Reply([thought, {"functionCall": call, "thoughtSignature": signature}])


def _words(parts: Sequence[Mapping[str, Any]], thought: bool) -> int:
    chosen = [p for p in parts if bool(p.get("thought")) == thought]
    text = "".join(p["text"] for p in chosen if isinstance(p.get("text"), str))
    return len(text.split()) + sum(1 for p in chosen if "text" not in p)


def usage_for(
    request: Mapping[str, Any], parts: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Compute usageMetadata: prompt, candidates, thoughts (if any), total."""
    prompt, thoughts = count_tokens(request), _words(parts, thought=True)
    candidates = _words(parts, thought=False)
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt + candidates + thoughts
    return usage


def make_chunk(
    parts: Sequence[Mapping[str, Any]],
    meta: ReplyMeta,
    finish_reason: str | None = None,
    usage: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Build one inner GenerateContentResponse."""
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [dict(p) for p in parts]},
        "index": 0,
    }
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    chunk: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        chunk["usageMetadata"] = dict(usage)
    chunk.update(modelVersion=meta.model, responseId=meta.response_id)
    return chunk


def reply_chunks(
    reply: Reply, request: Mapping[str, Any], meta: ReplyMeta
) -> list[dict[str, Any]]:
    """Stream a Reply as one chunk per part; the last finishes with usage."""
    usage = reply.usage if reply.usage is not None else usage_for(request, reply.parts)
    parts = list(reply.parts)
    head = [make_chunk([part], meta) for part in parts[:-1]]
    return head + [make_chunk(parts[-1:], meta, reply.finish_reason, usage)]


def _mergeable(part: Mapping[str, Any]) -> bool:
    return isinstance(part.get("text"), str) and set(part) <= {"text", "thought"}


def merge_parts(parts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Join adjacent plain text parts of the same kind (thought or not)."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        last = merged[-1] if merged else None
        same_kind = last is not None and last.get("thought") == part.get("thought")
        if last is not None and same_kind and _mergeable(last) and _mergeable(part):
            last["text"] += part["text"]
        else:
            merged.append(dict(part))
    return merged


def merge_chunks(chunks: Sequence[Chunk]) -> dict[str, Any]:
    """Collapse stream chunks into one non-stream response (bytes are skipped)."""
    dicts = [c for c in chunks if isinstance(c, Mapping)]
    if not dicts:
        return {"candidates": []}
    parts = [
        p
        for chunk in dicts
        for candidate in (chunk.get("candidates") or [])[:1]
        for p in (candidate.get("content") or {}).get("parts") or []
    ]
    last = dict(dicts[-1])
    candidate = dict((last.get("candidates") or [{}])[0])
    candidate["content"] = {"role": "model", "parts": merge_parts(parts)}
    last["candidates"] = [candidate]
    return last


def envelope(chunk: Mapping[str, Any], meta: ReplyMeta) -> dict[str, Any]:
    """Wrap an inner response the way v1internal does."""
    return {"response": dict(chunk), "traceId": meta.trace_id}


def sse_event(chunk: Chunk, meta: ReplyMeta) -> bytes:
    """Encode one SSE event (``bytes`` chunks pass through verbatim)."""
    if isinstance(chunk, bytes):
        return chunk
    return b"data: " + json.dumps(envelope(chunk, meta)).encode() + b"\r\n\r\n"
