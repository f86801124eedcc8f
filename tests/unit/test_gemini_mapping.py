from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from antigravity_proxy.errors import ErrorKind, GatewayError, InvalidRequest
from antigravity_proxy.protocols.gemini.catalogue import list_models, model_object
from antigravity_proxy.protocols.gemini.chunk import chunk_from_upstream
from antigravity_proxy.protocols.gemini.request import (
    SKIP_SIGNATURE,
    GeminiContext,
    count_tokens_to_upstream,
    parse_model_method,
    request_to_upstream,
)
from antigravity_proxy.protocols.gemini.response import merge_chunks, response_to_client
from antigravity_proxy.protocols.gemini.stream import GeminiStreamTranslator
from tests.golden_files import check_bytes, check_json, load

EMPTY = {"type": "object", "properties": {}}
USER_BRIEF = {"role": "user", "parts": [{"text": "Be brief."}]}

GOLDEN = Path(__file__).parent.parent / "golden" / "gemini"


def _cases(marker: str) -> list[Path]:
    return sorted(p.parent for p in GOLDEN.glob(f"*/{marker}"))


def _context(case: Path) -> GeminiContext:
    data = load(case / "context.json")
    return GeminiContext(data["upstream_model"], data["signatures"])


REQUEST_CASES = _cases("request.json")
VALID_CASES = [c for c in REQUEST_CASES if not c.name.startswith("invalid_")]
INVALID_CASES = [c for c in REQUEST_CASES if c.name.startswith("invalid_")]
STREAM_CASES = _cases("upstream_stream.json")


@pytest.mark.parametrize("case", VALID_CASES, ids=lambda p: p.name)
def test_request_to_upstream_golden(case):
    body = load(case / "request.json")
    before = copy.deepcopy(body)
    actual = request_to_upstream(body, _context(case))
    assert body == before
    check_json(case / "upstream_request.json", actual)


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda p: p.name)
def test_request_to_upstream_invalid_golden(case):
    with pytest.raises(InvalidRequest) as info:
        request_to_upstream(load(case / "request.json"), _context(case))
    err = info.value
    actual = {"message": err.message, "param": err.param, "status": err.status}
    check_json(case / "error.json", actual)


def _translate(case: Path, sse: bool) -> tuple[bytes, GeminiStreamTranslator]:
    translator = GeminiStreamTranslator(sse=sse)
    frames: list[bytes] = []
    for chunk in load(case / "upstream_stream.json"):
        frames += translator.feed(chunk)
    error_path = case / "stream_error.json"
    if error_path.exists():
        spec = load(error_path)
        frames += translator.error(
            GatewayError(spec["message"], kind=ErrorKind(spec["kind"]))
        )
    else:
        frames += translator.finish()
    return b"".join(frames), translator


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_sse_golden(case):
    body, translator = _translate(case, sse=True)
    check_bytes(case / "stream.sse", body)
    check_json(case / "signatures.json", translator.signatures)


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_stream_json_array_golden(case):
    body, _ = _translate(case, sse=False)
    check_json(case / "stream.json", json.loads(body))


@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda p: p.name)
def test_merge_chunks_golden(case):
    chunks = load(case / "upstream_stream.json")
    before = copy.deepcopy(chunks)
    actual = response_to_client(merge_chunks(chunks))
    assert chunks == before
    check_json(case / "response.json", actual)


def test_stream_sse_frames_are_crlf_data_events():
    translator = GeminiStreamTranslator(sse=True)
    chunk = {"candidates": [{"finishReason": "STOP"}]}
    frames = translator.feed({"response": chunk, "traceId": "t"})
    assert frames == [b'data: {"candidates":[{"finishReason":"STOP"}]}\r\n\r\n']
    assert translator.finish() == []


