"""One ledger row per finished request, and the pure mappings that build it.

``UsageRow`` is what the ledger stores; ``row_from_exchange`` maps a finished
request (anything shaped like ``ExchangeView``) to it; ``client_family`` names the
tool behind a User-Agent. No I/O, no clock: the caller passes everything in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

UNKNOWN: Final = "-"
ENDINGS: Final = ("complete", "upstream_cut", "client_gone", "timeout")
ERROR_ENDINGS: Final = frozenset({"upstream_cut", "timeout"})

# First match wins; checked against the whole User-Agent, case-insensitively.
# Why these patterns: /work/shared/reference/real-clients.md records the real
# strings (``claude-cli/2.1.197 (external, sdk-cli)``, ``codex_exec/0.169.0``,
# ``GeminiCLI-tui/0.61.0/<model>``); the SDKs send ``OpenAI/Python 1.x``,
# ``Anthropic/Python 0.x`` and ``google-genai-sdk/1.x gl-python/3.x``.
CLIENT_FAMILIES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("claude-code", r"\bclaude-cli/|\bclaude-code/"),
        ("codex", r"\bcodex[_-]"),
        ("gemini-cli", r"\bGeminiCLI\b|\bgemini-cli/"),
        ("openai-python", r"\bOpenAI/Python\b"),
        ("openai-node", r"\bOpenAI/JS\b"),
        ("anthropic-python", r"\bAnthropic/Python\b"),
        ("anthropic-node", r"\bAnthropic/JS\b"),
        ("google-genai", r"\bgoogle-genai-sdk/|\bgoogle-genai/"),
        ("opencode", r"\bopencode/"),
        ("cursor", r"\bcursor/"),
        ("curl", r"^curl/"),
        ("python-requests", r"^python-requests/"),
        ("browser", r"^Mozilla/"),
    )
)


def client_family(user_agent: str | None, api_client: str | None = None) -> str:
    """The tool family behind a request: ``claude-code``, ``codex``, ... or ``other``.

    Why ``api_client``: the google-genai SDK names itself in ``x-goog-api-client``
    while its User-Agent may be a generic HTTP library's.
    """
    for text in (user_agent or "", api_client or ""):
        for name, pattern in CLIENT_FAMILIES:
            if pattern.search(text):
                return name
    return "other" if user_agent else "unknown"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One finished request as the ledger keeps it (times are Unix seconds).

    ``attempt_reasons`` holds one reason per upstream attempt, in order: ``ok``
    for the one that served, else why it failed (``rate_limited``, ``auth``, ...).
    """

    ts: float
    request_id: str
    route: str
    protocol: str
    client: str = "unknown"
    client_model: str = UNKNOWN
    upstream_model: str = UNKNOWN
    account: str = UNKNOWN
    attempt_reasons: tuple[str, ...] = ()
    status: int = 200
    error_kind: str = ""
    ending: str = "complete"
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    thinking_tokens: int = 0
    images: int = 0
    ttfb_ms: float | None = None
    duration_ms: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def attempts(self) -> int:
        return len(self.attempt_reasons)

    @property
    def is_error(self) -> bool:
        """A 4xx/5xx answer, or a stream that broke after it started."""
        return self.status >= 400 or self.ending in ERROR_ENDINGS


class AttemptView(Protocol):
    account: str
    status: int | None
    reason: str


class UsageView(Protocol):
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    thinking_tokens: int
    images: int


class TimingsView(Protocol):
    received: float
    upstream_headers: float | None
    first_byte: float | None
    end: float | None


class ExchangeView(Protocol):
    """What the ledger reads from a finished request (the pipeline's Exchange)."""

    request_id: str
    route: str
    protocol: str
    user_agent: str
    client_model: str | None
    upstream_model: str | None
    stream: bool
    attempts: Sequence[AttemptView]
    account: str | None
    timings: TimingsView
    usage: UsageView
    status: int
    error_kind: str | None
    ending: str
    bytes_in: int
    bytes_out: int


def row_from_exchange(exchange: ExchangeView) -> UsageRow:
    """The ledger row of a finished request; times become milliseconds."""
    timings = exchange.timings
    end = timings.end if timings.end is not None else timings.received
    usage = exchange.usage
    return UsageRow(
        ts=timings.received,
        request_id=exchange.request_id,
        route=exchange.route,
        protocol=exchange.protocol,
        client=client_family(exchange.user_agent),
        client_model=exchange.client_model or UNKNOWN,
        upstream_model=exchange.upstream_model or UNKNOWN,
        account=exchange.account or UNKNOWN,
        attempt_reasons=tuple(a.reason or "ok" for a in exchange.attempts),
        status=exchange.status,
        error_kind=exchange.error_kind or "",
        ending=exchange.ending,
        stream=exchange.stream,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        thinking_tokens=usage.thinking_tokens,
        images=usage.images,
        ttfb_ms=_ms_between(timings.received, timings.first_byte),
        duration_ms=max(0.0, (end - timings.received) * 1000.0),
        bytes_in=exchange.bytes_in,
        bytes_out=exchange.bytes_out,
    )


def _ms_between(start: float, end: float | None) -> float | None:
    return None if end is None else max(0.0, (end - start) * 1000.0)
