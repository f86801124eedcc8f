"""The generationConfig pieces chat, completions and Responses share, and the
typed readers' bounds."""

from __future__ import annotations

import math

import pytest

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.generation import (
    effort_budget,
    fitted_budget,
    output_limit,
    upstream_seed,
)
from antigravity_proxy.protocols.openai.responses_request import (
    generation_config,
    thinking_config,
)
from antigravity_proxy.protocols.openai.types import optional_int, optional_number


@pytest.mark.parametrize(
    ("budget", "max_tokens", "model", "expected"),
    [
        (32768, None, "gemini-2.0-flash", 24576),
        (32768, None, "gemini-3-pro-high", 32768),
        (24576, 4000, "gemini-3-flash", 2000),
        (8192, 600, "gemini-3-flash", 512),
        (0, 100, "gemini-2.5-flash", 0),
        (8192, None, "gpt-oss-120b-medium", 0),
    ],
)
def test_fitted_budget(budget, max_tokens, model, expected):
    assert fitted_budget(budget, max_tokens, model) == expected


def test_effort_budget_names_the_param_for_any_json_value():
    assert effort_budget("medium", "p") == 8192
    for bad in ("extreme", ["high"], {"a": 1}, 3):
        with pytest.raises(InvalidRequest) as info:
            effort_budget(bad, "reasoning.effort")
        assert info.value.param == "reasoning.effort"


def test_output_limit_is_capped_at_the_model_ceiling():
    assert output_limit(None, "gemini-3-flash") is None
    assert output_limit(100000, "gemini-3-flash") == 65536
    assert output_limit(100000, "gpt-oss-120b-medium") == 32768
    assert output_limit(500, "gemini-3-flash") == 500


@pytest.mark.parametrize(
    ("seed", "expected"),
    [(None, None), (7, 7), (-7, -7), (2**31, -(2**31)), (2**40 + 5, 5)],
)
def test_upstream_seed_is_folded_into_int32(seed, expected):
    assert upstream_seed(seed) == expected


def test_responses_generation_config_validates_like_chat():
    config = generation_config(
        {"temperature": 2, "top_p": 0, "max_output_tokens": 99999}, "gemini-3-flash"
    )
    assert config == {"temperature": 2, "topP": 0, "maxOutputTokens": 65536}
    for body, param in [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_output_tokens": 2**31}, "max_output_tokens"),
        ({"reasoning": {"effort": ["x"]}}, "reasoning.effort"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            generation_config(body, "gemini-3-flash")
        assert info.value.param == param


def test_numbers_must_be_finite_and_in_range():
    with pytest.raises(InvalidRequest, match="expected a decimal"):
        optional_number({"t": math.nan}, "t", 0.0, 2.0)
    with pytest.raises(InvalidRequest, match="above maximum"):
        optional_int({"n": 5}, "n", low=1, high=4)
    with pytest.raises(InvalidRequest) as info:
        optional_int({"k": "x"}, "k", param="outer.k")
    assert info.value.param == "outer.k"


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "expected"),
    [
        (None, None, None),
        ({}, None, None),
        ({"summary": "auto"}, None, {"includeThoughts": True}),
        ({"generate_summary": "concise"}, None, {"includeThoughts": True}),
        ({"effort": "high"}, None, {"thinkingBudget": 24576, "includeThoughts": False}),
        (
            {"effort": "none", "summary": "auto"},
            None,
            {"thinkingBudget": 0, "includeThoughts": False},
        ),
        (
            {"effort": "xhigh"},
            None,
            {"thinkingBudget": 24576, "includeThoughts": False},
        ),
        (
            {"effort": "medium", "summary": "auto"},
            4000,
            {"thinkingBudget": 2000, "includeThoughts": True},
        ),
        ({"effort": "medium"}, 600, {"thinkingBudget": 512, "includeThoughts": False}),
    ],
)
def test_thinking_config(reasoning, max_tokens, expected):
    """The budget is capped by the model (gemini-2.0-flash: 24576)."""
    assert thinking_config(reasoning, max_tokens, "gemini-2.0-flash") == expected
