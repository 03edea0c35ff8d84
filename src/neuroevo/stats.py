"""Tests of significance for comparing optimizers over seeds (scipy)."""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; identical constant samples are not different."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def min_attainable_p(n_a: int, n_b: int) -> float:
    """The smallest p the test can give for these sample sizes (complete separation).

    With 3 seeds against 3 it is 0.1: such a comparison can never be significant at 0.05,
    and the report says so instead of calling the optimizers equal."""
    if n_a == 0 or n_b == 0:
        return 1.0
    return mann_whitney_p(np.arange(n_a), np.arange(n_a, n_a + n_b))


def compare_with_best(samples: dict[str, np.ndarray], lower_is_better: bool, alpha: float) -> dict[str, dict]:
    """The best of the samples by mean against each other one (two-sided Mann-Whitney U):
    per name, {best, is_best, p_value, testable, tied_with_best}. `testable` is False when
    the sample sizes cannot reach alpha, so a tie there means "untested", not "equal"."""
    means = {name: float(np.mean(values)) if len(values) else float("nan") for name, values in samples.items()}
    finite = {name: mean for name, mean in means.items() if np.isfinite(mean)}
    if not finite:
        return {name: {"best": None, "is_best": False, "p_value": float("nan"), "testable": False, "tied_with_best": False} for name in samples}
    best = (min if lower_is_better else max)(finite, key=finite.get)
    results = {}
    for name, values in samples.items():
        p_value = 1.0 if name == best else mann_whitney_p(samples[best], values)
        results[name] = {
            "best": best,
            "is_best": name == best,
            "p_value": p_value,
            "testable": bool(min_attainable_p(len(samples[best]), len(values)) < alpha),
            "tied_with_best": name != best and bool(np.nan_to_num(p_value, nan=1.0) >= alpha),
        }
    return results
