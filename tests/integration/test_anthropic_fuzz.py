"""Malformed bodies never 500: a bounded table against both Messages endpoints.

Each case is one way a client (or an attacker) can get a body wrong: wrong JSON
types at every level, unhashable values where a tag or enum is expected, and
nesting deep enough to reach Python's recursion limit. Every answer must be a
4xx in Anthropic's error shape, and no generation call may reach the upstream.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from antigravity_proxy.protocols.anthropic.types import MAX_DEPTH
from tests.upstream_env import seed_account

ENDPOINTS = ("/v1/messages", "/v1/messages/count_tokens")
USER = {"role": "user", "content": "hi"}


def nest(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gemini-3-flash", "max_tokens": 100, "messages": [USER], **fields}


def user(*blocks: Any) -> dict[str, Any]:
    return body(messages=[{"role": "user", "content": list(blocks)}])


def assistant(*blocks: Any) -> dict[str, Any]:
    return body(messages=[USER, {"role": "assistant", "content": list(blocks)}])


def deep_signature() -> str:
    raw = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    return "agp1." + raw


TOOL = {"name": "t", "input_schema": {"type": "object"}}
# Wrong for both endpoints: the conversation, the tools, the nesting.
CASES: dict[str, Any] = {
    "model_missing": {"max_tokens": 1, "messages": [USER]},
    "model_list": body(model=[]),
    "messages_string": body(messages="hi"),
    "messages_empty": body(messages=[]),
    "message_not_object": body(messages=[[]]),
    "role_unhashable": body(messages=[{"role": [], "content": "x"}]),
    "role_unknown": body(messages=[{"role": "tool", "content": "x"}]),
    "content_number": body(messages=[{"role": "user", "content": 5}]),
    "content_missing": body(messages=[{"role": "user"}]),
    "only_system_messages": body(messages=[{"role": "system", "content": "x"}]),
    "system_number": body(system=5),
    "system_block_image": body(system=[{"type": "image"}]),
    "block_not_object": user(5),
    "block_type_unhashable": user({"type": []}),
    "block_type_unknown": user({"type": "video"}),
    "text_not_string": user({"type": "text", "text": 5}),
    "image_source_string": user({"type": "image", "source": "x"}),
    "image_url_not_string": user(
        {"type": "image", "source": {"type": "url", "url": []}}
    ),
    "image_media_type_list": user(
        {"type": "image", "source": {"type": "base64", "media_type": [], "data": "x"}}
    ),
    "image_media_type_svg": user(
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/svg", "data": "x"},
        }
    ),
    "document_url": user({"type": "document", "source": {"type": "url", "url": 5}}),
    "tool_result_id_list": user(
        {"type": "tool_result", "tool_use_id": [], "content": "x"}
    ),
    "tool_result_content_number": user(
        {"type": "tool_result", "tool_use_id": "x", "content": 5}
    ),
    "tool_result_block_type_unhashable": user(
        {"type": "tool_result", "tool_use_id": "x", "content": [{"type": []}]}
    ),
    "tool_use_input_list": assistant(
        {"type": "tool_use", "id": "t", "name": "n", "input": []}
    ),
    "thinking_text_missing": assistant({"type": "thinking", "signature": ""}),
    "thinking_signature_nested": assistant(
        {"type": "thinking", "thinking": "x", "signature": deep_signature()},
        {"type": "text", "text": 5},
    ),
    "redacted_thinking_no_data": assistant({"type": "redacted_thinking"}),
    "tools_object": body(tools={}),
    "tool_name_missing": body(tools=[{"input_schema": {}}]),
    "tool_schema_missing": body(tools=[{"name": "t"}]),
    "tool_type_unhashable": body(tools=[{"type": [], "name": "t"}]),
    "tool_type_unknown": body(tools=[{"type": "bash_20250124", "name": "bash"}]),
    "web_search_name_list": body(tools=[{"type": "web_search_20250305", "name": []}]),
    "deep_tool_input": assistant(
        {"type": "tool_use", "id": "t", "name": "n", "input": nest(MAX_DEPTH * 6)}
    ),
    "deep_tool_schema": body(tools=[{"name": "t", "input_schema": nest(900)}]),
    "deep_format_schema": body(
        output_config={"format": {"type": "json_schema", "schema": nest(900)}}
    ),
    "deep_unknown_field": user({"type": "text", "text": "x", "extra": nest(900)}),
}
# Generation settings: only ``/v1/messages`` reads them.
GENERATION_CASES: dict[str, Any] = {
    "max_tokens_missing": {"model": "m", "messages": [USER]},
    "max_tokens_float": body(max_tokens=1.5),
    "max_tokens_zero": body(max_tokens=0),
    "max_tokens_bool": body(max_tokens=True),
    "temperature_high": body(temperature=3),
    "temperature_string": body(temperature="0.5"),
    "top_k_negative": body(top_k=-1),
    "stream_string": body(stream="yes"),
    "stop_sequences_string": body(stop_sequences="x"),
    "stop_sequence_number": body(stop_sequences=[1]),
    "tool_choice_string": body(tools=[TOOL], tool_choice="auto"),
    "tool_choice_type_unknown": body(tools=[TOOL], tool_choice={"type": "all"}),
    "tool_choice_name_list": body(
        tools=[TOOL], tool_choice={"type": "tool", "name": []}
    ),
    "tool_choice_name_unknown": body(
        tools=[TOOL], tool_choice={"type": "tool", "name": "nope"}
    ),
    "tool_choice_parallel_string": body(
        tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": "yes"}
    ),
    "thinking_string": body(thinking="on"),
    "thinking_type_unhashable": body(thinking={"type": []}),
    "thinking_budget_string": body(thinking={"type": "enabled", "budget_tokens": "5"}),
    "thinking_budget_small": body(thinking={"type": "enabled", "budget_tokens": 10}),
    "effort_unhashable": body(output_config={"effort": []}),
    "effort_object": body(output_config={"effort": {}}),
    "effort_unknown": body(output_config={"effort": "extreme"}),
    "format_type_unhashable": body(output_config={"format": {"type": []}}),
    "format_schema_missing": body(output_config={"format": {"type": "json_schema"}}),
}
TABLE = [
    *[(endpoint, case) for endpoint in ENDPOINTS for case in sorted(CASES)],
    *[("/v1/messages", case) for case in sorted(GENERATION_CASES)],
]
RAW: dict[str, bytes] = {
    "empty": b"",
    "not_json": b"nul",
    "not_utf8": b"\xff\xfe",
    "array": b"[]",
    "string": b'"x"',
    "nan": b"NaN",
    "truncated": b'{"model": "m", "messages": [',
    "deep": b"[" * 100_000,
}


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


def assert_anthropic_4xx(response) -> None:
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    error = response.json
    assert error["type"] == "error" and set(error["error"]) == {"type", "message"}
    assert isinstance(error["error"]["message"], str) and error["error"]["message"]
    if response.status_code == 400:
        assert error["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("endpoint", "case"), TABLE)
def test_malformed_body_is_a_4xx_error(client, fake_upstream, endpoint, case):
    request = {**CASES, **GENERATION_CASES}[case]
    raw = json.dumps(request).encode()
    response = client.post(endpoint, data=raw, content_type="application/json")
    assert_anthropic_4xx(response)
    assert fake_upstream.calls(":streamGenerateContent") == []
    assert fake_upstream.calls(":countTokens") == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("raw", RAW.values(), ids=list(RAW))
def test_unparsable_body_is_a_4xx_error(client, endpoint, raw):
    response = client.post(endpoint, data=raw, content_type="application/json")
    assert_anthropic_4xx(response)


def test_depth_error_names_the_field(client):
    response = client.post("/v1/messages", json=CASES["deep_tool_input"])
    message = response.json["error"]["message"]
    assert message.startswith("messages[1].content[0].input.a.a.")
    assert message.endswith(f"nested deeper than {MAX_DEPTH} levels")
