from __future__ import annotations

import random
from collections.abc import Iterable, Set

import pytest

from antigravity_proxy.accounts.pool import Candidate, choose, rank, tier_rank

EMPTY: frozenset[str] = frozenset()


def cand(
    id: str, tier: str = "", quota: int | None = 50, reset: float | None = None
) -> Candidate:
    return Candidate(id=id, tier=tier, model_quota=quota, reset_time=reset)


def pick(
    candidates: Iterable[Candidate],
    *,
    seed: int = 0,
    excluded: Set[str] = EMPTY,
    cooling: Set[str] = EMPTY,
    sticky: str | None = None,
) -> str | None:
    return choose(
        candidates,
        excluded=excluded,
        cooling=cooling,
        sticky=sticky,
        rng=random.Random(seed),
    )


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ("Google AI Ultra", 0),
        ("g1-ultra-tier", 0),
        ("ULTRA", 0),
        ("Google AI Pro", 1),
        ("g1-pro-tier", 1),
        ("Free", 2),
        ("free-tier", 2),
        ("Free (Restricted)", 2),
        ("standard-tier", 3),
        ("", 3),
    ],
)
def test_tier_rank_orders_ultra_pro_free_unknown(tier, expected):
    assert tier_rank(tier) == expected


def test_rank_orders_by_tier_first():
    candidates = [
        cand("unknown", ""),
        cand("free", "free-tier"),
        cand("pro", "Google AI Pro"),
        cand("ultra", "Google AI Ultra"),
    ]
    assert [c.id for c in rank(candidates)] == ["ultra", "pro", "free", "unknown"]


def test_rank_ultra_beats_pro_with_more_quota():
    candidates = [cand("pro", "Pro", quota=100), cand("ultra", "Ultra", quota=10)]
    assert [c.id for c in rank(candidates)] == ["ultra", "pro"]


def test_rank_sorts_each_tier_by_quota_descending():
    candidates = [
        cand("u30", "Ultra", 30),
        cand("p90", "Pro", 90),
        cand("u80", "Ultra", 80),
        cand("p20", "Pro", 20),
    ]
    assert [c.id for c in rank(candidates)] == ["u80", "u30", "p90", "p20"]


def test_rank_puts_unknown_quota_between_known_and_empty():
    candidates = [
        cand("zero", quota=0),
        cand("unknown", quota=None),
        cand("one", quota=1),
    ]
    assert [c.id for c in rank(candidates)] == ["one", "unknown", "zero"]


@pytest.mark.parametrize(
    ("resets", "expected"),
    [
        ((1000.0, 0.0), ["b", "a"]),  # 1000 s apart: earlier refill first
        ((600.0, 0.0), ["b", "a"]),  # exactly the margin counts
        ((599.0, 0.0), ["a", "b"]),  # within the margin: input order kept
        ((0.0, 599.0), ["a", "b"]),
        ((None, 0.0), ["b", "a"]),  # a missing reset time sorts last
        ((None, None), ["a", "b"]),
        ((0.0, None), ["a", "b"]),
    ],
)
def test_rank_breaks_ties_by_reset_time_only_when_far_apart(resets, expected):
    candidates = [cand("a", reset=resets[0]), cand("b", reset=resets[1])]
    assert [c.id for c in rank(candidates)] == expected


def test_rank_reset_time_never_beats_quota():
    candidates = [
        cand("more", quota=90, reset=10_000.0),
        cand("less", quota=10, reset=0.0),
    ]
    assert [c.id for c in rank(candidates)] == ["more", "less"]


def test_choose_empty_returns_none():
    assert pick([]) is None


def test_choose_single_candidate_is_returned():
    assert pick([cand("only")]) == "only"


@pytest.mark.parametrize(
    ("excluded", "cooling", "expected"),
    [
        ({"a", "b"}, set(), "c"),
        (set(), {"a", "b"}, "c"),
        ({"a"}, {"b"}, "c"),
        ({"a", "b"}, {"c"}, None),
    ],
)
def test_choose_skips_excluded_and_cooling(excluded, cooling, expected):
    candidates = [cand("a", "Ultra"), cand("b", "Pro"), cand("c", "Free")]
    for seed in range(20):
        chosen = pick(candidates, seed=seed, excluded=excluded, cooling=cooling)
        assert chosen == expected


def test_choose_drops_known_empty_quota_while_others_remain():
    candidates = [cand("ultra-empty", "Ultra", quota=0), cand("pro", "Pro", quota=5)]
    assert {pick(candidates, seed=seed) for seed in range(20)} == {"pro"}


def test_choose_keeps_unknown_quota_accounts():
    candidates = [cand("empty", quota=0), cand("fresh", quota=None)]
    assert pick(candidates) == "fresh"


def test_choose_falls_back_to_empty_quota_when_nothing_else():
    candidates = [cand("a", quota=0), cand("b", quota=0)]
    assert pick(candidates, excluded={"a"}) == "b"


def test_choose_keeps_sticky_account():
    candidates = [cand("best", "Ultra", 100), cand("sticky", "Free", 5)]
    for seed in range(20):
        assert pick(candidates, seed=seed, sticky="sticky") == "sticky"


@pytest.mark.parametrize(
    ("excluded", "cooling", "sticky_quota"),
    [({"sticky"}, set(), 50), (set(), {"sticky"}, 50), (set(), set(), 0)],
)
def test_choose_abandons_sticky_account_that_cannot_serve(
    excluded, cooling, sticky_quota
):
    candidates = [cand("other"), cand("sticky", quota=sticky_quota)]
    chosen = pick(candidates, excluded=excluded, cooling=cooling, sticky="sticky")
    assert chosen == "other"


def test_choose_ignores_unknown_sticky_id():
    assert pick([cand("a")], sticky="gone") == "a"


def test_choose_power_of_two_never_picks_worst_of_best_five():
    candidates = [cand(f"q{q}", "Pro", q) for q in (10, 90, 30, 70, 50, 5, 1)]
    chosen = [pick(candidates, seed=seed) for seed in range(500)]
    # rank: q90 q70 q50 q30 | q10 (worst of the five) | q5 q1 (outside the five)
    assert set(chosen) == {"q90", "q70", "q50", "q30"}
    assert chosen.count("q90") > chosen.count("q70") > chosen.count("q50")
    assert chosen.count("q50") > chosen.count("q30")


def test_choose_power_of_two_prefers_better_of_two():
    candidates = [cand("low", "Pro", 10), cand("high", "Pro", 90)]
    assert {pick(candidates, seed=seed) for seed in range(50)} == {"high"}


def test_choose_is_deterministic_for_a_seed():
    candidates = [cand(f"c{i}", quota=i + 1) for i in range(8)]
    assert [pick(candidates, seed=7) for _ in range(5)] == [
        pick(candidates, seed=7)
    ] * 5
