"""Tests of significance and effect sizes for comparing optimizers over seeds (scipy,
statsmodels).

Seed k gives every optimizer the same initial weights and data order, so results are paired
by seed: the Wilcoxon signed-rank test on the per-seed differences is the default; the
Mann-Whitney U test (the prior study's, for unpaired samples) is kept for comparison. Within a
family (one dataset x metric: the best against each other optimizer) p-values are
Holm-corrected. Every comparison also gets the Vargha-Delaney A12 effect size and a bootstrap
95% confidence interval of the median difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, mannwhitneyu, wilcoxon
from statsmodels.stats.multitest import multipletests

from neuroevo.analysis.equivalence import smallest_p

TESTS = ("wilcoxon", "mann_whitney")
TEST_NAMES = {"wilcoxon": "Wilcoxon signed-rank on seed pairs", "mann_whitney": "Mann-Whitney U"}


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; identical constant samples are not different."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples (a[i] with b[i]); pairs
    with no difference at all are not different."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(a) != len(b):
        return float("nan")
    if np.all(a == b):
        return 1.0
    return float(wilcoxon(a, b, alternative="two-sided").pvalue)


def min_attainable_p(n_a: int, n_b: int, test: str = "mann_whitney") -> float:
    """The smallest p the test can give for these sample sizes (complete separation).

    Mann-Whitney with 3 seeds against 3 gives at best 0.1, Wilcoxon on 5 pairs 0.0625: such
    comparisons can never be significant at 0.05, and the report says so instead of calling
    the optimizers equal."""
    if n_a == 0 or n_b == 0:
        return 1.0
    if test == "wilcoxon":
        pairs = min(n_a, n_b)
        return wilcoxon_p(np.arange(1, pairs + 1), np.zeros(pairs))
    return mann_whitney_p(np.arange(n_a), np.arange(n_a, n_a + n_b))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values; NaN (untested) entries stay NaN and do not count."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p_values, np.nan)
    tested = ~np.isnan(p_values)
    if tested.any():
        adjusted[tested] = multipletests(p_values[tested], method="holm")[1]
    return adjusted.tolist()


def a12(a: np.ndarray, b: np.ndarray) -> float:
    """Vargha-Delaney A12: the probability that a value of `a` exceeds one of `b` (ties count
    half). 0.5: no effect; about 0.56 / 0.64 / 0.71 are small / medium / large."""
    a, b = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[None, :]
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(np.mean((a > b) + 0.5 * (a == b)))


def median_difference_ci(
    a: np.ndarray, b: np.ndarray, paired: bool, seed: int = 0, resamples: int = 2000
) -> tuple[float, float, float]:
    """(median difference, 95% CI low, high) of a - b by the percentile bootstrap: the median
    of the per-seed differences when paired, else the difference of the medians."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2 or (paired and len(a) != len(b)):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if paired:
        differences = a - b
        estimate = float(np.median(differences))
        if np.ptp(differences) == 0:
            return estimate, estimate, estimate
        result = bootstrap((differences,), np.median, method="percentile", n_resamples=resamples, random_state=rng)
    else:
        estimate = float(np.median(a) - np.median(b))
        if np.ptp(np.concatenate([a, b])) == 0:
            return estimate, estimate, estimate

        def statistic(x, y, axis=-1):
            return np.median(x, axis=axis) - np.median(y, axis=axis)

        result = bootstrap((a, b), statistic, method="percentile", n_resamples=resamples, random_state=rng)
    return estimate, float(result.confidence_interval.low), float(result.confidence_interval.high)


def co_best(means: dict[str, float], best: str, resolution: float | None) -> list[str]:
    """The names whose mean equals the best's at the data's resolution (`resolution`: the
    smallest difference two such means can show; None: only an equal mean), the best first."""
    tolerance = resolution / 2 if resolution else 1e-12 * max(1.0, abs(means[best]))
    return [best] + [name for name, mean in means.items() if name != best and abs(mean - means[best]) < tolerance]


