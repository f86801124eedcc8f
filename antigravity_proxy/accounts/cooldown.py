"""How long an account rests after an upstream error, and why.

This module owns the reading of Cloud Code error answers (status, headers, body)
into a `Cooldown`: a delay and a `Reason` for the (account, model quota group)
pair (``blame.py`` says which statuses rest and when); and the reading of the
rests recorded so far (`live_records`, `resting_until`). It is pure: the caller
keeps the consecutive-failure counter and the cooldown records (``state.py``),
and passes ``failures``, the cap and the current time in. Structured fields are
read first (``Retry-After``, ``google.rpc.RetryInfo``, ``google.rpc.ErrorInfo``);
message text is read only through the one documented table,
``upstream/message_text.py``.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from antigravity_proxy.accounts.blame import STATUS_RULES
from antigravity_proxy.upstream.message_text import (
    Reason as Reason,  # re-exported: a Cooldown's reason is read from here
)
from antigravity_proxy.upstream.message_text import (
    TextMeaning,
    first_match,
    reason_in_text,
    says,
)

Scope = Literal["account", "model"]
Records = Mapping[str, tuple[float, str]]
"""Cooldown records as ``state.active_cooldowns`` gives them: key → (until, reason)."""


COOLDOWN_STATUSES: Final[frozenset[int]] = frozenset(
    status
    for status, rule in STATUS_RULES.items()
    if rule.rests_now or rule.rests_if_another_serves
)
"""Statuses that can rest an (account, model group) pair: see ``blame.STATUS_RULES``
for when (at once, or only once another account served the request)."""

QUOTA_BACKOFF_LADDER: Final[tuple[int, ...]] = (60, 300, 1800, 7200)
CAPACITY_BACKOFF_LADDER: Final[tuple[int, ...]] = (5, 10, 15)
MIN_EXPLICIT_SECONDS: Final = 2
_LONGEST_DELAY: Final = Decimal(10**9)
_REASON_FROM_DETAIL: Final[Mapping[str, Reason]] = {
    reason.value: reason
    for reason in (
        Reason.QUOTA_EXHAUSTED,
        Reason.RATE_LIMIT_EXCEEDED,
        Reason.MODEL_CAPACITY_EXHAUSTED,
    )
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION: Final = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_UNIT_SECONDS: Final[Mapping[str, Decimal]] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}


@dataclass(frozen=True, slots=True)
class Cooldown:
    """A rest period earned by an error.

    :param seconds: how long to rest, already capped.
    :param reason: why, as far as the answer tells.
    :param scope: always ``"model"``: only the requested model's quota group rests
        and the account keeps serving other models (``blame`` says why no status
        rests a whole account). ``"account"`` keys written by older versions are
        still honoured by `resting_until`.
    """

    seconds: float
    reason: Reason
    scope: Scope


def cooldown_from_error(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    failures: int = 0,
    max_seconds: int = 300,
    now: float | None = None,
) -> Cooldown | None:
    """The rest an upstream error answer earns, or None when it earns none.

    An explicit wait in the answer wins (raised to 2 s so a hot loop cannot
    form); otherwise the reason picks a default, climbing a ladder with
    ``failures`` (the caller's count of earlier consecutive failures on this
    account). Everything is capped at ``max_seconds``: Antigravity-Manager caps
    at 300 s, which leaves quota-exhausted accounts to be probed every 5 minutes.
    ``now`` (unix seconds) lets a ``Retry-After`` HTTP-date count; without it
    such a header is ignored.
    """
    if status not in COOLDOWN_STATUSES:
        return None
    error = _error_object(body)
    reason = _reason(status, error, body)
    explicit = _explicit_delay(headers, error, body, now)
    if explicit is not None:
        seconds: float = max(explicit, MIN_EXPLICIT_SECONDS)
    else:
        seconds = _default_seconds(status, reason, body, max(failures, 0))
    return Cooldown(seconds=min(seconds, max_seconds), reason=reason, scope="model")


def _reason(status: int, error: Mapping[str, Any] | None, body: str) -> Reason:
    if status != 429:
        return Reason.SERVER_ERROR
    for detail in _details(error):
        reason = _REASON_FROM_DETAIL.get(str(detail.get("reason")))
        if reason is not None:
            return reason
    return reason_in_text(body) or Reason.UNKNOWN


def _default_seconds(status: int, reason: Reason, body: str, failures: int) -> float:
    if reason is Reason.QUOTA_EXHAUSTED:
        return QUOTA_BACKOFF_LADDER[min(failures, len(QUOTA_BACKOFF_LADDER) - 1)]
    if reason is Reason.MODEL_CAPACITY_EXHAUSTED:
        return CAPACITY_BACKOFF_LADDER[min(failures, len(CAPACITY_BACKOFF_LADDER) - 1)]
    if reason is Reason.RATE_LIMIT_EXCEEDED:
        return 30 if says(TextMeaning.RESOURCE_EXHAUSTED, body) else 5
    if reason is Reason.SERVER_ERROR:
        return 5 if status == 404 else 8
    return 60


def _explicit_delay(
    headers: Mapping[str, str],
    error: Mapping[str, Any] | None,
    body: str,
    now: float | None,
) -> int | None:
    # Sources in order: the Retry-After header (delta-seconds, or an HTTP-date
    # when the caller passed its clock), RetryInfo.retryDelay,
    # ErrorInfo.metadata.quotaResetDelay, error.retry_after, then the DELAY rows
    # of message_text.MESSAGE_TEXT_RULES. Whole seconds, rounded up.
    for value in (
        _retry_after_header(headers, now),
        _detail_delay(error),
        _error_retry_after(error),
        _text_delay(body),
    ):
        if value is not None:
            return value
    return None


def _retry_after_header(headers: Mapping[str, str], now: float | None) -> int | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            seconds = _decimal(value.strip())
            if seconds is None and now is not None:
                seconds = _http_date_delay(value.strip(), now)
            return None if seconds is None else _ceil(seconds)
    return None


def _http_date_delay(text: str, now: float) -> Decimal | None:
    """Seconds until an RFC 9110 IMF-fixdate (``... GMT``); a past date is 0.

    Why 0 and not None: a date already past (clock skew between us and Google)
    still says "retry now", which the 2 s floor turns into a short rest.
    """
    if not text.endswith(" GMT"):
        return None
    try:
        when = email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None
    return Decimal(max(0.0, when - now))


def _detail_delay(error: Mapping[str, Any] | None) -> int | None:
    details = _details(error)
    for detail in details:
        delay = _duration_decimal(detail.get("retryDelay"))
        if delay is not None:
            return _ceil(delay)
    for detail in details:
        metadata = detail.get("metadata")
        if isinstance(metadata, Mapping):
            delay = _duration_decimal(metadata.get("quotaResetDelay"))
            if delay is not None:
                return _ceil(delay)
    return None


def _error_retry_after(error: Mapping[str, Any] | None) -> int | None:
    value = None if error is None else error.get("retry_after")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _text_delay(body: str) -> int | None:
    match = first_match(TextMeaning.DELAY, body)
    if match is None:
        return None
    *minutes, seconds = (_ceil(Decimal(group)) for group in match.groups())
    return _ceil(Decimal(sum(minutes) * 60 + seconds))


def parse_duration(text: str) -> float | None:
    """Seconds in a Go/protobuf duration (``1h16m0.667s``, ``200ms``), or None.

    Cloud Code writes ``RetryInfo.retryDelay`` as a protobuf Duration
    (``"1.203608125s"``) and ``quotaResetDelay`` in Go's ``time.Duration``
    notation (``"2h1m1s"``, ``"510.790006ms"``).
    """
    seconds = _duration_decimal(text)
    return None if seconds is None else float(seconds)


def _duration_decimal(value: object) -> Decimal | None:
    # Decimal keeps "4560.667" exact, so rounding up never adds a spurious second.
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _DURATION.fullmatch(text):
        return None
    parts = _DURATION_PART.findall(text)
    return sum(
        (Decimal(number) * _UNIT_SECONDS[unit] for number, unit in parts), Decimal(0)
    )


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def _ceil(seconds: Decimal) -> int:
    # Bounded first: a hostile "1e999999999" must not become a gigantic int.
    return math.ceil(min(seconds, _LONGEST_DELAY))


def _error_object(body: str) -> Mapping[str, Any] | None:
    """The ``error`` object of a Google JSON error body, or None."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, list) and parsed:
        # Some Google front ends wrap the error in a one-element array.
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else None


