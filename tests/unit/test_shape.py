"""``protocols.shape``: the boundary check every protocol's translator relies on."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.anthropic.shapes import MESSAGES_SHAPE
from antigravity_proxy.protocols.gemini.shapes import GENERATE_SHAPE
from antigravity_proxy.protocols.openai.shapes import (
    CHAT_SHAPE,
    COMPLETIONS_SHAPE,
    RESPONSES_SHAPE,
)
from antigravity_proxy.protocols.shape import Shape, check_shape, kind_of


class Tag(str):
    """A string that is not exactly ``str``."""


SHAPE = Shape.of(
    {
        "model": "string",
        "input": "string|array",
        "input[].content[].type": "string",
        "grid[][]": "number",
        "config.level": "boolean|object",
    }
)
PASS = {
    "empty": {},
    "nulls": {"model": None, "input": [{"content": [{"type": None}]}]},
    "string-input": {"model": "m", "input": "hi"},
    "typed": {"input": [{"content": [{"type": "text"}, {"type": "x"}]}]},
    "other-parent-shape": {"input": [5, {"content": "text"}, {"content": [7]}]},
    "integer-is-number": {"grid": [[1, 2.5], [], "row"]},
    "object-allowed": {"config": {"level": {"a": 1}}},
    "config-not-object": {"config": [1]},
    # Types JSON parsing never makes take the slow check, by kind, and pass.
    "other-types": {
        "config": {"level": OrderedDict(a=1)},
        "input": [{"content": [{"type": None}, {"type": Tag("text")}]}],
    },
}
FAIL = {
    "model-list": ({"model": ["m"]}, "model", "a string", "an array"),
    "input-number": ({"input": 5}, "input", "an array or a string", "an integer"),
    "deep-type-object": (
        {"input": [{"content": [{"type": "t"}]}, {"content": [{"type": {}}]}]},
        "input[1].content[0].type",
        "a string",
        "an object",
    ),
    "grid-string": ({"grid": [[1], [1, "2"]]}, "grid[1][1]", "a number", "a string"),
    "level-float": (
        {"config": {"level": 1.5}},
        "config.level",
        "a boolean or an object",
        "a number",
    ),
    "level-bool-kind": ({"model": True}, "model", "a string", "a boolean"),
}


@pytest.mark.parametrize("body", PASS.values(), ids=PASS.keys())
def test_shape_passes(body):
    check_shape(body, SHAPE)


@pytest.mark.parametrize(
    ("body", "param", "expected", "got"), FAIL.values(), ids=FAIL.keys()
)
def test_shape_names_the_field(body, param, expected, got):
    with pytest.raises(InvalidRequest) as caught:
        check_shape(body, SHAPE)
    assert caught.value.param == param
    assert caught.value.message == (
        f"Invalid type for '{param}': expected {expected}, but got {got} instead."
    )


def test_shape_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown kinds"):
        Shape.of({"a": "text"})


def test_shape_kind_of():
    assert [kind_of(v) for v in (True, 1, 1.0, "", [], {})] == [
        "boolean",
        "integer",
        "number",
        "string",
        "array",
        "object",
    ]


TAGS = {
    "responses content part": (RESPONSES_SHAPE, "input[].content[].type"),
    "responses tool": (RESPONSES_SHAPE, "tools[].type"),
    "responses namespace tool": (RESPONSES_SHAPE, "tools[].tools[].type"),
    "chat content part": (CHAT_SHAPE, "messages[].content[].type"),
    "chat role": (CHAT_SHAPE, "messages[].role"),
    "completions prompt": (COMPLETIONS_SHAPE, "model"),
    "anthropic block": (MESSAGES_SHAPE, "messages[].content[].type"),
    "anthropic tool choice": (MESSAGES_SHAPE, "tool_choice.type"),
    "gemini function name": (GENERATE_SHAPE, "tools[].functionDeclarations[].name"),
    "gemini role": (GENERATE_SHAPE, "contents[].role"),
}


def body_at(pattern: str, value):
    """The smallest body holding ``value`` at ``pattern``."""
    node = value
    for key in reversed(pattern.split(".")):
        name = key.rstrip("[]")
        for _ in range((len(key) - len(name)) // 2):
            node = [node]
        node = {name: node}
    return node


@pytest.mark.parametrize(("shape", "pattern"), TAGS.values(), ids=TAGS.keys())
@pytest.mark.parametrize("value", [[], {}, ["x"], {"a": 1}, 5, True])
def test_protocol_shapes_refuse_a_non_string_tag(shape, pattern, value):
    """The class of issue 10 item 6: an unhashable value where a tag belongs."""
    with pytest.raises(InvalidRequest):
        check_shape(body_at(pattern, value), shape)
    check_shape(body_at(pattern, "text"), shape)


def test_check_shape_names_the_first_wrong_value_past_absent_and_odd_parents():
    """Siblings without the field, or of another shape, are skipped on the way."""
    shape = Shape.of({"messages[].content[].type": "string"})
    body = {
        "messages": [
            {"role": "user"},
            "not an object",
            {"content": "plain text"},
            {"content": [{"type": "text"}, {"type": ["tool_use"]}]},
        ]
    }
    with pytest.raises(InvalidRequest) as caught:
        check_shape(body, shape)
    assert caught.value.param == "messages[3].content[1].type"
