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
