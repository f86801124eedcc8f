"""The one table of upstream message wording the gateway acts on.

Structured fields always come first: statuses, ``Retry-After``,
``google.rpc.RetryInfo`` and ``google.rpc.ErrorInfo`` (read by
``accounts/cooldown.py``). Some upstream answers carry their meaning only in
prose, and `MESSAGE_TEXT_RULES` is the only place where that prose decides
anything: why a 429 came and how long it asks to wait (``accounts/cooldown.py``),
and whether a 400 is the context-window error and with which token counts
(``upstream/cloudcode.py``, which the Anthropic handler rewords for Claude Code).
Nothing else in the gateway matches upstream message text. This module imports
nothing from the gateway, so both sides can read it without an import cycle.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final


class Reason(enum.Enum):
    """Why the upstream refused, as far as its answer tells."""

    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    MODEL_CAPACITY_EXHAUSTED = "MODEL_CAPACITY_EXHAUSTED"
    SERVER_ERROR = "SERVER_ERROR"
    UNKNOWN = "UNKNOWN"


class TextMeaning(enum.Enum):
    """What a match of a `MESSAGE_TEXT_RULES` row means, when not a `Reason`."""

    DELAY = "delay"
    """The groups are the wait: ``(seconds)`` or ``(minutes, seconds)``."""
    RESOURCE_EXHAUSTED = "resource_exhausted"
    """A rate limit worded as exhaustion: rests 30 s instead of 5 s."""
    PROMPT_TOO_LONG = "prompt_too_long"
    """A 400 saying the prompt does not fit the model's context window."""
    TOKEN_COUNTS = "token_counts"
    """In a prompt-too-long message, the groups are (tokens sent, tokens allowed)."""
    ANTHROPIC_WORDING = "anthropic_wording"
    """The message already is Anthropic's own "prompt is too long" (a Claude model)."""


@dataclass(frozen=True, slots=True)
class TextRule:
    """One row of `MESSAGE_TEXT_RULES`: a pattern and what a match means."""

    meaning: Reason | TextMeaning
    pattern: re.Pattern[str]


def _rule(meaning: Reason | TextMeaning, pattern: str) -> TextRule:
    return TextRule(meaning, re.compile(pattern, re.IGNORECASE | re.DOTALL))


_EXPLICIT_QUOTA = r"quota_exhausted|quotaresetdelay|quota reset|quota limit|per day"

MESSAGE_TEXT_RULES: Final[tuple[TextRule, ...]] = (
    # 429 reasons, first match wins (``reason_in_text``).
    _rule(Reason.MODEL_CAPACITY_EXHAUSTED, r"model_capacity"),
    _rule(Reason.RATE_LIMIT_EXCEEDED, r"per minute|rate limit|too many requests"),
    _rule(
        Reason.RATE_LIMIT_EXCEEDED,
        rf"^(?!.*(?:{_EXPLICIT_QUOTA}|daily quota))"
        r".*(?:resource has been exhausted|resource_exhausted)",
    ),
    _rule(Reason.QUOTA_EXHAUSTED, rf"{_EXPLICIT_QUOTA}|daily quota|exhausted|quota"),
    _rule(
        TextMeaning.RESOURCE_EXHAUSTED,
        r"resource has been exhausted|resource_exhausted",
    ),
    # Waits stated in prose, first match wins.
    _rule(TextMeaning.DELAY, r"try again in (\d+)m\s*(\d+)s"),
    _rule(TextMeaning.DELAY, r"(?:try again in|backoff for|wait)\s*(\d+)s"),
    _rule(TextMeaning.DELAY, r"quota will reset in (\d+) second"),
    _rule(TextMeaning.DELAY, r"retry after (\d+) second"),
    _rule(TextMeaning.DELAY, r"\(wait (\d+)s\)"),
    # The context-window 400. Gemini: "The input token count (N) exceeds the
    # maximum number of tokens allowed (M)"; Claude models behind the upstream:
    # "prompt is too long: N tokens > M maximum".
    _rule(
        TextMeaning.PROMPT_TOO_LONG,
        r"prompt is too long|input token count"
        r"|exceeds the maximum number of tokens|too many tokens",
    ),
    _rule(TextMeaning.TOKEN_COUNTS, r"\((\d+)\)[^()]*\((\d+)\)"),
    _rule(TextMeaning.TOKEN_COUNTS, r"(\d+) tokens? > (\d+)"),
    _rule(TextMeaning.ANTHROPIC_WORDING, r"^prompt is too long"),
)
"""The only place where the wording of an upstream error decides anything.

Why text at all: a 429 from Cloud Code does not always carry a structured
``ErrorInfo.reason`` (bare ``RESOURCE_EXHAUSTED`` answers, answers relayed from
the model backends, HTML from a front end), some state their wait only in prose,
and the context-window 400 has no error code at all. Rows are tried in order,
and for a `Reason` the first match wins, so the per-minute wording beats the word
"quota" in ``Quota limit 'Tokens per minute' exceeded``, and a bare "resource
exhausted" is a short rate limit unless an explicit quota marker says otherwise.
Text is matched case-insensitively.
"""


def reason_in_text(text: str) -> Reason | None:
    """The `Reason` the first matching reason row gives, or None."""
    for rule in MESSAGE_TEXT_RULES:
        if isinstance(rule.meaning, Reason) and rule.pattern.search(text):
            return rule.meaning
    return None


def first_match(meaning: TextMeaning, text: str) -> re.Match[str] | None:
    """The match of the first ``meaning`` row that matches ``text``, or None."""
    for rule in MESSAGE_TEXT_RULES:
        if rule.meaning is meaning:
            found = rule.pattern.search(text)
            if found is not None:
                return found
    return None


def says(meaning: TextMeaning, text: str) -> bool:
    """True when a ``meaning`` row matches ``text``."""
    return first_match(meaning, text) is not None
