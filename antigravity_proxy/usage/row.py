"""One ledger row per finished request, and the pure mappings that build it.

``UsageRow`` is what the ledger stores; ``row_from_exchange`` maps a finished
request (anything shaped like ``ExchangeView``) to it; ``client_family`` names the
tool behind a User-Agent. No I/O, no clock: the caller passes everything in.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
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
    key_name: str = ""

    @property
    def attempts(self) -> int:
        return len(self.attempt_reasons)

    @property
    def is_error(self) -> bool:
        """A 4xx/5xx answer, or a stream that broke after it started."""
        return self.status >= 400 or self.ending in ERROR_ENDINGS


# What an upstream attempt's status says, for ``attempt_reasons`` (a bounded set:
# it labels metrics). A network failure (status 0) keeps the Exchange's reason.
ATTEMPT_REASONS: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "rate_limited",
    500: "server_error",
    503: "overloaded",
    529: "overloaded",
}


class AttemptView(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...


class UsageView(Protocol):
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def thinking_tokens(self) -> int: ...
    @property
    def images(self) -> int: ...


class ExchangeView(Protocol):
    """What the ledger reads from a finished request (``exchange.Exchange``)."""

    @property
    def request_id(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def client_model(self) -> str: ...
    @property
    def upstream_model(self) -> str: ...
    @property
    def stream(self) -> bool: ...
    @property
    def attempts(self) -> Sequence[AttemptView]: ...
    @property
    def account(self) -> str | None: ...
    @property
    def received_at(self) -> float: ...
    @property
    def started(self) -> float: ...
    @property
    def first_byte(self) -> float | None: ...
    @property
    def ended(self) -> float | None: ...
    @property
    def usage(self) -> UsageView: ...
    @property
    def status(self) -> int | None: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def bytes_out(self) -> int: ...
    @property
    def ending(self) -> enum.Enum | None: ...
    @property
    def key_name(self) -> str | None: ...


def row_from_exchange(
    exchange: ExchangeView, user_agent: str = "", api_client: str = ""
) -> UsageRow:
    """The ledger row of a finished request; durations become milliseconds.

    ``route`` is the path the client called; the client family comes from the
    request's ``User-Agent`` and ``x-goog-api-client`` headers.
    """
    started = exchange.started
    usage = exchange.usage
    ending = exchange.ending
    return UsageRow(
        ts=exchange.received_at,
        request_id=exchange.request_id,
        route=exchange.path,
        protocol=exchange.protocol or UNKNOWN,
        client=client_family(user_agent, api_client),
        client_model=exchange.client_model or UNKNOWN,
        upstream_model=exchange.upstream_model or UNKNOWN,
        account=exchange.account or UNKNOWN,
        attempt_reasons=tuple(attempt_reason(a) for a in exchange.attempts),
        status=exchange.status or 0,
        error_kind=exchange.error_kind or "",
        ending=str(ending.value) if ending is not None else "complete",
        stream=exchange.stream,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        thinking_tokens=usage.thinking_tokens,
        images=usage.images,
        ttfb_ms=_ms_between(started, exchange.first_byte),
        duration_ms=_ms_between(started, exchange.ended) or 0.0,
        bytes_in=exchange.bytes_in,
        bytes_out=exchange.bytes_out,
        key_name=exchange.key_name or "",
    )


def attempt_reason(attempt: AttemptView) -> str:
    """``ok``, or why the attempt failed, named by its upstream status."""
    if attempt.reason == "ok" or 200 <= attempt.status < 300:
        return "ok"
    if attempt.status == 0:
        return attempt.reason or "network"
    if attempt.status in ATTEMPT_REASONS:
        return ATTEMPT_REASONS[attempt.status]
    return "client_error" if attempt.status < 500 else "server_error"


def _ms_between(start: float, end: float | None) -> float | None:
    return None if end is None else max(0.0, (end - start) * 1000.0)
