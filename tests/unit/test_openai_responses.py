"""OpenAI Responses translators: golden cases, signatures, validation, conformance.

Each ``tests/golden/openai_responses/<case>/`` holds ``request.json`` and an
optional ``context.json`` (ResponsesContext fields; ``media`` values carry
``data_base64``), then ``upstream_request.json`` for the request side and/or
``upstream_stream.json`` (upstream SSE event JSONs; a final ``{"__error__":
{"kind", "message"}}`` ends the stream with ``translator.error``) with the goldens
``stream.sse`` and ``response.json``. Every case has ``upstream_request.json``
except ``invalid_*`` cases, whose golden ``error.json`` is the InvalidRequest
(message, param, status). ``UPDATE_GOLDEN=1`` rewrites the goldens.
Every emitted event and response is also validated against the official
``openai.types.responses`` models.
"""

from __future__ import annotations

import base64
import copy
import typing
from pathlib import Path

import pytest
from openai.types.responses import Response, ResponseStreamEvent

from antigravity_proxy.errors import (
    GatewayError,
    InvalidRequest,
    UpstreamUnavailable,
)
from antigravity_proxy.protocols.openai.content import SKIP_SIGNATURE
from antigravity_proxy.protocols.openai.responses_request import (
    input_items,
    items_for_storage,
    request_to_upstream,
)
from antigravity_proxy.protocols.openai.responses_signature import (
    decode_signature,
    encode_signature,
)
from antigravity_proxy.protocols.openai.responses_stream import (
    ResponsesStreamTranslator,
    response_from_upstream,
)
from antigravity_proxy.protocols.openai.responses_tools import (
    ToolRef,
    custom_input,
    tool_set,
    upstream_name,
)
from antigravity_proxy.protocols.openai.responses_types import (
    FetchedMedia,
    ResponsesContext,
)
from antigravity_proxy.sse import SSEDecoder
from tests.golden_files import check_json, check_text, load

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "openai_responses"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "request.json").exists())
ERROR_CASES = [p for p in CASES if p.name.startswith("invalid_")]
REQUEST_CASES = [p for p in CASES if p not in ERROR_CASES]
STREAM_CASES = [p for p in CASES if (p / "upstream_stream.json").exists()]
ERRORS = {"upstream_unavailable": UpstreamUnavailable}
EVENT_MODELS = {
    typing.get_args(model.model_fields["type"].annotation)[0]: model
    for model in typing.get_args(typing.get_args(ResponseStreamEvent)[0])
}


def make_context(case: Path | None = None, body: dict | None = None, **extra):
    fields = {}
    if case is not None and (case / "context.json").exists():
        fields = load(case / "context.json")
    fields.update(extra)
    media = {
        url: FetchedMedia(m["mime_type"], base64.b64decode(m["data_base64"]))
        for url, m in fields.pop("media", {}).items()
    }
    return ResponsesContext(
        response_id="resp_test",
        created_at=1700000000,
        model=(body or {}).get("model", "gpt-5.1-codex"),
        upstream_model=fields.pop("upstream_model", "gemini-3-flash"),
        id_seed="t",
        media=media,
        **fields,
    )


def run_stream(case: Path):
    body = load(case / "request.json")
    ctx = make_context(case, body)
    translator = ResponsesStreamTranslator(ctx, body)
    frames = translator.start()
    for chunk in load(case / "upstream_stream.json"):
        if "__error__" in chunk:
            error = chunk["__error__"]
            frames += translator.error(ERRORS[error["kind"]](error["message"]))
            return frames, translator
        frames += translator.feed(chunk)
    frames += translator.finish()
    return frames, translator


def decode_frames(frames: list[bytes]) -> list[dict]:
    decoder = SSEDecoder()
    events = decoder.feed(b"".join(frames)) + decoder.flush()
    assert len(events) == len(frames)
    decoded = [event.json() for event in events]
    for event, data in zip(events, decoded, strict=True):
        assert event.event == data["type"]
    return decoded


@pytest.mark.parametrize("case", REQUEST_CASES, ids=lambda p: p.name)
def test_request_golden(case: Path):
    body = load(case / "request.json")
    before = copy.deepcopy(body)
    actual = request_to_upstream(body, make_context(case, body))
    assert body == before
    check_json(case / "upstream_request.json", actual)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.name)
