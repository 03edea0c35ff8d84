"""Paired comparisons that can say "equivalent", not only "not different" (issue 17's verdict):
the Hodges-Lehmann estimate of a paired difference with its exact signed-rank confidence
interval, a paired equivalence test (two one-sided Wilcoxon signed-rank tests, TOST, with a
margin delta), and what a sample of pairs can show at all: the Wilcoxon test drops zero
differences, so only the non-zero pairs count towards the smallest p it can reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a[i] - b[i] of paired samples, as floats."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-d and of one length, got {a.shape} and {b.shape}")
    return a - b


def hodges_lehmann(d: np.ndarray) -> float:
    """The median of the Walsh averages (d_i + d_j) / 2, i <= j: the estimate that goes with
    the signed-rank test."""
    return float(np.median(_walsh_averages(np.asarray(d, dtype=float))))


def _walsh_averages(d: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2)


def signed_rank_null_cdf(n: int) -> np.ndarray:
    """P(T <= t) for t = 0 .. n(n+1)/2, T the signed-rank statistic of n non-zero, untied
    differences under the null (each sign equally likely): exact, by counting subsets."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return np.cumsum(counts) / 2.0**n


def hl_interval(d: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The exact distribution-free confidence interval of the median difference that inverts
    the signed-rank test: the Walsh averages W_(c+1) and W_(M-c), c the largest value with
    P(T <= c) <= (1 - level) / 2. (nan, nan) when n is too small for any interval at `level`."""
    d = np.asarray(d, dtype=float)
    walsh = _walsh_averages(d)
    cdf = signed_rank_null_cdf(len(d))
    below = np.nonzero(cdf <= (1 - level) / 2)[0]
    if len(below) == 0:
        return math.nan, math.nan
    c = int(below[-1])
    return float(walsh[c]), float(walsh[len(walsh) - 1 - c])


def smallest_p(n_nonzero: int, two_sided: bool = True) -> float:
    """The smallest p an exact signed-rank test on `n_nonzero` non-zero differences can give
    (all of one sign): 1 / 2^n one-sided, twice that two-sided; 1 without any."""
    if n_nonzero == 0:
        return 1.0
    return min(1.0, (2.0 if two_sided else 1.0) / 2.0**n_nonzero)


def can_be_significant(a: np.ndarray, b: np.ndarray, comparisons: int, alpha: float = 0.05) -> bool:
    """Whether a two-sided Wilcoxon test of these pairs could reach p < alpha after Holm over
    `comparisons` comparisons: judged by the non-zero differences only, which the test uses."""
    n_nonzero = int(np.count_nonzero(differences(a, b)))
    return smallest_p(n_nonzero) * comparisons < alpha


ZERO = 1e-12  # below this a (shifted) difference is a tie, as the data's resolution has it


def one_sided_p(d: np.ndarray, alternative: str) -> float:
    """One-sided Wilcoxon signed-rank p of the differences `d` against 0, zeros dropped (scipy:
    the exact null for up to 50 untied differences, else the normal approximation)."""
    d = np.where(np.abs(d) < ZERO, 0.0, d)  # a difference shifted by the margin can leave 1e-17 for 0
    if not np.any(d):
        return 1.0  # no non-zero difference: nothing against the null
    return float(stats.wilcoxon(d, alternative=alternative, zero_method="wilcox").pvalue)


@dataclass(frozen=True)
class Equivalence:
    """A paired TOST of a - b with margin `margin`: p_lower tests H0 "a - b <= -margin", p_upper
    H0 "a - b >= margin"; the TOST p is the larger (equivalent when it is below alpha)."""

    estimate: float  # Hodges-Lehmann
    low: float  # exact signed-rank interval at 1 - 2 alpha, the interval that matches TOST
    high: float
    p_lower: float
    p_upper: float
    margin: float
    n: int
    n_nonzero: int

    @property
    def p(self) -> float:
        return max(self.p_lower, self.p_upper)


def tost(a: np.ndarray, b: np.ndarray, margin: float, alpha: float = 0.05) -> Equivalence:
    """Two one-sided Wilcoxon signed-rank tests of the paired differences a - b against the
    margins -margin and +margin."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    d = differences(a, b)
    low, high = hl_interval(d, 1 - 2 * alpha)
    return Equivalence(
        estimate=hodges_lehmann(d),
        low=low,
        high=high,
        p_lower=one_sided_p(d + margin, "greater"),
        p_upper=one_sided_p(d - margin, "less"),
        margin=margin,
        n=len(d),
        n_nonzero=int(np.count_nonzero(d)),
    )
