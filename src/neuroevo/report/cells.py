"""Markdown table cells: how every table of the report writes a number, a p-value, a median
with its interquartile range, and the best of a column (bold) or one a test cannot separate
from it (†)."""

from __future__ import annotations

import math

import numpy as np


def number(value: float | None, digits: int = 4) -> str:
    """`digits` significant digits; "-" for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def p_value(value: float | None) -> str:
    """Three decimals, "< 0.001" below that; "-" when untested."""
    return "-" if value is None or math.isnan(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def mean_std(mean: float, std: float) -> str:
    """ "mean ± std" (4 and 2 significant digits), the mean alone without a std (one seed)."""
    return number(mean) if math.isnan(std) else f"{number(mean)} ± {number(std, 2)}"


def marked(text: str, is_best: bool, tied: bool) -> str:
    """A cell of a compared column: **bold** for the best, † for one not significantly different from it."""
    if is_best:
        return f"**{text}**"
    return f"{text} †" if tied else text


def compact(value: float) -> str:
    """3 significant digits; from 10,000 on thousands as k, from a million on millions as M
    (counts of work)."""
    for threshold, scale, suffix in ((1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def median_iqr(values: list[float]) -> str:
    """ "median [q25, q75]" of the finite values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return "-"
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return f"{compact(median)} [{compact(q25)}, {compact(q75)}]"
