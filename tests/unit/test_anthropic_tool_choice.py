"""``tool_choice`` -> toolConfig, and ``disable_parallel_tool_use`` on the answer."""

from __future__ import annotations

from typing import Any

import pytest

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.anthropic.request import (
    parallel_tool_use,
    request_to_upstream,
)
from antigravity_proxy.protocols.anthropic.stream import MessagesStreamTranslator
from antigravity_proxy.protocols.anthropic.types import (
    MAX_DEPTH,
    MessagesContext,
    check_depth,
)

CTX = MessagesContext("msg_1", "seed", "claude-opus-4-8", "gemini-3-flash")
TOOLS = [
    {"name": "Read", "input_schema": {"type": "object"}},
    {"name": "Bash", "input_schema": {"type": "object"}},
]


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": TOOLS,
        **fields,
    }


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (None, {"mode": "VALIDATED"}),
        ({"type": "auto"}, {"mode": "VALIDATED"}),
        ({"type": "any"}, {"mode": "ANY"}),
        ({"type": "none"}, {"mode": "NONE"}),
        ({"type": "tool", "name": "Bash"}, {"mode": "ANY", "allowedFunctionNames": ["Bash"]}),
        ({"type": "any", "disable_parallel_tool_use": True}, {"mode": "ANY"}),
        ({"type": "auto", "disable_parallel_tool_use": False}, {"mode": "VALIDATED"}),
    ],
)  # fmt: skip
def test_tool_choice_to_function_calling_config(
    choice: dict[str, Any] | None, config: dict[str, Any]
) -> None:
    request = request_to_upstream(body(tool_choice=choice), CTX)
    assert request["toolConfig"] == {"functionCallingConfig": config}
    assert [d["name"] for d in request["tools"][0]["functionDeclarations"]] == [
        "Read",
        "Bash",
    ]


def test_disable_parallel_tool_use_must_be_a_boolean() -> None:
    choice = {"type": "auto", "disable_parallel_tool_use": "yes"}
    with pytest.raises(InvalidRequest) as caught:
        request_to_upstream(body(tool_choice=choice), CTX)
    assert caught.value.param == "tool_choice.disable_parallel_tool_use"


@pytest.mark.parametrize(
    ("choice", "parallel"),
    [
        (None, True),
        ("auto", True),
        ({"type": "auto"}, True),
        ({"type": "any", "disable_parallel_tool_use": False}, True),
        ({"type": "any", "disable_parallel_tool_use": True}, False),
    ],
)
def test_parallel_tool_use(choice: Any, parallel: bool) -> None:
    assert parallel_tool_use(body(tool_choice=choice)) is parallel


def calls_chunk() -> dict[str, Any]:
    parts = [
        {
            "functionCall": {"name": "Read", "args": {"p": 1}, "id": "c1"},
            "thoughtSignature": "sig-1",
        },
        {"functionCall": {"name": "Bash", "args": {"c": "ls"}, "id": "c2"}},
    ]
    return {"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}


@pytest.mark.parametrize(("parallel", "ids"), [(True, ["c1", "c2"]), (False, ["c1"])])
def test_stream_keeps_one_call_when_parallel_use_is_disabled(
    parallel: bool, ids: list[str]
) -> None:
    ctx = MessagesContext(
        "msg_1", "seed", "m", "gemini-3-flash", parallel_tool_use=parallel
    )
    translator = MessagesStreamTranslator(ctx)
    translator.feed(calls_chunk())
    message = translator.message()
    uses = [b for b in message["content"] if b["type"] == "tool_use"]
    assert [b["id"] for b in uses] == ids
    assert message["stop_reason"] == "tool_use"
    assert translator.signatures == {"c1": "sig-1"}


def nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_check_depth_allows_the_limit_and_names_what_exceeds_it() -> None:
    check_depth({"a": nest(MAX_DEPTH - 1)})
    with pytest.raises(InvalidRequest) as caught:
        check_depth({"messages": [{"content": nest(MAX_DEPTH)}]})
    assert caught.value.param.startswith("messages[0].content[0][0]")
    assert caught.value.message.endswith(f"nested deeper than {MAX_DEPTH} levels")
    check_depth("scalar")
