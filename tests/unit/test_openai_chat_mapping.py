"""OpenAI chat completions <-> Gemini: golden cases plus the behaviours around them.

Each directory of ``tests/golden/openai_chat`` is one case: ``request.json`` (the
client body), optional ``context.json`` (signatures, media, thinking budget), then
``upstream_request.json`` or ``error.json`` for the request side, and
``upstream_stream.json`` -> ``stream.sse``, ``response.json``, ``signatures.json``
for the answer side. ``UPDATE_GOLDEN=1`` rewrites the expected files.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion as SDKChatCompletion
from openai.types.chat import ChatCompletionChunk as SDKChatCompletionChunk

from antigravity_proxy.errors import InvalidRequest, UpstreamTimeout
from antigravity_proxy.protocols.gemini.chunk import usage_from_metadata
from antigravity_proxy.protocols.openai.chat_request import (
    parse_chat_request,
    request_to_upstream,
)
from antigravity_proxy.protocols.openai.chat_response import (
    collect_from_upstream,
    completion_from_chunks,
    response_from_upstream,
)
from antigravity_proxy.protocols.openai.chat_stream import (
    ChatStreamTranslator,
    finish_reason_from_upstream,
    usage_from_upstream,
)
from antigravity_proxy.protocols.openai.errors import error_body
from antigravity_proxy.protocols.openai.types import ChatContext, json_type
from antigravity_proxy.sse import SSEDecoder
from tests.golden_files import UPDATE, check_json, check_text, dump, load

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "openai_chat"
CASES = sorted(path for path in GOLDEN.iterdir() if path.is_dir())


REQUEST_CASES = [
    pytest.param(c, id=c.name) for c in CASES if not c.name.startswith("error_")
]
ERROR_CASES = [pytest.param(c, id=c.name) for c in CASES if c.name.startswith("error_")]
STREAM_CASES = [
    pytest.param(c, id=c.name) for c in CASES if (c / "upstream_stream.json").exists()
]


def context_for(case, **overrides):
    body = load(case / "request.json")
    extra = load(case / "context.json") if (case / "context.json").exists() else {}
    media = {url: tuple(pair) for url, pair in extra.get("media", {}).items()}
    values = {
        "id": "chatcmpl-golden",
        "created": 1700000000,
        "model": body.get("model", "gpt-4o") if isinstance(body, dict) else "gpt-4o",
        "upstream_model": extra.get("upstream_model", ""),
        "signatures": extra.get("signatures", {}),
        "media": media,
        "thinking_budget": extra.get("thinking_budget"),
    }
    if (case / "upstream_stream.json").exists():
        values["include_usage"] = parse_chat_request(body).include_usage
    return ChatContext(**{**values, **overrides})


def stream_bytes(case, ctx):
    translator = ChatStreamTranslator(ctx)
    frames = [
        f
        for chunk in load(case / "upstream_stream.json")
        for f in translator.feed(chunk)
    ]
    return b"".join(frames + translator.finish()), translator


def sse_chunks(raw):
    decoder = SSEDecoder()
    events = decoder.feed(raw) + decoder.flush()
    assert events[-1].data == "[DONE]"
    return [json.loads(event.data) for event in events[:-1]]


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_to_upstream_matches_golden(case):
    body = load(case / "request.json")
    before = copy.deepcopy(body)
    actual = request_to_upstream(body, context_for(case))
    check_json(case / "upstream_request.json", actual)
    assert body == before


@pytest.mark.parametrize("case", ERROR_CASES)
def test_request_to_upstream_rejects_golden(case):
    with pytest.raises(InvalidRequest) as info:
        request_to_upstream(load(case / "request.json"), context_for(case))
    actual = {"status": info.value.status, "body": error_body(info.value)}
    check_json(case / "error.json", actual)
    assert (
        actual["body"]["error"]["param"] is not None
        or case.name == "error_body_not_object"
    )


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_matches_golden(case):
    raw, translator = stream_bytes(case, context_for(case))
    check_text(case / "stream.sse", raw.decode("utf-8"))
    signatures = case / "signatures.json"
    if UPDATE and translator.signatures:
        signatures.write_text(dump(translator.signatures), encoding="utf-8")
    assert translator.signatures == (load(signatures) if signatures.exists() else {})


@pytest.mark.parametrize("case", STREAM_CASES)
def test_response_matches_golden(case):
    actual = response_from_upstream(
        load(case / "upstream_stream.json"), context_for(case)
    )
    check_json(case / "response.json", actual)
    SDKChatCompletion.model_validate(actual)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_response_equals_fold_of_streamed_chunks(case):
    ctx = context_for(case)
    chunks = sse_chunks((case / "stream.sse").read_bytes())
    folded = completion_from_chunks(chunks, ctx)
    expected = load(case / "response.json")
    if not ctx.include_usage:
        folded.pop("usage")
        expected.pop("usage")
    assert folded == expected


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_is_what_the_official_sdk_accepts(case):
    """The SDK's own accumulator reads our stream into the same message."""
    state = ChatCompletionStreamState()
    for chunk in sse_chunks((case / "stream.sse").read_bytes()):
        state.handle_chunk(SDKChatCompletionChunk.model_validate(chunk))
    final = state.current_completion_snapshot
    expected = load(case / "response.json")
    assert len(final.choices) == len(expected["choices"])
    for got, want in zip(final.choices, expected["choices"], strict=True):
        assert got.finish_reason == want["finish_reason"]
        assert (got.message.content or None) == (want["message"]["content"] or None)
        calls = [
            (c.id, c.function.name, c.function.arguments)
            for c in got.message.tool_calls or []
        ]
        assert calls == [
            (c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in want["message"].get("tool_calls", [])
        ]


def test_stream_first_chunk_per_choice_carries_role_and_empty_content():
    case = GOLDEN / "n_2"
    chunks = sse_chunks(stream_bytes(case, context_for(case))[0])
    firsts = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            firsts.setdefault(choice["index"], choice["delta"])
    assert firsts == {
        0: {"role": "assistant", "content": ""},
        1: {"role": "assistant", "content": ""},
    }


def test_stream_usage_is_null_on_every_chunk_but_the_last_when_included():
    case = GOLDEN / "include_usage"
    chunks = sse_chunks(stream_bytes(case, context_for(case))[0])
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 11


def test_stream_has_no_usage_key_without_include_usage():
    case = GOLDEN / "text_basic"
    chunks = sse_chunks(stream_bytes(case, context_for(case))[0])
    assert all("usage" not in chunk for chunk in chunks)


def test_error_after_first_byte_is_an_error_event_then_done():
    translator = ChatStreamTranslator(
        ChatContext(id="chatcmpl-e", created=1, model="m")
    )
    assert translator.feed(
        {"response": {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}}
    )
    frames = translator.error(UpstreamTimeout("upstream timed out"))
    assert frames[-1] == b"data: [DONE]\n\n"
    assert sse_chunks(b"".join(frames)) == [
        {
            "error": {
                "message": "upstream timed out",
                "type": "api_error",
                "param": None,
                "code": None,
            }
        }
    ]
    assert translator.finish() == []
    assert (
        translator.feed({"candidates": [{"content": {"parts": [{"text": "b"}]}}]}) == []
    )


def test_finish_is_final():
    translator = ChatStreamTranslator(
        ChatContext(id="chatcmpl-f", created=1, model="m")
    )
    assert translator.finish()[-1] == b"data: [DONE]\n\n"
    assert translator.finish() == []
    assert translator.error(UpstreamTimeout("late")) == []


def test_generated_call_ids_come_from_the_context():
    ctx = ChatContext(id="chatcmpl-abc123", created=1, model="m")
    call = {"functionCall": {"name": "f", "args": {"a": 1}}}
    chunk = {
        "candidates": [{"content": {"parts": [call, call]}, "finishReason": "STOP"}]
    }
    first, _ = collect_from_upstream([chunk], ctx)
    second, _ = collect_from_upstream([chunk], ctx)
    ids = [c["id"] for c in first["choices"][0]["message"]["tool_calls"]]
    assert ids == ["call_abc123_1", "call_abc123_2"]
    assert first == second


def test_collect_returns_signatures_for_the_handler():
    case = GOLDEN / "tool_call_thinking_turn1"
    response, signatures = collect_from_upstream(
        load(case / "upstream_stream.json"), context_for(case)
    )
    call_id = response["choices"][0]["message"]["tool_calls"][0]["id"]
    assert signatures == {call_id: "sig-A"}


def test_signature_round_trips_into_the_next_request():
    turn1, turn2 = (
        GOLDEN / "tool_call_thinking_turn1",
        GOLDEN / "tool_call_thinking_turn2",
    )
    _, translator = stream_bytes(turn1, context_for(turn1))
    ctx = context_for(turn2, signatures=translator.signatures)
    request = request_to_upstream(load(turn2 / "request.json"), ctx)
    parts = request["contents"][1]["parts"]
    assert [p["thoughtSignature"] for p in parts] == [
        "sig-A",
        "skip_thought_signature_validator",
    ]


def test_unknown_finish_reason_is_logged_and_reported_as_stop(caplog):
    with caplog.at_level(logging.WARNING):
        assert finish_reason_from_upstream("SOMETHING_NEW") == "stop"
    assert "SOMETHING_NEW" in caplog.text


def test_usage_counts_thoughts_as_completion_tokens():
    usage = usage_from_upstream(
        usage_from_metadata(
            {
                "promptTokenCount": 10,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 7,
                "cachedContentTokenCount": 4,
                "totalTokenCount": 99,
            }
        )
    )
    assert usage == {
        "prompt_tokens": 10,
        "completion_tokens": 12,
        "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }


def test_finished_choice_ignores_later_candidates():
    ctx = ChatContext(id="chatcmpl-l", created=1, model="m")
    done = {
        "candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]
    }
    late = {
        "candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}]
    }
    response = response_from_upstream([done, late], ctx)
    assert response["choices"][0]["message"]["content"] == "a"


def test_malformed_upstream_values_are_skipped():
    ctx = ChatContext(id="chatcmpl-m", created=1, model="m")
    events = [
        {"candidates": "nope"},
        {
            "candidates": [
                "nope",
                {"content": "nope"},
                {"index": True, "content": {"parts": ["x", {"text": 3}]}},
            ]
        },
        "not an object",
    ]
    response = response_from_upstream(events, ctx)
    # A candidate without an integer index is candidate 0 (proto3 omits zeros).
    assert [c["message"]["content"] for c in response["choices"]] == [""]


def test_tool_message_content_null_is_an_empty_output():
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": "[1]"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": None},
        ],
    }
    contents = request_to_upstream(
        body, ChatContext(id="chatcmpl-t", created=1, model="m")
    )["contents"]
    assert contents[1]["parts"][0]["functionCall"]["args"] == {"arguments": "[1]"}
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {"output": ""}