def test_stream_array_framing_matches_the_api():
    translator = GeminiStreamTranslator(sse=False)
    frames = translator.feed({"response": {"a": 1}})
    frames += translator.feed({"candidates": [{"finishReason": "STOP"}]})
    frames += translator.finish()
    assert frames == [
        b'[{"a":1}',
        b',\r\n{"candidates":[{"finishReason":"STOP"}]}',
        b"]",
    ]


@pytest.mark.parametrize("sse", [True, False])
def test_stream_without_finish_reason_gets_one_but_errors_do_not(sse):
    translator = GeminiStreamTranslator(sse=sse)
    translator.feed({"response": {"candidates": [{"content": {"parts": []}}]}})
    assert b'"finishReason":"STOP"' in b"".join(translator.finish())
    failed = GeminiStreamTranslator(sse=sse)
    failed.feed({"response": {"candidates": [{"content": {"parts": []}}]}})
    error = b"".join(failed.error(GatewayError("cut", kind=ErrorKind.UPSTREAM)))
    assert b"finishReason" not in error and b'"error"' in error


def test_stream_empty_array_and_nothing_after_close():
    translator = GeminiStreamTranslator(sse=False)
    assert translator.feed({"response": {}}) == []
    assert translator.finish() == [b"[]"]
    assert translator.feed({"a": 1}) == []
    assert translator.error(InvalidRequest("late")) == []
    assert translator.finish() == []


def test_stream_error_first_element_opens_array():
    translator = GeminiStreamTranslator(sse=False)
    frames = translator.error(InvalidRequest("bad"))
    body = json.loads(b"".join(frames))
    assert body == [
        {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    ]


def test_merge_chunks_equals_what_was_streamed():
    case = GOLDEN / "stream_text_thought_signature_call"
    chunks = load(case / "upstream_stream.json")
    body, _ = _translate(case, sse=False)
    streamed = json.loads(body)
    assert merge_chunks(streamed) == merge_chunks(chunks)


def test_merge_chunks_keeps_first_empty_text_and_joins_into_it():
    merged = merge_chunks(
        [
            {"candidates": [{"content": {"parts": [{"text": ""}]}}]},
            {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]},
        ]
    )
    assert merged == {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}


def test_merge_chunks_two_signatures_keep_two_parts():
    chunk = {
        "candidates": [
            {"content": {"parts": [{"text": "a", "thoughtSignature": "s1"}]}}
        ]
    }
    other = {
        "candidates": [
            {"content": {"parts": [{"text": "b", "thoughtSignature": "s2"}]}}
        ]
    }
    parts = merge_chunks([chunk, other])["candidates"][0]["content"]["parts"]
    assert parts == [
        {"text": "a", "thoughtSignature": "s1"},
        {"text": "b", "thoughtSignature": "s2"},
    ]


def test_merge_chunks_ignores_malformed_candidates_and_keeps_content_keys():
    chunks: list[Any] = [
        {"candidates": ["junk", {"content": {"parts": ["junk", {"text": "a"}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "b"}], "extra": 1}}]},
    ]
    content = merge_chunks(chunks)["candidates"][0]["content"]
    assert content == {"parts": [{"text": "ab"}], "extra": 1}


def test_merge_chunks_without_candidates_keeps_prompt_feedback():
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"totalTokenCount": 4},
    }
    assert merge_chunks([{"response": blocked}]) == blocked


def test_chunk_signatures_key_by_id_then_name():
    chunk = {
        "response": {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {
                                "functionCall": {"id": "c1", "name": "a"},
                                "thoughtSignature": "s1",
                            },
                            {"functionCall": {"name": "b"}, "thought_signature": "s2"},
                            {"functionCall": {"id": "c3", "name": "c"}},
                            {"text": "x", "thoughtSignature": "s4"},
                            "junk",
                        ]
                    }
                }
            ]
        }
    }
    assert chunk_from_upstream(chunk).signatures == {"c1": "s1", "b": "s2"}


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        (
            "gemini-2.5-pro:streamGenerateContent",
            ("gemini-2.5-pro", "streamGenerateContent"),
        ),
        (
            "models/gemini-3.8-flash:generateContent",
            ("gemini-3.8-flash", "generateContent"),
        ),
        ("gemini-3-flash", ("gemini-3-flash", "generateContent")),
        ("models/gemini-3-flash:countTokens", ("gemini-3-flash", "countTokens")),
        ("tuned:model:countTokens", ("tuned:model", "countTokens")),
    ],
)
def test_parse_model_method_splits_at_last_colon(segment, expected):
    assert parse_model_method(segment) == expected


