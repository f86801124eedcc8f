from __future__ import annotations

import itertools

import pytest

from antigravity_proxy.models import (
    builtin_model_ids,
    is_image_model,
    is_thinking_model,
    max_output_tokens,
    resolve_model,
    thinking_budget_cap,
    wildcard_match,
)

BUILTIN_CASES = [
    # reference §11.7 item 88
    ("claude-3-5-sonnet-20241022", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5-thinking", "claude-sonnet-4-6-thinking"),
    ("claude-opus-4", "claude-opus-4-6-thinking"),
    ("unknown-model", "unknown-model"),
    ("gemini-3-pro-high", "gemini-pro-agent"),
    ("gemini-3.1-pro-high", "gemini-pro-agent"),
    ("gemini-3-pro-low", "gemini-3-pro-low"),
    ("gemini-3.1-pro-low", "gemini-3.1-pro-low"),
    ("gemini-3-pro", "gemini-3-pro-preview"),
    ("gemini-3.1-pro", "gemini-3.1-pro-preview"),
    # the rest of the table
    ("claude-haiku-4-5-20251001", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-6-thinking"),
    ("claude-opus-4.6", "claude-opus-4-6-thinking"),
    ("gpt-4o", "gemini-2.5-flash"),
    ("gpt-3.5-turbo-16k", "gemini-2.5-flash"),
    ("gemini-2.5-flash-lite", "gemini-2.5-flash"),
    ("internal-background-task", "gemini-2.5-flash"),
    ("gemini-2.5-flash-thinking", "gemini-2.5-flash-thinking"),
    ("gemini-3-flash", "gemini-3-flash"),
    ("gemini-3-pro-image", "gemini-3-pro-image"),
    ("gemini-3-flash-preview", "gemini-3-flash"),
    ("gemini-3-pro-image-preview", "gemini-3-pro-image"),
]

INVENTED_CASES = [
    # Gemini CLI defaults (real-clients.md)
    ("gemini-3.8-flash", "gemini-3-flash"),
    ("gemini-3.5-flash-lite", "gemini-2.5-flash"),
    ("gemini-3.1-pro-preview", "gemini-3.1-pro-preview"),
    ("gemini-3.5-flash", "gemini-3-flash"),
    ("gemini-2.5-pro", "gemini-pro-agent"),
    ("gemini-4-pro-preview", "gemini-pro-agent"),
    ("gemini-3.1-flash-image", "gemini-3.1-flash-image"),
    ("gemini-3.5-flash-image-preview", "gemini-3.1-flash-image"),
    ("gemini-3-pro-image-4k-16x9", "gemini-3-pro-image"),
    ("gemini-embedding-001", "gemini-embedding-001"),
    # Claude Code default and friends
    ("claude-opus-4-8", "claude-opus-4-6-thinking"),
    ("claude-opus-4-5", "claude-opus-4-6-thinking"),
    ("claude-sonnet-4-7", "claude-sonnet-4-6"),
    ("claude-sonnet-4-7-thinking", "claude-sonnet-4-6-thinking"),
    ("claude-haiku-4-5", "claude-sonnet-4-6"),
    ("claude-haiku-5-thinking", "claude-sonnet-4-6-thinking"),
    ("claude-instant-1", "claude-instant-1"),
    # Codex default and other strangers pass through
    ("", ""),
]


@pytest.mark.parametrize(("name", "expected"), BUILTIN_CASES, ids=lambda v: v)
def test_resolve_model_builtin_table(name, expected):
    assert resolve_model(name, {}) == expected


@pytest.mark.parametrize(("name", "expected"), INVENTED_CASES, ids=lambda v: v)
def test_resolve_model_family_fallback(name, expected):
    assert resolve_model(name, {}) == expected


WILDCARD_MAPPING = {
    "gpt*": "gemini-2.5-flash",
    "gpt-4*": "gemini-3-flash",
    "claude-opus-*": "claude-sonnet-4-6",
    "claude-opus*thinking": "claude-opus-4-6-thinking",
    "claude-*-sonnet-*": "sonnet-route",
    "gpt-*-*": "two-dash-route",
    "*thinking*": "thinking-route",
    "*": "catch-all",
}

WILDCARD_CASES = [
    # reference §11.7 item 89
    ("gpt-4-turbo", "two-dash-route"),
    ("gpt-4o", "gemini-3-flash"),
    ("gpt-3", "gemini-2.5-flash"),
    ("claude-opus-4-5-thinking", "claude-opus-4-6-thinking"),
    ("claude-opus-4-5", "claude-sonnet-4-6"),
    ("claude-3-sonnet-20240229", "sonnet-route"),
    ("my-thinking-model", "thinking-route"),
    ("anything-else", "catch-all"),
]


@pytest.mark.parametrize(("name", "expected"), WILDCARD_CASES, ids=lambda v: v)
def test_resolve_model_wildcards_most_literal_characters_win(name, expected):
    assert resolve_model(name, WILDCARD_MAPPING) == expected


def test_resolve_model_exact_mapping_beats_wildcard_and_table():
    mapping = {"gpt-4o": "exact", "gpt-*": "wild"}
    assert resolve_model("gpt-4o", mapping) == "exact"
    assert resolve_model("gpt-4o-mini", mapping) == "wild"


def test_resolve_model_mapping_beats_builtin_table():
    assert resolve_model("claude-opus-4", {"claude-opus-4": "x"}) == "x"


def test_resolve_model_wildcards_are_case_sensitive():
    assert resolve_model("Foo-9", {"foo-*": "x"}) == "Foo-9"
    assert (
        resolve_model("GPT-9", {"gpt-*": "x"}) == "gemini-3-flash"
    )  # family fallback, not the pattern


def test_resolve_model_wildcard_tie_is_independent_of_order():
    patterns = ["ab*", "a*c", "*bc", "a**c"]
    results = {
        resolve_model("abc", {p: p for p in order})
        for order in itertools.permutations(patterns)
    }
    # equal literal counts: the longer pattern, then the lexically smaller
    assert results == {"a**c"}


def test_wildcard_match_escapes_regex_characters():
    assert wildcard_match("gemini-3.1-*", "gemini-3.1-pro")
    assert not wildcard_match("gemini-3.1-*", "gemini-3x1-pro")
    assert wildcard_match("*", "")


def test_builtin_model_ids_sorted_unique_with_image_combinations():
    ids = builtin_model_ids()
    assert ids == sorted(set(ids))
    images = [i for i in ids if i.startswith("gemini-3-pro-image")]
    assert len(images) == 22  # 21 size/ratio combinations + the -preview alias
    for expected in ("gemini-3-pro-image-4k-21x9", "gemini-2.0-flash-exp", "gpt-4o"):
        assert expected in ids
    assert "gemini-3.1-pro-high" in ids


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemini-pro-agent", True),
        ("gemini-3-pro-preview", True),
        ("gemini-3.1-pro-preview", True),
        ("gemini-3-flash", True),
        ("gemini-2.5-flash", True),
        ("claude-opus-4-6-thinking", True),
        ("claude-sonnet-4-6", False),
        ("gemini-1.5-pro", False),
        ("gemini-2.0-flash", False),
        ("gemini-3-pro-image", False),
    ],
)
def test_is_thinking_model(model, expected):
    assert is_thinking_model(model) is expected


