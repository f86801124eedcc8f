"""The one table of upstream message wording: each meaning, with real messages."""

from __future__ import annotations

import pytest

from antigravity_proxy.upstream.cloudcode import prompt_too_long_counts
from antigravity_proxy.upstream.message_text import (
    Reason,
    TextMeaning,
    first_match,
    reason_in_text,
    says,
)

GEMINI_TOO_LONG = (
    "The input token count (1048999) exceeds the maximum number of tokens "
    "allowed (1048576)."
)
CLAUDE_TOO_LONG = "prompt is too long: 210000 tokens > 200000 maximum"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("MODEL_CAPACITY_EXHAUSTED: no capacity", Reason.MODEL_CAPACITY_EXHAUSTED),
        ("Quota limit 'Tokens per minute' exceeded", Reason.RATE_LIMIT_EXCEEDED),
        ("Too Many Requests", Reason.RATE_LIMIT_EXCEEDED),
        ("Resource has been exhausted (e.g. check quota).", Reason.RATE_LIMIT_EXCEEDED),
        ("RESOURCE_EXHAUSTED: daily quota reached", Reason.QUOTA_EXHAUSTED),
        ("You have exhausted your capacity", Reason.QUOTA_EXHAUSTED),
        ("Internal error", None),
        ("", None),
    ],
)
def test_reason_in_text(text, reason):
    assert reason_in_text(text) is reason


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("Please try again in 2m 5s.", ("2", "5")),
        ("try again in 17s", ("17",)),
        ("backoff for 3s", ("3",)),
        ("Your quota will reset in 42 seconds.", ("42",)),
        ("Retry after 9 seconds", ("9",)),
        ("rate limited (wait 4s)", ("4",)),
        ("slow down", None),
    ],
)
def test_first_match_delay_rows(text, groups):
    found = first_match(TextMeaning.DELAY, text)
    assert (found.groups() if found else None) == groups


@pytest.mark.parametrize(
    ("text", "meanings"),
    [
        (GEMINI_TOO_LONG, {TextMeaning.PROMPT_TOO_LONG, TextMeaning.TOKEN_COUNTS}),
        (
            CLAUDE_TOO_LONG,
            {
                TextMeaning.PROMPT_TOO_LONG,
                TextMeaning.TOKEN_COUNTS,
                TextMeaning.ANTHROPIC_WORDING,
            },
        ),
        ("Request has too many tokens", {TextMeaning.PROMPT_TOO_LONG}),
        ("resource_exhausted", {TextMeaning.RESOURCE_EXHAUSTED}),
        ("the prompt is too long", {TextMeaning.PROMPT_TOO_LONG}),
        ("Invalid argument", set()),
    ],
)
def test_says_each_meaning(text, meanings):
    assert {m for m in TextMeaning if says(m, text)} - {TextMeaning.DELAY} == meanings


@pytest.mark.parametrize(
    ("message", "counts"),
    [
        (GEMINI_TOO_LONG, (1048999, 1048576)),
        (CLAUDE_TOO_LONG, (210000, 200000)),
        ("Prompt is too long", (None, None)),
        ("Invalid argument (1) here (2)", None),
    ],
)
def test_prompt_too_long_counts_reads_the_table(message, counts):
    assert prompt_too_long_counts(message) == counts