def test_request_validation_golden(case: Path):
    body = load(case / "request.json")
    with pytest.raises(InvalidRequest) as caught:
        request_to_upstream(body, make_context(case, body))
    error = caught.value
    actual = {"message": error.message, "param": error.param, "status": error.status}
    check_json(case / "error.json", actual)


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_golden(case: Path):
    frames, translator = run_stream(case)
    check_text(case / "stream.sse", b"".join(frames).decode("utf-8"))
    check_json(case / "response.json", translator.response_object())


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_conforms_to_official_models(case: Path):
    frames, translator = run_stream(case)
    events = decode_frames(frames)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == [
        "response.created",
        "response.in_progress",
    ]
    for event in events:
        EVENT_MODELS[event["type"]].model_validate(event)
    final = events[-1]
    assert final["type"] in (
        "response.completed",
        "response.incomplete",
        "response.failed",
    )
    assert final["response"] == translator.response_object()
    Response.model_validate(final["response"])


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_output_items_come_from_item_done_events(case: Path):
    frames, translator = run_stream(case)
    events = decode_frames(frames)
    done = {
        e["output_index"]: e["item"]
        for e in events
        if e["type"] == "response.output_item.done"
    }
    final = translator.response_object()
    if final["status"] != "failed":
        assert [done[i] for i in sorted(done)] == final["output"]
    added = [
        e["output_index"] for e in events if e["type"] == "response.output_item.added"
    ]
    assert added == sorted(added) == list(range(len(added)))


def test_response_from_upstream_equals_stream_terminal_response():
    case = GOLDEN / "codex_first_turn"
    body = load(case / "request.json")
    chunks = load(case / "upstream_stream.json")
    result = response_from_upstream(chunks, make_context(case, body), body)
    assert result == load(case / "response.json")
    assert result["object"] == "response"


def test_codex_followup_replays_signature_from_first_turn():
    first = load(GOLDEN / "codex_first_turn" / "response.json")
    reasoning = next(i for i in first["output"] if i["type"] == "reasoning")
    call = next(i for i in first["output"] if i["type"] == "function_call")
    followup = load(GOLDEN / "codex_tool_followup" / "request.json")
    assert reasoning in followup["input"]
    assert call in followup["input"]
    upstream = load(GOLDEN / "codex_tool_followup" / "upstream_request.json")
    parts = [p for c in upstream["contents"] for p in c["parts"] if "functionCall" in p]
    signed = {p["functionCall"]["id"]: p.get("thoughtSignature") for p in parts}
    assert signed[call["call_id"]] == "sig-first-turn-exec"


def test_signature_round_trip():
    encoded = encode_signature("abc+/=", ["call_1", "call_2"], "gemini-3-flash")
    assert encoded.startswith("agp1.") and "=" not in encoded
    carrier = decode_signature(encoded)
    assert carrier is not None
    assert carrier.signature == "abc+/="
    assert carrier.call_ids == ("call_1", "call_2")
    assert carrier.model == "gemini-3-flash"


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "gAAAAABoXk-openai-encrypted-blob",
        "agp1.!!!not-base64!!!",
        "agp1." + base64.urlsafe_b64encode(b"not json").decode(),
        "agp1." + base64.urlsafe_b64encode(b"[1, 2]").decode(),
        "agp1." + base64.urlsafe_b64encode(b'{"sig": ""}').decode(),
        "agp1." + base64.urlsafe_b64encode(b'{"sig": "s", "call_ids": [1]}').decode(),
        "agp1." + base64.urlsafe_b64encode(b'{"sig": "s", "model": 3}').decode(),
        "agp1." + base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_signature_decode_rejects_foreign_content(value):
    assert decode_signature(value) is None


def codex_call_history(encrypted: str | None) -> dict:
    return {
        "model": "gemini-3-flash",
        "input": [
            {"type": "message", "role": "user", "content": "run it"},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "encrypted_content": encrypted,
            },
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "exec",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    }


def replayed_signature(body: dict, ctx: ResponsesContext):
    contents = request_to_upstream(body, ctx)["contents"]
    return contents[1]["parts"][0].get("thoughtSignature")


def test_signature_falls_back_to_context_store_then_sentinel():
    body = codex_call_history("gAAAA-foreign")
    assert (
        replayed_signature(body, make_context(signatures={"c1": "stored"})) == "stored"
    )
    assert replayed_signature(body, make_context()) == SKIP_SIGNATURE


def test_signature_of_another_model_is_not_replayed():
    body = codex_call_history(encode_signature("old", ["c1"], "gemini-2.5-pro"))
    assert replayed_signature(body, make_context()) == SKIP_SIGNATURE
    body = codex_call_history(encode_signature("same", ["c1"], "gemini-3-flash"))
    assert replayed_signature(body, make_context()) == "same"


