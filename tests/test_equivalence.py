"""Known answers of the paired equivalence statistics (issue 17): the Hodges-Lehmann estimate
and its exact interval by hand, TOST on samples inside and outside the margin, and what zero
differences do to testability."""

import numpy as np
import pytest

from neuroevo.analysis.equivalence import (
    can_be_significant,
    hl_interval,
    hodges_lehmann,
    signed_rank_null_cdf,
    smallest_p,
    tost,
)


def test_the_hodges_lehmann_estimate_is_the_median_of_the_walsh_averages():
    # Walsh averages of (1, 2, 4): 1, 1.5, 2.5, 2, 3, 4 -> sorted 1, 1.5, 2, 2.5, 3, 4 -> 2.25
    assert hodges_lehmann(np.array([1.0, 2.0, 4.0])) == 2.25


def test_the_exact_null_distribution_and_interval_match_the_tables():
    # n = 8: subsets of {1..8} with sum <= 3 are {}, {1}, {2}, {3}, {1,2}: 5 of 256; sum <= 4 adds {4}, {1,3}.
    cdf = signed_rank_null_cdf(8)
    assert cdf[3] == 5 / 256 and cdf[4] == 7 / 256 and cdf[-1] == 1.0
    # So the two-sided 95% critical value is 3 (the published table's) and the interval runs
    # from the 4th to the 33rd of the 36 Walsh averages.
    d = np.arange(1.0, 9.0)
    i, j = np.triu_indices(8)
    walsh = np.sort((d[i] + d[j]) / 2)
    assert hl_interval(d, 0.95) == (walsh[3], walsh[32])
    # n = 5: even all of one sign has p = 1/32 > 0.025, so no 95% interval exists.
    assert all(np.isnan(hl_interval(np.arange(1.0, 6.0), 0.95)))


def test_tost_says_equivalent_inside_the_margin_and_not_for_a_shift_of_twice_it():
    rng = np.random.default_rng(0)
    base = rng.normal(0.9, 0.01, 30)
    inside = base + rng.normal(0.0, 0.002, 30)  # same distribution up to a little noise
    result = tost(inside, base, margin=0.01)
    assert result.p < 0.05 and -0.01 < result.low <= result.estimate <= result.high < 0.01
    shifted = base - 0.02 + rng.normal(0.0, 0.002, 30)  # worse by 2 x the margin
    result = tost(shifted, base, margin=0.01)
    assert result.p > 0.5 and result.high < -0.01
    with pytest.raises(ValueError, match="margin must be positive"):
        tost(base, base, margin=0.0)


def test_zero_differences_do_not_count_towards_testability():
    # 10 pairs, 4 of them equal: 6 non-zero, so the smallest two-sided p is 2/64 and Holm
    # over 5 comparisons can reach only 0.156 (issue 17's Iris case): untestable.
    a = np.array([0.9, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    b = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert smallest_p(6) == 2 / 64 and smallest_p(6) * 5 == pytest.approx(0.15625)
    assert not can_be_significant(a, b, comparisons=5)
    all_differ = a + np.r_[0.01, 0.02, 0.03, 0.04, np.zeros(6)]  # 10 non-zero: 2/1024 x 5 < 0.05
    assert can_be_significant(all_differ, b, comparisons=5)
    assert smallest_p(0) == 1.0