def _details(error: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    details = None if error is None else error.get("details")
    if not isinstance(details, list):
        return []
    return [detail for detail in details if isinstance(detail, Mapping)]


def cooldown_key(account: str, group: str, scope: Scope) -> str:
    """The record key: ``<account>`` rests it all, ``<account>:<group>`` one group."""
    return f"{account}:{group}" if scope == "model" else account


def live_records(
    records: Records, now: float, max_seconds: int
) -> dict[str, tuple[float, str]]:
    """The records that can still be true at ``now``: not yet over, and not
    ending further away than a rest can last.

    Why the first: records read a moment ago (the pool's kept view) may have
    ended since. Why the second: every rest is at most ``max_seconds`` long when
    it is recorded, so a record ending further away than that was written before
    the wall clock stepped back (a VM restore, an NTP correction); honouring it
    would bench the account for as long as the step. Such a record is ignored:
    the worst case is one more upstream attempt, which records a fresh rest.
    """
    horizon = now + max_seconds + 1
    return {k: v for k, v in records.items() if now < v[0] <= horizon}


def resting_until(account: str, group: str, records: Records) -> float | None:
    """When ``account`` may serve ``group`` again, or None if it is not resting."""
    ends = [records[k][0] for k in (account, f"{account}:{group}") if k in records]
    return max(ends) if ends else None


def seconds_left(until: float, now: float) -> int:
    """Whole seconds from ``now`` to ``until``, rounded up, at least 1 (Retry-After)."""
    return max(1, math.ceil(until - now))