def test_no_sentinel_for_non_gemini_models():
    body = codex_call_history(None)
    ctx = make_context(upstream_model="claude-sonnet-4-6")
    assert replayed_signature(body, ctx) is None


def test_text_signature_goes_to_next_model_part():
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "hi"},
            {
                "type": "reasoning",
                "id": "r",
                "summary": [],
                "encrypted_content": encode_signature("ts", [], ""),
            },
            {
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hello"}],
            },
            {"role": "user", "content": "again"},
        ],
    }
    contents = request_to_upstream(body, make_context())["contents"]
    assert contents[1]["parts"] == [{"text": "hello", "thoughtSignature": "ts"}]


def test_text_signature_is_used_by_a_following_call_without_its_own():
    body = codex_call_history(encode_signature("ts", [], ""))
    assert replayed_signature(body, make_context()) == "ts"


def test_request_body_must_be_an_object():
    with pytest.raises(InvalidRequest) as caught:
        request_to_upstream(["model"], make_context())  # type: ignore[arg-type]
    assert caught.value.param is None


CHOICE_TOOLS = [
    {"type": "function", "name": "f", "parameters": {"type": "object"}},
    {"type": "namespace", "name": "ns", "tools": [{"type": "custom", "name": "c"}]},
]
ALLOWED = {"type": "allowed_tools", "mode": "required", "tools": [{"name": "f"}, "x"]}


@pytest.mark.parametrize(
    ("choice", "mode", "names"),
    [
        ("none", "NONE", None),
        ("required", "ANY", None),
        ({"type": "custom", "name": "c", "namespace": "ns"}, "ANY", ["ns__c"]),
        (ALLOWED, "ANY", ["f"]),
        ({**ALLOWED, "mode": "auto"}, "AUTO", None),
        ({"type": "allowed_tools", "tools": None}, "AUTO", None),
        ({"type": "web_search_preview"}, "AUTO", None),
    ],
)
def test_tool_choice_to_function_calling_config(choice, mode, names):
    body = {"model": "m", "input": "hi", "tools": CHOICE_TOOLS, "tool_choice": choice}
    config = request_to_upstream(body, make_context())["toolConfig"]
    expected = {"mode": mode, **({"allowedFunctionNames": names} if names else {})}
    assert config == {"functionCallingConfig": expected}


def test_tool_choice_is_not_sent_without_declarations():
    body = {"model": "m", "input": "hi", "tool_choice": "required"}
    assert "toolConfig" not in request_to_upstream(body, make_context())
    body = {"model": "m", "input": "hi", "tools": CHOICE_TOOLS}
    assert "toolConfig" not in request_to_upstream(body, make_context())


def test_web_search_is_dropped_next_to_functions():
    body = {
        "model": "m",
        "input": "hi",
        "tools": [{"type": "web_search"}, {"type": "function", "name": "f"}],
    }
    assert request_to_upstream(body, make_context())["tools"] == [
        {"functionDeclarations": [{"name": "f"}]}
    ]


def test_duplicate_tool_names_keep_the_first():
    tools = [
        {"type": "function", "name": "ns__f", "description": "first"},
        {
            "type": "namespace",
            "name": "ns",
            "tools": [{"type": "function", "name": "f"}],
        },
    ]
    result = tool_set([("tools", tools)])
    assert [d["description"] for d in result.declarations] == ["first"]
    assert result.ref("ns__f") == ToolRef("ns__f")
    assert result.ref("unknown") == ToolRef("unknown")


def test_upstream_name_sanitises_and_stays_unique():
    assert upstream_name("spawn", "multi_agent_v1") == "multi_agent_v1__spawn"
    long_a = upstream_name("a" * 80)
    long_b = upstream_name("a" * 81)
    assert len(long_a) == 64 and long_a != long_b
    odd = upstream_name("my tool/v2")
    assert odd.startswith("my_tool_v2_") and odd == upstream_name("my tool/v2")
    assert upstream_name("9lives").startswith("_9lives_")
    result = tool_set([("tools", [{"type": "custom", "name": "my tool/v2"}])])
    assert result.ref(odd) == ToolRef("my tool/v2", None, True)


def test_custom_input_falls_back_to_json_text():
    assert custom_input({"input": "*** Begin Patch"}) == "*** Begin Patch"
    assert custom_input({"patch": "x"}) == '{"patch":"x"}'


def test_text_format_json_object_and_text():
    def config(text):
        body = {"model": "m", "input": "x", "text": text}
        return request_to_upstream(body, make_context()).get("generationConfig", {})

    assert config({"format": {"type": "json_object"}}) == {
        "responseMimeType": "application/json"
    }
    assert config({"format": {"type": "text"}, "verbosity": "low"}) == {}
    assert config({"verbosity": "low"}) == {}
    assert config(None) == {}


