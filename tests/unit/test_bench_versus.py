"""``make bench-versus``'s arithmetic and its guard against importing the wrong tree."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.revision import ROOT, Revision, check_runs_own_code
from benchmarks.versus import Round, round_from_samples, round_order, summarize


def test_a_round_is_each_gateways_p50_minus_the_direct_p50_in_ms():
    samples = {
        "base": [0.010, 0.012, 0.011],
        "this": [0.013, 0.011, 0.012],
        "direct": [0.007, 0.006, 0.008],
        "healthz base": [0.002, 0.004, 0.003],
        "healthz this": [0.003, 0.005, 0.004],
    }
    one = round_from_samples(samples)
    assert one.added == pytest.approx({"base": 4.0, "this": 5.0})
    assert one.healthz == pytest.approx({"base": 3.0, "this": 4.0})


def test_the_difference_is_the_median_of_per_round_differences():
    # Per-round differences 0.1, 0.2, -0.5 have the median 0.1; the medians of
    # each side alone (4.4 and 4.1) would give -0.3.
    rounds = [
        Round({"base": 4.0, "this": 4.1}, {"base": 3.0, "this": 3.5}),
        Round({"base": 9.0, "this": 9.2}, {"base": 8.0, "this": 8.0}),
        Round({"base": 4.4, "this": 3.9}, {"base": 3.2, "this": 3.0}),
    ]
    summary = summarize(rounds)
    assert summary.added == pytest.approx({"base": 4.4, "this": 4.1})
    assert summary.added_diff == pytest.approx(0.1)
    assert summary.healthz == pytest.approx({"base": 3.2, "this": 3.5})
    assert summary.healthz_diff == pytest.approx(0.0)
    assert summary.added_range == pytest.approx((-0.5, 0.2))
    assert summary.healthz_range == pytest.approx((-0.2, 0.5))


def test_the_gateways_swap_places_every_round():
    assert round_order(0) == ("base", "this", "direct", "healthz base", "healthz this")
    assert round_order(1) == ("this", "base", "direct", "healthz this", "healthz base")
    assert round_order(2) == round_order(0)


def test_a_package_in_the_working_directory_is_caught(tmp_path: Path):
    this = Revision("this", "", ROOT, Path(sys.executable))
    check_runs_own_code(this, tmp_path)
    (tmp_path / "antigravity_proxy").mkdir()
    (tmp_path / "antigravity_proxy" / "__init__.py").write_text("")
    with pytest.raises(RuntimeError, match="imports from"):
        check_runs_own_code(this, tmp_path)
