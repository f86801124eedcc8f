"""Anthropic Messages <-> Gemini: golden requests, golden streams, every error.

Goldens live in ``tests/golden/anthropic/<case>/``: ``request.json`` ->
``upstream_request.json``, or ``upstream_stream.json`` (a list of upstream chunks;
``{"gateway_error": ...}`` stands for a failure after the first byte) ->
``stream.sse`` + ``response.json``; ``ctx.json`` holds the context.
``UPDATE_GOLDEN=1`` rewrites the expected files.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from anthropic.lib.streaming._messages import accumulate_event

from antigravity_proxy.errors import ErrorKind, GatewayError, InvalidRequest
from antigravity_proxy.protocols.anthropic.background import (
    estimate_tokens,
    is_background_request,
)
from antigravity_proxy.protocols.anthropic.request import (
    count_tokens_to_upstream,
    request_to_upstream,
)
from antigravity_proxy.protocols.anthropic.response import (
    citations,
    count_tokens_from_upstream,
    held_length,
    search_results,
    stop_reason_from_upstream,
)
from antigravity_proxy.protocols.anthropic.signature import (
    SKIP_SIGNATURE,
    ThinkingSignature,
    decode_signature,
    encode_signature,
)
from antigravity_proxy.protocols.anthropic.stream import MessagesStreamTranslator
from antigravity_proxy.protocols.anthropic.types import MessagesContext
from antigravity_proxy.protocols.gemini.chunk import Grounding, chunk_from_upstream
from antigravity_proxy.protocols.sealed import PREFIX
from antigravity_proxy.sse import SSEDecoder
from tests.golden_files import UPDATE, check_json, check_text, dump, load

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "anthropic"
REQUEST_CASES = sorted(p.parent for p in GOLDEN.glob("*/request.json"))
STREAM_CASES = sorted(p.parent for p in GOLDEN.glob("*/upstream_stream.json"))
ERRORS_FILE = GOLDEN / "validation_errors.json"
ERROR_CASES = json.loads(ERRORS_FILE.read_text())
CTX = MessagesContext(
    message_id="msg_01Test", id_seed="seed", model="claude-opus-4-8",
    upstream_model="gemini-3-flash",
)  # fmt: skip
USER = [{"role": "user", "content": "hi"}]


def context(case: Path) -> MessagesContext:
    raw = load(case / "ctx.json")
    media = {url: tuple(found) for url, found in raw.pop("media", {}).items()}
    stops = tuple(raw.pop("stop_sequences", ()))
    return MessagesContext(**raw, media=media, stop_sequences=stops)


def run_stream(case: Path) -> tuple[str, MessagesStreamTranslator]:
    translator = MessagesStreamTranslator(context(case))
    out: list[bytes] = []
    for chunk in load(case / "upstream_stream.json"):
        if "gateway_error" in chunk:
            spec = chunk["gateway_error"]
            err = GatewayError(spec["message"], kind=ErrorKind(spec["kind"]))
            out += translator.error(err)
            break
        out += translator.feed(chunk)
    else:
        out += translator.finish()
    return b"".join(out).decode("utf-8"), translator


def events(sse: str) -> list[tuple[str, Any]]:
    decoder = SSEDecoder()
    return [(e.event, e.json()) for e in decoder.feed(sse) + decoder.flush()]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-opus-4-8", "max_tokens": 100, "messages": USER, **fields}


@pytest.mark.parametrize("case", REQUEST_CASES, ids=lambda p: p.name)
def test_request_to_upstream_golden(case: Path) -> None:
    request = load(case / "request.json")
    before = copy.deepcopy(request)
    actual = request_to_upstream(request, context(case))
    assert request == before
    check_json(case / "upstream_request.json", actual)


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_golden(case: Path) -> None:
    sse, translator = run_stream(case)
    check_text(case / "stream.sse", sse)
    check_json(case / "response.json", translator.message())


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_event_grammar(case: Path) -> None:
    """Named events matching their ``type``, in the official order."""
    frames = events(run_stream(case)[0])
    assert all(name == data["type"] for name, data in frames)
    names = [name for name, _ in frames]
    if names == ["error"]:
        return
    assert names[:2] == ["message_start", "ping"]
    assert names[-1] in ("message_stop", "error")
    open_index = None
    next_index = 0
    for name, data in frames[2:]:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index = data["index"]
        elif name in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index
            if name == "content_block_stop":
                open_index, next_index = None, next_index + 1
        else:
            assert open_index is None or name == "error"


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_equals_official_sdk_accumulation(case: Path) -> None:
    """The non-streaming answer is what Anthropic's SDK builds from the stream."""
    sse, translator = run_stream(case)
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for name, data in events(sse):
        if name not in ("ping", "error"):
            snapshot = accumulate_event(
                event=data, current_snapshot=snapshot, json_bufs=json_bufs
            )
    expected = translator.message()
    if snapshot is None:
        assert expected == {}
        return
    accumulated = snapshot.to_dict()
    accumulated.pop("stop_details", None)  # optional, never sent by the gateway
    assert accumulated == expected


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c["id"])
def test_validation_errors(case: dict[str, Any]) -> None:
    translate = (
        count_tokens_to_upstream
        if case["endpoint"] == "count_tokens"
        else request_to_upstream
    )
    with pytest.raises(InvalidRequest) as caught:
        translate(case["body"], CTX)
    if UPDATE:
        case["param"], case["message"] = caught.value.param, caught.value.message
        ERRORS_FILE.write_text(dump(ERROR_CASES), encoding="utf-8")
    assert (caught.value.param, caught.value.message) == (
        case["param"],
        case["message"],
    )
    assert caught.value.status == 400


