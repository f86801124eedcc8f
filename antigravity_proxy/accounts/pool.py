"""Which account serves the next request: ranking and choosing, nothing else.

This module owns the selection policy of the account pool. It sees accounts only
as `Candidate` values (tier, the quota left for the requested model, when that
quota refills) and is pure: the caller supplies the sets of excluded and cooling
accounts, the sticky account of the conversation and a seeded ``random.Random``,
so a choice is reproducible in tests. Cooldown records, sticky sessions and the
account files live elsewhere (``state.py``, ``store.py``).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Final

P2C_POOL_SIZE: Final = 5
"""Power-of-two-choices draws from the best five, spreading load among peers."""

RESET_TIME_MARGIN: Final = 600.0
"""Reset times closer than this (seconds) count as equal when ranking."""

_TIER_WORDS: Final[tuple[tuple[str, int], ...]] = (
    ("ultra", 0),
    ("pro", 1),
    ("free", 2),
)
_UNKNOWN_TIER_RANK: Final = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    """An account as the selection policy sees it.

    :param id: the account id.
    :param tier: the subscription tier label (``"Google AI Ultra"``), or ``""``.
    :param model_quota: percentage left for the requested model; None = unknown
        (no quota fetched yet: such accounts are still served, unlike upstream).
    :param reset_time: unix seconds when that quota refills, or None.
    """

    id: str
    tier: str
    model_quota: int | None
    reset_time: float | None


def tier_rank(tier: str) -> int:
    """0 for Ultra, 1 for Pro, 2 for Free, 3 for anything else (lower is better)."""
    lowered = tier.lower()
    for word, value in _TIER_WORDS:
        if word in lowered:
            return value
    return _UNKNOWN_TIER_RANK


def _quota_key(candidate: Candidate) -> tuple[int, int]:
    # Known quota left sorts first (most first), then unknown, then known 0:
    # an unfetched account may well have quota, an empty one certainly has not.
    quota = candidate.model_quota
    if quota is None:
        return (1, 0)
    if quota <= 0:
        return (2, 0)
    return (0, -quota)


def _reset_order(left: float | None, right: float | None) -> int:
    if left is None or right is None:
        return (left is None) - (right is None)
    if abs(left - right) < RESET_TIME_MARGIN:
        return 0
    return -1 if left < right else 1


def _compare(left: Candidate, right: Candidate) -> int:
    left_key = (tier_rank(left.tier), _quota_key(left))
    right_key = (tier_rank(right.tier), _quota_key(right))
    if left_key != right_key:
        return -1 if left_key < right_key else 1
    return _reset_order(left.reset_time, right.reset_time)


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Candidates best first: tier, then quota left, then earlier refill.

    Higher tiers come first even with less quota: an Ultra account's quota is
    larger and refills faster, so 40 % of it outlasts 90 % of a Pro one. Refill
    times only break ties when at least `RESET_TIME_MARGIN` apart, so accounts
    refilling in the same window keep their order (the sort is stable) rather
    than being reshuffled by seconds of jitter; a missing refill time sorts last.
    """
    return sorted(candidates, key=functools.cmp_to_key(_compare))


def choose(
    candidates: Iterable[Candidate],
    *,
    excluded: Set[str],
    cooling: Set[str],
    sticky: str | None,
    rng: random.Random,
) -> str | None:
    """The id of the account to serve with, or None when no candidate is left.

    ``excluded`` (already tried for this request) and ``cooling`` (resting after
    an error) never serve. Accounts known to have no quota for the model are
    dropped unless nothing else is left: then the upstream decides. A ``sticky``
    account still standing is kept, so a conversation stays on one account and
    keeps the upstream's prompt cache warm. Otherwise power-of-two-choices over
    the best `P2C_POOL_SIZE`: two distinct random picks, the better-ranked wins,
    which spreads load yet never serves the worst of the five.
    """
    standing = [
        candidate
        for candidate in candidates
        if candidate.id not in excluded and candidate.id not in cooling
    ]
    with_quota = [c for c in standing if c.model_quota is None or c.model_quota > 0]
    pool = with_quota or standing
    if sticky is not None and any(candidate.id == sticky for candidate in pool):
        return sticky
    return _power_of_two(rank(pool)[:P2C_POOL_SIZE], rng)


def _power_of_two(best: Sequence[Candidate], rng: random.Random) -> str | None:
    if not best:
        return None
    if len(best) == 1:
        return best[0].id
    first = rng.randrange(len(best))
    second = rng.randrange(len(best) - 1)
    if second >= first:
        second += 1
    return best[min(first, second)].id
