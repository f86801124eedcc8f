"""The upstream chunk reader: golden fixtures, and every translator reading through it.

Fixtures live in ``tests/golden/gemini_chunk/<case>/``: ``upstream.json`` (one
upstream SSE event or body) -> ``chunk.json`` (what ``chunk_from_upstream``
read, raw JSON left out). ``UPDATE_GOLDEN=1`` rewrites the expected files.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from antigravity_proxy.errors import UpstreamUnavailable
from antigravity_proxy.protocols.anthropic.stream import MessagesStreamTranslator
from antigravity_proxy.protocols.anthropic.types import MessagesContext
from antigravity_proxy.protocols.gemini.chunk import (
    EMPTY_CANDIDATE,
    Chunk,
    TokenUsage,
    chunk_from_upstream,
    usage_from_metadata,
)
from antigravity_proxy.protocols.gemini.stream import GeminiStreamTranslator
from antigravity_proxy.protocols.openai.chat_stream import ChatStreamTranslator
from antigravity_proxy.protocols.openai.completions import (
    CompletionStreamTranslator,
)
from antigravity_proxy.protocols.openai.responses_stream import (
    ResponsesStreamTranslator,
)
from antigravity_proxy.protocols.openai.responses_types import ResponsesContext
from antigravity_proxy.protocols.openai.types import ChatContext
from antigravity_proxy.streaming import StreamTranslator
from tests.golden_files import check_json, load

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "gemini_chunk"
CASES = sorted(p.parent for p in GOLDEN.glob("*/upstream.json"))
RAW_FIELDS = ("raw", "response")


def plain(chunk: Chunk) -> dict[str, Any]:
    """The chunk as JSON, without the raw upstream objects it keeps."""
    return {
        **_without_raw(dataclasses.asdict(chunk)),
        "first_index": chunk.first.index,
        "finished": chunk.finished,
        "signatures": chunk.signatures,
    }


def _without_raw(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_raw(v) for k, v in value.items() if k not in RAW_FIELDS}
    if isinstance(value, list | tuple):
        return [_without_raw(v) for v in value]
    return value


def test_golden_cases_found():
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_chunk_from_upstream_golden(case):
    upstream = load(case / "upstream.json")
    check_json(case / "chunk.json", plain(chunk_from_upstream(upstream)))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_chunk_keeps_the_raw_objects_without_copying(case):
    upstream = load(case / "upstream.json")
    chunk = chunk_from_upstream(upstream)
    inner = upstream.get("response", upstream) if isinstance(upstream, dict) else {}
    assert chunk.response == inner
    if chunk.response:
        assert chunk.response is inner
    raws = [c for c in inner.get("candidates", []) if isinstance(c, dict)]
    assert [c.raw for c in chunk.candidates] == (
        raws if isinstance(inner.get("candidates"), list) else []
    )
    for candidate in chunk.candidates:
        parts = candidate.raw.get("content", {})
        parts = parts.get("parts", []) if isinstance(parts, dict) else []
        assert [p.raw for p in candidate.parts] == [
            p for p in parts if isinstance(p, dict)
        ]


def test_first_is_an_empty_candidate_when_there_is_none():
    chunk = chunk_from_upstream({"response": {"modelVersion": "m"}})
    assert chunk.candidates == ()
    assert chunk.first is EMPTY_CANDIDATE
    assert chunk.first.parts == () and chunk.first.raw == {}


def test_token_usage_modalities_sum_and_default_to_zero():
    usage = usage_from_metadata(
        {
            "promptTokensDetails": [
                {"modality": "AUDIO", "tokenCount": 4},
                {"modality": "AUDIO", "tokenCount": 3},
                {"modality": "TEXT", "tokenCount": 1},
            ]
        }
    )
    assert usage.prompt_tokens_of("AUDIO") == 7
    assert usage.prompt_tokens_of("IMAGE") == 0
    assert TokenUsage().prompt_tokens_of("TEXT") == 0


STREAM = [
    {
        "response": {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "hm", "thought": True},
                            {
                                "functionCall": {"id": "c1", "name": "f", "args": {}},
                                "thoughtSignature": "sig-1",
                            },
                        ]
                    }
                }
            ]
        }
    },
    {"response": {"candidates": [{"content": {"parts": []}}]}},
    {
        "response": {
            "candidates": [{"content": {"parts": []}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3},
        }
    },
]
LAST_USAGE = TokenUsage(prompt_tokens=5, candidates_tokens=3)


def translators() -> dict[str, StreamTranslator]:
    chat = ChatContext(id="chatcmpl-1", created=1, model="m")
    responses = ResponsesContext(
        response_id="resp_1", created_at=1, model="m", upstream_model="m", id_seed="s"
    )
    messages = MessagesContext(
        message_id="msg_1", id_seed="s", model="m", upstream_model="m"
    )
    return {
        "anthropic": MessagesStreamTranslator(messages),
        "chat": ChatStreamTranslator(chat),
        "completions": CompletionStreamTranslator(chat),
        "responses": ResponsesStreamTranslator(responses, {"model": "m"}),
        "gemini": GeminiStreamTranslator(sse=True),
    }


SIGNATURES = {
    "anthropic": {"c1": "sig-1"},
    "chat": {"c1": "sig-1"},
    "completions": {},
    "responses": {"c1": "sig-1"},
    "gemini": {"c1": "sig-1"},
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_every_translator_reports_usage_signatures_and_done(name):
    """``usage`` only in the last chunk is kept; ``done`` once the stream closed."""
    translator = translators()[name]
    assert translator.usage is None
    for event in STREAM[:2]:
        translator.feed(event)
    assert translator.usage is None
    translator.feed(STREAM[2])
    assert translator.usage == LAST_USAGE
    translator.feed({"response": {"candidates": []}})
    assert translator.usage == LAST_USAGE
    translator.finish()
    assert translator.done
    assert dict(translator.signatures) == SIGNATURES[name]


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_every_translator_is_done_after_an_error(name):
    translator = translators()[name]
    assert not translator.done
    translator.feed(STREAM[0])
    translator.error(UpstreamUnavailable("cut"))
    assert translator.done
    assert translator.usage is None