def test_signature_round_trip() -> None:
    wrapped = encode_signature("sig/+=", "gemini-3-flash", "call")
    assert wrapped.startswith(PREFIX) and "=" not in wrapped
    assert decode_signature(wrapped) == ThinkingSignature(
        "sig/+=", "gemini-3-flash", "call"
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "ErUBCkYIBxgCIkBanthropic-native-signature",
        PREFIX + "!!!not base64",
        PREFIX + "bm90IGpzb24",  # "not json"
        PREFIX + "WzFd",  # [1]
        encode_signature("", "m", "call"),
        encode_signature("s", "m", "elsewhere"),
        PREFIX + "eyJzaWciOiJzIiwibW9kZWwiOjEsIm9uIjoiY2FsbCJ9",  # model not a string
        PREFIX + base64.urlsafe_b64encode(b"[" * 100_000).decode(),  # too deep
    ],
)
def test_signature_decode_rejects_foreign(value: Any) -> None:
    assert decode_signature(value) is None


def test_stream_signature_replays_without_server_state() -> None:
    """What the stream emitted, replayed by the client, restores the signature."""
    _, translator = run_stream(GOLDEN / "stream_thinking_text_tool")
    answer = translator.message()
    read_id, bash_id = [b["id"] for b in answer["content"] if b["type"] == "tool_use"]
    assert translator.signatures == {read_id: "CiQBjz1rX7call-sig-gemini-3-flash-0001"}
    results = [
        {"type": "tool_result", "tool_use_id": read_id, "content": "x"},
        {"type": "tool_result", "tool_use_id": bash_id, "content": "y"},
    ]
    messages = [
        *USER,
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": results},
    ]
    request = request_to_upstream(
        body(messages=messages), context(GOLDEN / "stream_text")
    )
    parts = request["contents"][1]["parts"]
    calls = [p for p in parts if "functionCall" in p]
    assert calls[0]["thoughtSignature"] == "CiQBjz1rX7call-sig-gemini-3-flash-0001"
    assert "thoughtSignature" not in calls[1]
    assert not any(p.get("thought") for p in parts)
    names = [p["functionResponse"]["name"] for p in request["contents"][2]["parts"]]
    assert names == ["Read", "Bash"]


def test_signature_from_other_upstream_model_is_not_replayed() -> None:
    wrapped = encode_signature("sig", "gemini-3-pro-preview", "call")
    assistant = [
        {"type": "thinking", "thinking": "t", "signature": wrapped},
        {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}},
    ]
    messages = [*USER, {"role": "assistant", "content": assistant}]
    request = request_to_upstream(body(messages=messages), CTX)
    assert request["contents"][1]["parts"] == [
        {
            "functionCall": {"name": "t", "args": {}, "id": "toolu_1"},
            "thoughtSignature": SKIP_SIGNATURE,
        }
    ]


def test_start_before_first_chunk_sends_message_start_once() -> None:
    translator = MessagesStreamTranslator(CTX)
    first = translator.start()
    assert [e for e, _ in events(b"".join(first).decode())] == ["message_start", "ping"]
    assert translator.start() == []
    chunk = {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}
    later = [e for e, _ in events(b"".join(translator.feed(chunk)).decode())]
    assert later == ["content_block_start", "content_block_delta"]


