"""Markdown table cells: how every table of the report writes a number, a p-value, a median
with its interquartile range, and the best of a column (bold) or one a test cannot separate
from it (†), and a verdict row's cells."""

from __future__ import annotations

import math

import numpy as np

from neuroevo.analysis.diverged import diverged_text
from neuroevo.analysis.verdict import NO_REFERENCE


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


def marked(text: str, is_best: bool, tied: bool, testable: bool = True) -> str:
    """A cell of a compared column: **bold** for the best (every one equal to it at the data's
    resolution), "(untestable)" where no outcome of the test could have told it from the best,
    † for one the test did not tell from it."""
    if is_best:
        return f"**{text}**"
    if not testable:
        return f"{text} (untestable)"
    return f"{text} †" if tied else text


def compact(value: float) -> str:
    """3 significant digits; from 10,000 on thousands as k, from a million on millions as M,
    from a billion on G, from 10^12 on T (counts of work, FLOPs)."""
    for threshold, scale, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
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


def _count(row, key: str) -> int:
    value = row.get(key) if hasattr(row, "get") else None
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def diverged_note(row) -> str:
    """A verdict row's diverged runs in words, each side that had some: "cmaes: 3 of 3 diverged"
    ("" when none did; rows without the counts, as older tables, say nothing)."""
    sides = (("optimizer", "n_diverged", "n_runs"), ("reference", "reference_n_diverged", "reference_n_runs"))
    notes = [
        f"{row[name]}: {diverged_text(_count(row, diverged), _count(row, runs))}"
        for name, diverged, runs in sides
        if _count(row, diverged) and isinstance(row[name], str)
    ]
    return "; ".join(notes)


def verdict_cells(row) -> dict:
    """A verdict row's cells (neuroevo.analysis.verdict.paired_verdicts): n, the decisive test
    and its p, delta, the effect with its interval and the verdict with its reason; the test
    accuracies say "k of n diverged" for a side with diverged runs (each scored 0)."""
    verdict = row["verdict"] + (f" ({row['reason']})" if row["reason"] else "")
    test, p_decisive = {
        "worse by more than delta": ("Wilcoxon one-sided, against -δ", row["p_worse_holm"]),
        "better": ("Wilcoxon two-sided", row["p_difference_holm"]),
        NO_REFERENCE: ("-", math.nan),
    }.get(row["verdict"], ("Wilcoxon TOST, ±δ", row["p_equivalent_holm"]))
    diverged = diverged_note(row)
    accuracy = f"{number(row['mean_acc'], 3)} vs {number(row['reference_mean_acc'], 3)}"
    if not math.isfinite(row["hl"]):
        effect = "-"
    elif math.isfinite(row["ci_low"]):
        effect = f"{row['hl']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    else:
        effect = f"{row['hl']:+.3f} [no 95% interval with {int(row['n'])} pairs]"
    return {
        "optimizer": row["optimizer"],
        "reference": row["reference"] if isinstance(row["reference"], str) else "-",
        "n": int(row["n"]),
        "n_nonzero": int(row["n_nonzero"]),
        "accuracy": accuracy + (f" ({diverged}, each scored 0)" if diverged else ""),
        "diverged": diverged,
        "effect": effect,
        "p_equivalent": p_value(row["p_equivalent_holm"]),
        "p_worse": p_value(row["p_worse_holm"]),
        "p_difference": p_value(row["p_difference_holm"]),
        "p_decisive": p_value(p_decisive),
        "test": test,
        "margin": number(row["margin"], 3),
        "verdict": verdict,
    }