@pytest.mark.parametrize(
    ("segment", "param"),
    [
        ("gemini-3-flash:embedContent", "method"),
        ("gemini-3-flash:", "method"),
        (":generateContent", "model"),
        ("models/:generateContent", "model"),
        ("", "model"),
    ],
)
def test_parse_model_method_rejects(segment, param):
    with pytest.raises(InvalidRequest) as info:
        parse_model_method(segment)
    assert info.value.param == param


def test_parse_model_method_names_the_unsupported_method():
    with pytest.raises(InvalidRequest, match="embedContent"):
        parse_model_method("gemini-3-flash:embedContent")


def test_request_to_upstream_sentinel_when_nothing_remembered():
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"id": "x", "name": "f"}}]}
        ]
    }
    out = request_to_upstream(body, GeminiContext("gemini-3-flash"))
    assert out["contents"][0]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


def _one_turn(**extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **extra}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tools": []}, {}),
        ({"tools": [{"functionDeclarations": []}]}, {}),
        (
            {"tools": [{"functionDeclarations": [{"name": "f", "parameters": {}}]}]},
            {"tools": [{"functionDeclarations": [{"name": "f", "parameters": EMPTY}]}]},
        ),
        (
            {"tools": [{"functionDeclarations": [{"name": "f", "parameters": True}]}]},
            {"tools": [{"functionDeclarations": [{"name": "f"}]}]},
        ),
        (
            {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}},
            {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}},
        ),
        (
            {
                "generationConfig": {
                    "thinkingConfig": {"thinkingLevel": "thinking_level_unspecified"}
                }
            },
            {"generationConfig": {"thinkingConfig": {}}},
        ),
        (
            {"generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}},
            {"generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}},
        ),
        ({"systemInstruction": "Be brief."}, {"systemInstruction": USER_BRIEF}),
        ({"systemInstruction": USER_BRIEF}, {"systemInstruction": USER_BRIEF}),
    ],
)
def test_request_to_upstream_edges(extra, expected):
    out = request_to_upstream(_one_turn(**extra), GeminiContext("gemini-3-flash"))
    assert out == _one_turn(**expected)


def test_request_to_upstream_parameters_without_type_become_object():
    declaration = {"name": "f", "parametersJsonSchema": {"description": "d"}}
    body = _one_turn(tools=[{"functionDeclarations": [declaration]}])
    out = request_to_upstream(body, GeminiContext("gemini-3-flash"))
    parameters = out["tools"][0]["functionDeclarations"][0]["parameters"]
    assert parameters == {"type": "object", "properties": {}, "description": "d"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": ["googleSearch"]}, "tools[0]"),
        (
            {"tools": [{"functionDeclarations": ["f"]}]},
            "tools[0].functionDeclarations[0]",
        ),
        (
            {"generationConfig": {"thinkingConfig": "high"}},
            "generationConfig.thinkingConfig",
        ),
    ],
)
def test_request_to_upstream_invalid_nested_shapes(extra, param):
    with pytest.raises(InvalidRequest) as info:
        request_to_upstream(_one_turn(**extra), GeminiContext("gemini-3-flash"))
    assert info.value.param == param
    assert info.value.message.startswith(param)


def test_count_tokens_contents_form():
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    out = count_tokens_to_upstream(body, GeminiContext("gemini-3-flash"))
    assert out == {"model": "models/gemini-3-flash", "contents": body["contents"]}