def test_stream_ignores_chunks_after_the_end() -> None:
    translator = MessagesStreamTranslator(CTX)
    translator.feed({"candidates": [{"finishReason": "STOP"}]})
    assert translator.done
    assert (
        translator.feed({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}) == []
    )
    assert translator.finish() == []
    assert translator.error(GatewayError("late")) == []


def test_error_before_any_event_is_a_lone_error_frame() -> None:
    translator = MessagesStreamTranslator(CTX)
    frames = events(b"".join(translator.error(InvalidRequest("bad"))).decode())
    assert frames == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "bad"},
            },
        )
    ]
    assert translator.message() == {}


def test_unknown_finish_reason_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert stop_reason_from_upstream("BRAND_NEW") == "end_turn"
    assert "BRAND_NEW" in caplog.text
    assert stop_reason_from_upstream(None) == "end_turn"


@pytest.mark.parametrize(
    ("text", "sequences", "held"),
    [
        ("abc##", ["###"], 2),
        ("abc", ["###"], 0),
        ("xEN", ["END", "N!"], 2),
        ("", ["##"], 0),
    ],
)
def test_held_length(text: str, sequences: list[str], held: int) -> None:
    assert held_length(text, sequences) == held


@pytest.mark.parametrize(
    ("max_tokens", "thinking", "expected"),
    [
        (1000, {"type": "adaptive"}, {"includeThoughts": True, "thinkingBudget": 999}),
        (1, {"type": "adaptive"}, {"includeThoughts": False}),
        (200000, {"type": "enabled", "budget_tokens": 100000},
         {"includeThoughts": True, "thinkingBudget": 65535}),
        (5000, {"type": "disabled"}, {"includeThoughts": False}),
    ],
)  # fmt: skip
def test_thinking_budget_stays_below_max_tokens(
    max_tokens: int, thinking: dict[str, Any], expected: dict[str, Any]
) -> None:
    config = request_to_upstream(body(max_tokens=max_tokens, thinking=thinking), CTX)
    assert config["generationConfig"]["thinkingConfig"] == expected


def test_adaptive_thinking_budget_follows_effort() -> None:
    request = body(thinking={"type": "adaptive"}, output_config={"effort": "low"})
    request["max_tokens"] = 64000
    config = request_to_upstream(request, CTX)["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}


def test_max_output_tokens_capped_per_upstream_family() -> None:
    claude = MessagesContext("msg_1", "s", "m", upstream_model="claude-sonnet-4-6")
    big = body(max_tokens=128000)
    assert request_to_upstream(big, CTX)["generationConfig"]["maxOutputTokens"] == 65536
    assert (
        request_to_upstream(big, claude)["generationConfig"]["maxOutputTokens"] == 64000
    )


def test_count_tokens_to_upstream_counts_system_and_tools() -> None:
    request = {
        "model": "claude-opus-4-8",
        "system": "Be brief.",
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        "messages": USER,
    }
    upstream = count_tokens_to_upstream(request, CTX)
    assert upstream["model"] == "models/gemini-3-flash"
    assert [c["role"] for c in upstream["contents"]] == ["user", "user", "user"]
    assert upstream["contents"][0]["parts"] == [{"text": "Be brief."}]
    assert '"name": "t"' in upstream["contents"][1]["parts"][0]["text"]
    assert upstream["contents"][2] == {"role": "user", "parts": [{"text": "hi"}]}
    assert count_tokens_from_upstream({"totalTokens": 42}) == {"input_tokens": 42}
    assert count_tokens_from_upstream({}) == {"input_tokens": 0}


def _user(*texts: str, **extra: Any) -> dict[str, Any]:
    content = [{"type": "text", "text": t} for t in texts]
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"messages": [{"role": "user", "content": "Warmup"}]}, True),
        ({"messages": [{"role": "user", "content": "quota"}]}, True),
        (_user("<system-reminder>ctx</system-reminder>",
               "Please write a 5-10 word title for the following conversation:"), True),
        (_user("Summarize this coding conversation in under 50 characters."), True),
        (_user("Fix the bug in app.py"), False),
        (_user("<system-reminder>write a 5-10 word title</system-reminder>"), False),
        (_user("write a 5-10 word title " + "x" * 900), False),
        (_user("hello", system=[{"type": "text", "text": "x-anthropic-billing-header: v"},
                                {"type": "text", "text": "Generate a title for this."}]), True),
        (_user("hello", system="You are Claude Code."), False),
        (_user("<session>x</session>", system="Generate a concise, sentence-case "
               "title (3-7 words) that captures the main topic"), True),
        (_user("Generate a short kebab-case name (2-4 words) for this"), True),
        ({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "x", "content": "Warmup"}]}]}, False),
        ({"messages": [{"role": "assistant", "content": "Warmup"}]}, False),
        ({"messages": "nope"}, False),
        ([], False),
    ],
)  # fmt: skip
def test_is_background_request(request_body: Any, expected: bool) -> None:
    assert is_background_request(request_body) is expected