def test_items_for_storage_is_previous_then_input_then_output():
    previous = [{"type": "message", "role": "user", "content": "before"}]
    ctx = make_context(previous_items=previous)
    body = {"model": "m", "input": "now"}
    output = [{"type": "message", "role": "assistant", "id": "msg_1", "content": []}]
    stored = items_for_storage(body, ctx, output)
    assert stored == [
        previous[0],
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "now"}],
        },
        output[0],
    ]
    assert stored[0] is not previous[0]
    assert input_items({"model": "m"}, ctx) == previous


def test_translator_items_for_storage_and_signatures():
    case = GOLDEN / "codex_first_turn"
    frames, translator = run_stream(case)
    stored = translator.items_for_storage()
    body = load(case / "request.json")
    assert stored[: len(body["input"])] == body["input"]
    assert stored[len(body["input"]) :] == translator.response_object()["output"]
    assert translator.signatures == {"call_t_0": "sig-first-turn-exec"}


def test_translator_ignores_calls_after_the_end():
    body = {"model": "m", "input": "hi"}
    translator = ResponsesStreamTranslator(make_context(), body)
    translator.start()
    translator.feed(
        {
            "candidates": [
                {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}
            ]
        }
    )
    assert translator.finish()
    assert translator.feed({"candidates": []}) == []
    assert translator.finish() == []
    assert translator.error(UpstreamUnavailable("late")) == []


def test_translator_without_finish_reason_fails():
    translator = ResponsesStreamTranslator(
        make_context(), {"model": "m", "input": "hi"}
    )
    translator.feed({"candidates": [{"content": {"parts": [{"text": "partial"}]}}]})
    events = decode_frames(translator.finish())
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert events[-1]["response"]["output"][0]["status"] == "completed"


def test_translator_prompt_block_is_content_filter():
    translator = ResponsesStreamTranslator(
        make_context(), {"model": "m", "input": "hi"}
    )
    translator.feed(
        {
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 3},
        }
    )
    events = decode_frames(translator.finish())
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "content_filter"}
    assert events[-1]["response"]["usage"]["total_tokens"] == 3


def test_translator_skips_unusable_parts():
    translator = ResponsesStreamTranslator(
        make_context(), {"model": "m", "input": "hi"}
    )
    frames = translator.feed(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            "junk",
                            {"inlineData": {"mimeType": "image/png", "data": "AA=="}},
                            {"text": ""},
                        ]
                    }
                },
                {"content": {"parts": [{"text": "second candidate"}]}},
            ]
        }
    )
    assert frames == []
    assert translator.feed({"candidates": "bad"}) == []
    assert translator.feed({"candidates": [{"content": {"parts": "bad"}}]}) == []


def test_generic_error_kinds_map_to_server_error():
    translator = ResponsesStreamTranslator(
        make_context(), {"model": "m", "input": "hi"}
    )
    translator.feed(
        {"candidates": [{"content": {"parts": [{"text": "think", "thought": True}]}}]}
    )
    events = decode_frames(translator.error(GatewayError("boom")))
    response = events[-1]["response"]
    assert response["error"] == {"code": "server_error", "message": "boom"}
    assert response["output"][0]["status"] == "incomplete"
    assert response["output"][0]["summary"] == [
        {"type": "summary_text", "text": "think"}
    ]
    Response.model_validate(response)


def include_translator() -> ResponsesStreamTranslator:
    body = {"model": "m", "input": "hi", "include": ["reasoning.encrypted_content"]}
    return ResponsesStreamTranslator(make_context(), body)


def test_signature_on_an_empty_thought_part_reaches_the_next_call():
    translator = include_translator()
    parts = [
        {"text": "", "thought": True, "thoughtSignature": "s1"},
        {"functionCall": {"name": "f", "args": {}}},
    ]
    translator.feed(
        {"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}
    )
    translator.finish()
    output = translator.response_object()["output"]
    carrier = decode_signature(output[0]["encrypted_content"])
    assert carrier is not None and carrier.call_ids == ("call_t_0",)
    assert translator.signatures == {"call_t_0": "s1"}


def test_reasoning_without_signature_has_null_encrypted_content():
    translator = include_translator()
    parts = [{"text": "think", "thought": True}, {"text": "answer"}]
    translator.feed(
        {"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}
    )
    translator.finish()
    output = translator.response_object()["output"]
    assert output[0]["encrypted_content"] is None
    assert [item["type"] for item in output] == ["reasoning", "message"]