def compare_with_best(
    samples: dict[str, pd.Series],
    lower_is_better: bool,
    alpha: float,
    test: str = "wilcoxon",
    eligible: set[str] | None = None,
    resolution: float | None = None,
) -> dict[str, dict]:
    """The best of the samples (values indexed by seed) by mean against each other one.

    Per name: best (the reference: the first of the best means), is_best (every mean equal to
    the best's at `resolution`, the smallest difference the means can show: co-best), raw and
    Holm-corrected p of both tests, `p_value` / `p_holm` of the test that decides (`test`),
    `testable` (False when no outcome of these pairs could reach alpha after the correction: the
    Wilcoxon test drops zero differences, so only the non-zero pairs count; such a comparison
    is "untestable", never "equal"), tied_with_best (testable and a corrected p >= alpha; a NaN
    p never ties), A12 of the best over it and the bootstrap CI of the median difference
    best - it (paired by seed for Wilcoxon). Only names in `eligible` (default: all) can be the
    best: an optimizer whose every run diverged is compared, but never highlighted, whatever its
    numbers (a diverged run stops early, so its time and evaluation counts are small)."""
    if test not in TESTS:
        raise ValueError(f"report.test: unknown test {test!r}; known: {', '.join(TESTS)}")
    samples = {
        name: pd.Series(values, dtype=float) if not isinstance(values, pd.Series) else values.astype(float)
        for name, values in samples.items()
    }
    # In the samples' order, never a set's: of equal means the first is the reference, in every process.
    candidates = [name for name in samples if eligible is None or name in eligible]
    means = {
        name: samples[name].mean() for name in candidates if len(samples[name]) and np.isfinite(samples[name].mean())
    }
    if not means:
        empty = {
            "best": None,
            "is_best": False,
            "p_value": float("nan"),
            "p_holm": float("nan"),
            "testable": False,
            "tied_with_best": False,
        }
        return {name: dict(empty) for name in samples}
    best = (min if lower_is_better else max)(means, key=means.get)
    bests = co_best(means, best, resolution)
    sign = -1.0 if lower_is_better else 1.0  # A12 > 0.5 favours the best
    others = [name for name in samples if name != best]
    results = {}
    for name in others:
        common = samples[best].index.intersection(samples[name].index)
        paired_best, paired_other = samples[best][common].to_numpy(), samples[name][common].to_numpy()
        paired = test == "wilcoxon"
        estimate, low, high = median_difference_ci(
            paired_best if paired else samples[best].to_numpy(),
            paired_other if paired else samples[name].to_numpy(),
            paired,
        )
        results[name] = {
            "p_wilcoxon": wilcoxon_p(paired_best, paired_other),
            "p_mann_whitney": mann_whitney_p(samples[best], samples[name]),
            "n_pairs": len(common),
            "n_nonzero_pairs": int(np.count_nonzero(paired_best - paired_other)),
            "min_p": min_attainable_p(len(samples[best]), len(samples[name]))
            if test == "mann_whitney"
            else smallest_p(int(np.count_nonzero(paired_best - paired_other))),
            "a12": a12(sign * samples[best].to_numpy(), sign * samples[name].to_numpy()),
            "difference": estimate,
            "ci_low": low,
            "ci_high": high,
        }
    for which in TESTS:
        adjusted = holm([results[name][f"p_{which}"] for name in others])
        for name, value in zip(others, adjusted, strict=True):
            results[name][f"p_{which}_holm"] = value
    family = len(others)
    for name in others:
        entry = results[name]
        testable = bool(entry.pop("min_p") * family < alpha)
        p_holm = entry[f"p_{test}_holm"]
        entry |= {
            "best": best,
            "is_best": name in bests,
            "p_value": entry[f"p_{test}"],
            "p_holm": p_holm,
            "testable": testable,
            "tied_with_best": bool(testable and np.isfinite(p_holm) and p_holm >= alpha),
        }
    results[best] = {
        "best": best,
        "is_best": True,
        "p_value": 1.0,
        "p_holm": 1.0,
        "testable": True,
        "tied_with_best": False,
        "n_pairs": len(samples[best]),
    }
    return {name: results[name] for name in samples}