def test_estimate_tokens_grows_with_content() -> None:
    small = body()
    larger = body(system="You are helpful. " * 50)
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "A" * 10},
    }
    with_image = body(messages=[{"role": "user", "content": [image]}])
    pdf = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": "A" * 400000,
        },
    }
    result = {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [{"type": "text", "text": "ok " * 100}],
    }
    tools = body(
        tools=[
            {"name": "t", "description": "d" * 400, "input_schema": {"type": "object"}}
        ]
    )
    assert 0 < estimate_tokens(small) < estimate_tokens(larger)
    assert estimate_tokens(with_image) >= 1600
    assert estimate_tokens(body(messages=[{"role": "user", "content": [pdf]}])) >= 6000
    assert estimate_tokens(body(messages=[{"role": "user", "content": [result]}])) > 75
    assert estimate_tokens(tools) > estimate_tokens(small) + 100
    assert estimate_tokens("nope") == 0


@pytest.mark.parametrize(
    ("thinking", "has_config"),
    [({"type": "disabled"}, True), ({"type": "enabled", "budget_tokens": 2048}, True)],
)
def test_claude_upstream_keeps_thinking_without_tool_turn(
    thinking: dict[str, Any], has_config: bool
) -> None:
    claude = MessagesContext(
        "msg_1", "s", "m", upstream_model="claude-opus-4-6-thinking"
    )
    plain = [*USER, {"role": "assistant", "content": "hello"}, *USER]
    for messages in (USER, plain):
        request = body(messages=messages, thinking=thinking, max_tokens=4096)
        config = request_to_upstream(request, claude)["generationConfig"]
        assert ("thinkingConfig" in config) is has_config


def test_count_tokens_without_system_or_tools() -> None:
    upstream = count_tokens_to_upstream({"model": "m", "messages": USER}, CTX)
    assert upstream == {
        "model": "models/gemini-3-flash",
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    }


def grounding(metadata: dict[str, Any]) -> Grounding:
    chunk = chunk_from_upstream({"candidates": [{"groundingMetadata": metadata}]})
    assert chunk.first.grounding is not None
    return chunk.first.grounding


def test_grounding_helpers_tolerate_odd_shapes() -> None:
    odd = grounding(
        {
            "groundingChunks": "x",
            "groundingSupports": {"a": 1},
            "webSearchQueries": [1, ""],
        }
    )
    assert odd.queries == ()
    assert search_results(odd) == []
    assert citations(odd) == []
    chunks = {"groundingChunks": [{"web": {"uri": "u"}}]}
    support = {"segment": {"text": "s"}, "groundingChunkIndices": ["0"]}
    junk = ["junk", {"segment": "x", "groundingChunkIndices": [0]}, support]
    assert citations(grounding({**chunks, "groundingSupports": junk})) == []
    assert search_results(grounding(chunks))[0]["title"] == "u"


def test_estimate_tokens_tolerates_odd_blocks() -> None:
    odd = [
        "text",
        {"type": "document", "source": "x"},
        {"type": "document", "source": {"type": "url", "url": "https://e/x.pdf"}},
        {"type": "tool_result", "tool_use_id": "t", "content": None},
        {"type": "text", "text": "x", "n": 1.5, "flag": True, "tags": ["a"]},
    ]
    tokens = estimate_tokens(body(messages=[{"role": "user", "content": odd}, "bad"]))
    assert tokens > 0


def test_thought_and_call_signatures_both_replayed() -> None:
    case = GOLDEN / "stream_thought_and_call_signatures"
    _, translator = run_stream(case)
    content = translator.message()["content"]
    call_id = content[-1]["id"]
    messages = [
        *USER,
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id}]},
    ]
    parts = request_to_upstream(body(messages=messages), context(case))["contents"][1]
    assert parts["parts"] == [
        {"text": "Plan.", "thought": True, "thoughtSignature": "thought-sig-AAA"},
        {
            "functionCall": {
                "name": "Read",
                "args": {"file_path": "/p/x"},
                "id": call_id,
            },
            "thoughtSignature": "call-sig-BBB",
        },
    ]
