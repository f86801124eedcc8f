"""Edge cases of the pure translators that the golden cases do not reach."""

from __future__ import annotations

from antigravity_proxy.protocols.gemini.chunk import chunk_from_upstream
from antigravity_proxy.protocols.gemini.response import merge_chunks
from antigravity_proxy.protocols.openai.responses_request import request_to_upstream
from antigravity_proxy.protocols.openai.responses_types import ResponsesContext
from antigravity_proxy.protocols.schema import clean_schema


def test_merge_chunks_ignores_candidates_that_are_not_a_list():
    chunks = [{"candidates": None, "modelVersion": "m"}, {"candidates": "garbage"}]
    assert merge_chunks(chunks) == {"modelVersion": "m"}


def test_chunk_signatures_skip_calls_without_a_usable_key():
    chunk = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {
                            "functionCall": {"id": 7, "name": None},
                            "thoughtSignature": "s1",
                        },
                        {"functionCall": {"name": "ok"}, "thoughtSignature": "s2"},
                    ]
                }
            }
        ]
    }
    assert chunk_from_upstream(chunk).signatures == {"ok": "s2"}


def test_responses_tool_output_drops_empty_text_parts():
    ctx = ResponsesContext(
        response_id="resp_1",
        created_at=1,
        model="gemini-3-flash",
        upstream_model="gemini-3-flash",
        id_seed="seed",
    )
    body = {
        "model": "gemini-3-flash",
        "input": [
            {"type": "message", "role": "user", "content": "run it"},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "run",
                "arguments": "{}",
            },
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [
                    {"type": "input_text", "text": ""},
                    {"type": "input_text", "text": "done"},
                ],
            },
        ],
        "tools": [
            {"type": "function", "name": "run", "parameters": {"type": "object"}}
        ],
    }
    contents = request_to_upstream(body, ctx)["contents"]
    response = contents[-1]["parts"][0]["functionResponse"]
    assert response["response"] == {"output": "done"}


def test_clean_schema_all_of_with_non_object_branches_is_tolerated():
    cleaned = clean_schema(
        {
            "allOf": [
                "nonsense",
                {"type": "object", "properties": {"a": {"type": "string"}}},
            ]
        }
    )
    assert cleaned["type"] == "object"
    assert cleaned["properties"] == {"a": {"type": "string"}}
