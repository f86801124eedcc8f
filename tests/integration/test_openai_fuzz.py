"""A bounded, deterministic fuzz of the three OpenAI generation endpoints through
the WSGI app against the fake Cloud Code: wrong types, huge numbers, nested garbage,
empty strings, lone surrogates and malformed bytes are a 4xx OpenAI error body (or
accepted), never a 500."""

from __future__ import annotations

import copy
import json

import pytest

from tests.integration.openai_support import (
    APPLY_PATCH_GRAMMAR,
    EXEC_COMMAND,
    MODEL,
    NAMESPACE,
    codex_body,
)
from tests.upstream_env import seed_account


@pytest.fixture
def client(gateway, home, fake_upstream):
    seed_account(home, fake_upstream, "a")
    return gateway()


GARBAGE = [
    None,
    True,
    -1,
    10**30,
    1e308,
    "",
    "\ud800",
    [],
    {},
    [[[{}]]],
    {"x": [None, {"y": 1.5, "z": ["", -0.0]}]},
]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CHAT = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city":"Paris"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ],
    "tools": [TOOL],
    "tool_choice": "auto",
    "temperature": 0.5,
    "max_tokens": 50,
}
COMPLETION = {"model": MODEL, "prompt": ["Say hi"], "max_tokens": 20, "n": 1}
RESPONSES = {
    **{k: v for k, v in codex_body("weather?").items() if k != "stream"},
    "tools": [EXEC_COMMAND, APPLY_PATCH_GRAMMAR, NAMESPACE],
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"format": {"type": "text"}},
    "max_output_tokens": 100,
    "metadata": {"k": "v"},
}
RESPONSES["input"] = [
    *RESPONSES["input"],
    {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "x"},
    {
        "type": "function_call",
        "name": "exec_command",
        "arguments": '{"cmd":"ls"}',
        "call_id": "call_9",
    },
    {"type": "function_call_output", "call_id": "call_9", "output": "a.txt"},
]
FUZZ_PATHS = {
    "/v1/chat/completions": (
        CHAT,
        [
            (),
            ("model",),
            ("messages",),
            ("messages", 0),
            ("messages", 1, "role"),
            ("messages", 1, "content"),
            ("messages", 1, "content", 0),
            ("messages", 1, "content", 0, "text"),
            ("messages", 2, "tool_calls"),
            ("messages", 2, "tool_calls", 0, "id"),
            ("messages", 2, "tool_calls", 0, "function"),
            ("messages", 2, "tool_calls", 0, "function", "arguments"),
            ("messages", 3, "tool_call_id"),
            ("tools",),
            ("tools", 0, "function", "parameters"),
            ("tools", 0, "function", "parameters", "properties"),
            ("tool_choice",),
            ("temperature",),
            ("n",),
            ("max_tokens",),
            ("stop",),
            ("seed",),
            ("response_format",),
            ("reasoning_effort",),
            ("stream",),
            ("stream_options",),
            ("logprobs",),
            ("metadata",),
        ],
    ),
    "/v1/completions": (
        COMPLETION,
        [
            (),
            ("model",),
            ("prompt",),
            ("prompt", 0),
            ("max_tokens",),
            ("n",),
            ("stop",),
            ("echo",),
            ("suffix",),
            ("logprobs",),
            ("best_of",),
            ("stream",),
        ],
    ),
    "/v1/responses": (
        RESPONSES,
        [
            (),
            ("model",),
            ("input",),
            ("input", 0),
            ("input", 0, "role"),
            ("input", 0, "content"),
            ("input", 3, "content", 0, "text"),
            ("input", 4),
            ("input", 4, "encrypted_content"),
            ("input", 5, "arguments"),
            ("input", 5, "call_id"),
            ("input", 6, "output"),
            ("tools",),
            ("tools", 0, "parameters"),
            ("tools", 1, "format"),
            ("tools", 2, "tools"),
            ("tool_choice",),
            ("reasoning",),
            ("reasoning", "effort"),
            ("text",),
            ("text", "format"),
            ("include",),
            ("store",),
            ("metadata",),
            ("max_output_tokens",),
            ("temperature",),
            ("instructions",),
            ("previous_response_id",),
            ("prompt_cache_key",),
            ("client_metadata",),
            ("parallel_tool_calls",),
            ("truncation",),
        ],
    ),
}
RAW_BODIES = [
    b"",
    b"   ",
    b"\xff\xfe\x00{",
    b'{"model": "gemini-3-flash", ',
    b"[]",
    b"null",
    b'"just a string"',
    b"1e999",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b'{"model": NaN}',
    b'{"model": "gemini-3-flash", "temperature": NaN, "top_p": Infinity}',
    b'{"model": "gemini-3-flash", "prompt": "\xc3\x28", "input": "\xc3\x28"}',
    b'{"model": "gemini-3-flash", "prompt": "\\ud800", "input": "\\udfff"}',
]


def replaced(body: dict, path: tuple, value: object) -> object:
    """``body`` with the value at ``path`` replaced (the whole body for ())."""
    if not path:
        return value
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def assert_not_server_error(response, what: str) -> None:
    status = response.status_code
    text = response.get_data(as_text=True)
    assert status < 500, f"{what} -> {status} {text[:300]}"
    if status >= 400:
        error = json.loads(text)["error"]
        assert set(error) == {"message", "type", "param", "code"}, what
        assert error["type"] == "invalid_request_error", f"{what} -> {text[:300]}"


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [(e, p) for e, (_, paths) in FUZZ_PATHS.items() for p in paths],
    ids=lambda x: x if isinstance(x, str) else ".".join(map(str, x)) or "body",
)
def test_fuzz_field_never_500s(client, endpoint, path):
    base = FUZZ_PATHS[endpoint][0]
    for value in GARBAGE:
        body = json.dumps(replaced(base, path, value))
        response = client.post(endpoint, data=body, content_type="application/json")
        assert_not_server_error(response, f"{endpoint} {path}={value!r}")


@pytest.mark.parametrize("endpoint", list(FUZZ_PATHS))
@pytest.mark.parametrize("raw", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_fuzz_raw_body_is_400(client, fake_upstream, endpoint, raw):
    response = client.post(endpoint, data=raw, content_type="application/json")
    assert_not_server_error(response, f"{endpoint} {raw[:40]!r}")
    assert response.status_code == 400
    assert fake_upstream.calls(":streamGenerateContent") == []


DEEP_SCHEMA = '{"type": "object", "properties": {"a": ' * 400 + "{}" + "}}" * 400


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [
        ("/v1/chat/completions", ("tools", 0, "function", "parameters")),
        ("/v1/responses", ("tools", 0, "parameters")),
        ("/v1/completions", ("metadata",)),
    ],
)
def test_fuzz_deep_schema_is_not_a_server_error(client, endpoint, path):
    """Parsable, yet deeper than schema cleaning or the upstream encoder can walk."""
    raw = json.dumps(replaced(FUZZ_PATHS[endpoint][0], path, "DEEP"))
    raw = raw.replace('"DEEP"', DEEP_SCHEMA)
    response = client.post(endpoint, data=raw, content_type="application/json")
    assert_not_server_error(response, f"{endpoint} deep {path}")