def test_count_tokens_generate_content_request_form_counts_system():
    body = {
        "generateContentRequest": {
            "model": "models/gemini-3-flash",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "sys"}]},
            "tools": [{"googleSearch": {}}],
            "safetySettings": [],
        }
    }
    out = count_tokens_to_upstream(body, GeminiContext("gemini-pro-agent"))
    assert out == {
        "model": "models/gemini-pro-agent",
        "contents": [
            {"role": "user", "parts": [{"text": "sys"}]},
            {"role": "user", "parts": [{"text": "hi"}]},
        ],
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "contents"),
        ({"contents": [{"parts": "x"}]}, "contents[0].parts"),
        ({"generateContentRequest": []}, "generateContentRequest"),
        (
            {"generateContentRequest": {"contents": []}},
            "generateContentRequest.contents",
        ),
        ([], None),
    ],
)
def test_count_tokens_invalid(body, param):
    with pytest.raises(InvalidRequest) as info:
        count_tokens_to_upstream(body, GeminiContext("gemini-3-flash"))
    assert info.value.param == param


def test_model_object_official_shape():
    model = model_object("claude-opus-4-6-thinking")
    assert model == {
        "name": "models/claude-opus-4-6-thinking",
        "baseModelId": "claude-opus-4-6-thinking",
        "version": "001",
        "displayName": "Claude Opus 4.6 Thinking",
        "description": "Claude Opus 4.6 Thinking, served by antigravity-proxy as "
        "claude-opus-4-6-thinking.",
        "inputTokenLimit": 200000,
        "outputTokenLimit": 64000,
        "supportedGenerationMethods": [
            "generateContent",
            "streamGenerateContent",
            "countTokens",
        ],
        "temperature": 1.0,
        "maxTemperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "thinking": True,
    }


@pytest.mark.parametrize(
    ("model_id", "display", "limits", "thinking"),
    [
        ("gemini-3-flash", "Gemini 3 Flash", (1048576, 65536), True),
        ("gemini-3.1-pro-high", "Gemini 3.1 Pro High", (1048576, 65536), True),
        (
            "gemini-3-pro-image-4k-16x9",
            "Gemini 3 Pro Image 4k 16x9",
            (65536, 32768),
            False,
        ),
        ("gpt-4o-mini", "GPT 4o Mini", (1048576, 65535), True),
    ],
)
def test_model_object_per_family(model_id, display, limits, thinking):
    model = model_object(model_id)
    assert model["displayName"] == display
    assert (model["inputTokenLimit"], model["outputTokenLimit"]) == limits
    assert model["thinking"] is thinking


def test_list_models_pages_until_last_page_without_token():
    ids = [f"gemini-3-flash-{i}" for i in range(5)]
    first = list_models(ids, 2, None)
    second = list_models(ids, 2, first["nextPageToken"])
    last = list_models(ids, 2, second["nextPageToken"])
    names = [m["name"] for page in (first, second, last) for m in page["models"]]
    assert names == [f"models/{i}" for i in ids]
    assert "nextPageToken" not in last


def test_list_models_default_and_maximum_page_size():
    ids = [f"m{i}" for i in range(1200)]
    assert len(list_models(ids, None, None)["models"]) == 50
    assert len(list_models(ids, 0, None)["models"]) == 50
    assert len(list_models(ids, 5000, None)["models"]) == 1000


def test_list_models_single_page_has_no_token():
    assert list_models(["a"], None, None) == {"models": [model_object("a")]}
    assert list_models([], None, None) == {"models": []}


@pytest.mark.parametrize(
    ("page_size", "token", "param"),
    [
        (None, "garbage!", "pageToken"),
        (None, "b2Zmc2V0Oi0x", "pageToken"),
        (-1, None, "pageSize"),
    ],
)
def test_list_models_rejects_bad_paging(page_size, token, param):
    with pytest.raises(InvalidRequest) as info:
        list_models(["a", "b"], page_size, token)
    assert info.value.param == param