def test_parse_chat_request_gives_the_handler_its_facts():
    view = parse_chat_request(
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "x"}],
            "n": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert (view.model, view.stream, view.include_usage, view.n) == (
        "gpt-4o",
        True,
        True,
        3,
    )


CTX = ChatContext(id="chatcmpl-u", created=1, model="m")


def chat(messages, **fields):
    return request_to_upstream({"model": "m", "messages": messages, **fields}, CTX)


def test_function_without_parameters_is_declared_bare():
    request = chat(
        [{"role": "user", "content": "x"}],
        tools=[{"type": "function", "function": {"name": "ping"}}],
    )
    assert request["tools"] == [{"functionDeclarations": [{"name": "ping"}]}]


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "text"}, None),
        (
            {"type": "json_schema", "json_schema": {"name": "free"}},
            {"responseMimeType": "application/json"},
        ),
    ],
    ids=["text", "json_schema_without_schema"],
)
def test_response_format_variants(response_format, expected):
    request = chat([{"role": "user", "content": "x"}], response_format=response_format)
    assert request.get("generationConfig") == expected


def test_assistant_refusal_field_is_replayed_as_text():
    request = chat(
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "refusal": "No."},
            {"role": "user", "content": "y"},
        ]
    )
    assert request["contents"][1] == {"role": "model", "parts": [{"text": "No."}]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "![a](data:image/png;base64,AAAA)",
            [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
        ),
        (
            "x ![a](data:image/gif;base64,AA\nAA)  \n",
            [{"text": "x "}, {"inlineData": {"mimeType": "image/gif", "data": "AAAA"}}],
        ),
        (
            "![a](https://example.com/a.png)",
            [{"text": "![a](https://example.com/a.png)"}],
        ),
    ],
    ids=["image_only", "text_then_image_then_blank", "remote_image_stays_text"],
)
def test_markdown_data_images_in_text_become_inline_data(text, expected):
    request = chat(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": text},
            {"role": "user", "content": "r"},
        ]
    )
    assert request["contents"][1]["parts"] == expected


def test_tool_content_of_the_wrong_type_names_the_content():
    with pytest.raises(InvalidRequest) as info:
        chat(
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": 5},
            ]
        )
    assert info.value.param == "messages[2].content"


def test_finish_chunks_and_blocked_prompt_are_idempotent():
    translator = ChatStreamTranslator(CTX)
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}}
    assert len(translator.feed_chunks(blocked)) == 2
    assert translator.feed_chunks(blocked) == []
    assert len(translator.finish_chunks()) == 0
    assert translator.finish_chunks() == []


def test_json_type_names_null():
    assert json_type(None) == "null"


def test_empty_system_message_adds_no_instruction():
    request = chat(
        [{"role": "system", "content": ""}, {"role": "user", "content": "x"}]
    )
    assert "systemInstruction" not in request