def test_is_image_model():
    assert is_image_model("gemini-3-pro-image-4k")
    assert is_image_model("Gemini-3.1-Flash-Image")
    assert not is_image_model("gemini-3-flash")


def test_model_limits_tables_and_defaults():
    assert thinking_budget_cap("gemini-pro-agent") == 49152
    assert thinking_budget_cap("gemini-3-pro-preview") == 24576
    assert max_output_tokens("claude-sonnet-4-6") == 64000
    assert max_output_tokens("unknown") == 65535


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-6.1-sol", "gemini-3-flash"),  # Codex's default model
        ("gpt-5.1-codex", "gemini-3-flash"),
        ("o3", "gemini-3-flash"),
        ("o4-mini", "gemini-3-flash"),
        ("chatgpt-4o-latest", "gemini-3-flash"),
        ("gpt-oss-120b-medium", "gpt-oss-120b-medium"),
        ("gpt-image-1", "gpt-image-1"),
        ("whisper-1", "whisper-1"),
        ("gpt-4o-transcribe", "gpt-4o-transcribe"),
        ("omni", "omni"),
    ],
)
def test_resolve_model_openai_family_fallback(name, expected):
    assert resolve_model(name, {}) == expected


def test_resolve_model_mapping_beats_openai_fallback():
    assert (
        resolve_model("gpt-6.1-sol", {"gpt-*": "claude-sonnet-4-6"})
        == "claude-sonnet-4-6"
    )
