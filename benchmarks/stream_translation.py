"""Stream translation CPU: every translator over one recorded-shape upstream answer.

Each stream translator (Anthropic Messages, OpenAI chat, Responses, Gemini) is
fed the same 191 upstream chunks (20 thought chunks, 170 text chunks, a signed
function call with the finish reason and the usage), wrapped in the
``v1internal`` envelope as the upstream sends them. Every chunk goes through
``protocols.gemini.chunk.chunk_from_upstream`` and the translator's mapping, so
the number is the gateway's CPU per upstream event: the part of a stream's
per-event delay that is ours. Timed with ``time.process_time`` (this process's
CPU only), best of several runs, no stack running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from antigravity_proxy.protocols.anthropic.stream import MessagesStreamTranslator
from antigravity_proxy.protocols.anthropic.types import MessagesContext
from antigravity_proxy.protocols.gemini.stream import GeminiStreamTranslator
from antigravity_proxy.protocols.openai.chat_stream import ChatStreamTranslator
from antigravity_proxy.protocols.openai.responses_stream import (
    ResponsesStreamTranslator,
)
from antigravity_proxy.protocols.openai.responses_types import ResponsesContext
from antigravity_proxy.protocols.openai.types import ChatContext
from antigravity_proxy.streaming import StreamTranslator
from benchmarks.harness import Goal, Measurement, report

TITLE: Final = "stream translation (CPU per upstream chunk)"
STREAMS_PER_RUN: Final = 20
RUNS: Final = 7
PER_CHUNK_GOAL: Final = Goal(50.0)
SIGNATURE: Final = "s" * 200


def upstream_chunks() -> list[dict[str, Any]]:
    """A thinking model's answer: thoughts, text, then a signed call and usage."""

    def chunk(parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        candidate = {"content": {"role": "model", "parts": parts}}
        return {"response": {"candidates": [candidate], **extra}, "traceId": "t"}

    thought = {"text": "thinking " * 5, "thought": True}
    text = {"text": "word " * 8}
    call = {
        "functionCall": {"id": "call_1", "name": "f", "args": {"a": 1}},
        "thoughtSignature": SIGNATURE,
    }
    last = chunk([call], modelVersion="m", responseId="r")
    last["response"]["candidates"][0]["finishReason"] = "STOP"
    last["response"]["usageMetadata"] = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 300,
        "thoughtsTokenCount": 20,
        "totalTokenCount": 330,
    }
    return [
        *(chunk([thought]) for _ in range(20)),
        *(chunk([text], modelVersion="m", responseId="r") for _ in range(170)),
        last,
    ]


def translators() -> dict[str, Callable[[], StreamTranslator]]:
    chat = ChatContext(id="chatcmpl-bench", created=1, model="m")
    responses = ResponsesContext(
        response_id="resp_bench", created_at=1, model="m", upstream_model="m",
        id_seed="bench",
    )  # fmt: skip
    messages = MessagesContext(
        message_id="msg_bench", id_seed="bench", model="m", upstream_model="m"
    )
    return {
        "anthropic": lambda: MessagesStreamTranslator(messages),
        "openai chat": lambda: ChatStreamTranslator(chat),
        "responses": lambda: ResponsesStreamTranslator(responses, {"model": "m"}),
        "gemini": lambda: GeminiStreamTranslator(sse=True),
    }


def per_chunk_us(make: Callable[[], StreamTranslator], chunks: list[Any]) -> float:
    """Best-of-``RUNS`` CPU microseconds per chunk, a fresh translator per stream."""
    best = float("inf")
    for _ in range(RUNS):
        start = time.process_time()
        for _ in range(STREAMS_PER_RUN):
            translator = make()
            for chunk in chunks:
                translator.feed(chunk)
            translator.finish()
        elapsed = time.process_time() - start
        best = min(best, elapsed / (STREAMS_PER_RUN * len(chunks)))
    return best * 1e6


def run() -> list[Measurement]:
    chunks = upstream_chunks()
    note = f"({len(chunks)} chunks, best of {RUNS})"
    return [
        report(name, per_chunk_us(make, chunks), "us", PER_CHUNK_GOAL, note)
        for name, make in translators().items()
    ]
