"""The report's answer to "is gradient-free training competitive here, at what cost?": per
dataset, each evolutionary optimizer against the best gradient optimizer of the equal-budget
arm (the highest median validation accuracy: the median is the location the signed-rank
tests and the Hodges-Lehmann estimate are about; never one any of whose runs diverged), on
test accuracy, paired by seed, a diverged run scoring 0 (neuroevo.analysis.diverged):

- the Hodges-Lehmann estimate of the difference (evolutionary - gradient) with its exact
  signed-rank 95% interval;
- equivalence by TOST (two one-sided Wilcoxon tests against -delta and +delta), "worse by
  more than delta" by the one-sided test against -delta, "better" by the two-sided test;
  each Holm-corrected over the dataset's evolutionary optimizers;
- the verdict in words, and when inconclusive, why: the pairs, the smallest p they could
  reach, and about how many seeds would decide at the observed spread;
- the cost ratio: aRT to the dataset's target validation accuracy, in forward-equivalent FLOPs
  and in seconds, of the evolutionary optimizer over the gradient one's;
- the runs of each side and how many diverged (n_runs, n_diverged, reference_n_runs,
  reference_n_diverged), which the report writes as "k of n diverged".

When every gradient optimizer diverged in some run there is no reference: each evolutionary
optimizer gets a row saying so (NO_REFERENCE, the reason naming the divergences), no test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from neuroevo.analysis.cost import cost_to_target
from neuroevo.analysis.diverged import diverged_counts, diverged_text
from neuroevo.analysis.equivalence import hl_interval, one_sided_p, smallest_p, tost
from neuroevo.analysis.stats import holm, wilcoxon_p

EQUIVALENT, WORSE, BETTER, INCONCLUSIVE = (
    "equivalent within delta",
    "worse by more than delta",
    "better",
    "inconclusive",
)
NO_REFERENCE = "no reference"  # every gradient optimizer diverged in some run: nothing to compare with
POWER = 0.8  # of the seed count that would decide
WILCOXON_EFFICIENCY = 3 / math.pi  # the signed-rank test's efficiency against the t-test (normal data)
MAX_SEEDS = 10_000


def _gradient_runs(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["optimizer_kind"] == "gradient"]


def best_gradient(runs: pd.DataFrame) -> str | None:
    """The gradient optimizer of the highest median validation accuracy (then mean, then
    order): chosen on validation, so that the test accuracy it is compared on does not also
    pick it (a winner's curse that would tilt every verdict against the evolutionary ones).
    Never one any of whose runs diverged (`runs`' status): an optimizer that blows up on some
    seeds is no reference, whatever its other runs score. None: no gradient optimizer is left
    (reference_absence says why)."""
    gradient = _gradient_runs(runs)
    unstable = {name for name, (diverged, _) in diverged_counts(gradient).items() if diverged}
    gradient = gradient[~gradient["optimizer"].isin(unstable)]
    if not len(gradient):
        return None
    by = gradient.groupby("optimizer", sort=False)["val_acc"]
    table = pd.DataFrame({"median": by.median(), "mean": by.mean()})
    return str(table.sort_values(["median", "mean"], ascending=False, kind="stable").index[0])


def reference_absence(runs: pd.DataFrame, what: str = "optimizer") -> str:
    """Why best_gradient finds no reference in `runs` ("" when it finds one); `what` names the
    runs' optimizers (a study's are variants)."""
    if best_gradient(runs) is not None:
        return ""
    gradient = _gradient_runs(runs)
    if not len(gradient):
        return f"no gradient {what} ran"
    counts = ", ".join(f"{name} {diverged_text(*count)}" for name, count in diverged_counts(gradient).items())
    return f"every gradient {what} diverged in some run ({counts}), so none can be the reference"


def diverged_columns(runs: pd.DataFrame, optimizer: str, reference: str | None, by: str = "optimizer") -> dict:
    """A verdict row's run counts: of each side, its runs and how many diverged (each scored 0)."""
    counts = diverged_counts(runs, by)
    mine, theirs = counts.get(optimizer, (0, 0)), counts.get(reference, (0, 0))
    return {
        "n_runs": mine[1],
        "n_diverged": mine[0],
        "reference_n_runs": theirs[1],
        "reference_n_diverged": theirs[0],
    }


def seeds_to_decide(d: np.ndarray, margin: float, alpha: float) -> int | None:
    """About how many seeds the test the estimate points to would need to decide at the
    observed spread of the differences `d` (normal approximation with the signed-rank test's
    efficiency, power POWER, `alpha` as corrected): equivalence when the estimate lies inside
    the margin, "worse by more than delta" below it, a difference above it. None: no spread."""
    spread = float(np.std(d, ddof=1)) if len(d) > 1 else math.nan
    if not spread > 0:
        return None
    estimate = float(np.median(d))
    sides = 1
    if abs(estimate) < margin:
        distance, z = margin - abs(estimate), norm.ppf(1 - alpha) + norm.ppf(1 - (1 - POWER) / 2)
    elif estimate <= -margin:
        distance, z = abs(estimate) - margin, norm.ppf(1 - alpha) + norm.ppf(POWER)
    else:
        distance, z, sides = abs(estimate), norm.ppf(1 - alpha / 2) + norm.ppf(POWER), 2
    if distance <= 0:
        return MAX_SEEDS
    needed = (z * spread / distance) ** 2 / WILCOXON_EFFICIENCY
    # Never fewer than the exact test needs to reach alpha at all (all differences one way: sides / 2^n).
    reachable = math.floor(math.log2(sides / alpha)) + 1
    return int(min(MAX_SEEDS, max(len(d) + 1, reachable, math.ceil(needed))))


def _verdict(row: dict, alpha: float) -> tuple[str, str]:
    if row["p_equivalent_holm"] < alpha:
        return EQUIVALENT, ""
    if row["p_worse_holm"] < alpha:
        return WORSE, ""
    if row["p_difference_holm"] < alpha and row["hl"] > 0:
        return BETTER, ""
    reasons = [f"n = {row['n']} seed pairs ({row['n_nonzero']} non-zero)"]
    reachable = min(1.0, smallest_p(row["n_nonzero"]) * row["family"])
    reasons.append(f"the smallest Holm-corrected two-sided p they can reach is {reachable:.3g}")
    if row["p_difference_holm"] < alpha:
        reasons.append("worse, but neither within nor beyond delta")
    needed = row["seeds_needed"]
    if needed is not None:
        reasons.append(f"about {needed}{'+' if needed >= MAX_SEEDS else ''} seeds would decide at the observed spread")
    else:
        reasons.append("the differences do not vary, so more seeds would not change the outcome")
    return INCONCLUSIVE, "; ".join(reasons)


def paired_verdicts(by_seed: pd.DataFrame, pairs: list[tuple[str, str]], margin: float, alpha: float) -> list[dict]:
    """One row per (optimizer, reference) pair of columns of `by_seed` (a score per seed, the
    seeds that both have paired): the estimate and interval, the three tests Holm-corrected over
    the pairs, and the verdict in words with its reason."""
    rows, differences = [], []
    for optimizer, reference in pairs:
        paired = by_seed[[optimizer, reference]].dropna()
        a, b = paired[optimizer].to_numpy(), paired[reference].to_numpy()
        d = a - b
        differences.append(d)
        equivalence = tost(a, b, margin, alpha)
        low, high = hl_interval(d, 0.95)
        rows.append(
            {
                "optimizer": optimizer,
                "reference": reference,
                "n": len(d),
                "n_nonzero": int(np.count_nonzero(d)),
                "family": len(pairs),
                "mean_acc": float(a.mean()),
                "reference_mean_acc": float(b.mean()),
                "hl": equivalence.estimate,
                "ci_low": low,
                "ci_high": high,
                "tost_low": equivalence.low,
                "tost_high": equivalence.high,
                "p_equivalent": equivalence.p,
                "p_worse": one_sided_p(d + margin, "less"),
                "p_difference": wilcoxon_p(a, b),
                "margin": margin,
                "alpha": alpha,
            }
        )
    for column in ("p_equivalent", "p_worse", "p_difference"):
        for row, adjusted in zip(rows, holm([row[column] for row in rows]), strict=True):
            row[f"{column}_holm"] = adjusted
    for row, d in zip(rows, differences, strict=True):
        row["seeds_needed"] = seeds_to_decide(d, margin, alpha / row["family"])
        row["verdict"], row["reason"] = _verdict(row, alpha)
    return rows


def dataset_verdicts(
    dataset: str,
    runs: pd.DataFrame,
    histories: pd.DataFrame,
    margin: float,
    alpha: float,
    target: float,
    costs: pd.DataFrame | None = None,
) -> list[dict]:
    """The verdict rows of one dataset (equal-budget arm runs and histories, their columns named
    as in the early-stopping arm: neuroevo.analysis.arms, which scores a diverged run 0), each
    with the diverged runs of both sides counted; without a reference because every gradient
    optimizer diverged somewhere, a NO_REFERENCE row per evolutionary optimizer."""
    reference = best_gradient(runs)
    evolutionary = list(dict.fromkeys(runs.loc[runs["optimizer_kind"] == "evolution", "optimizer"]))
    if not evolutionary or not len(_gradient_runs(runs)):
        return []
    budget = float(runs["training.budget_flops"].iloc[0]) if "training.budget_flops" in runs else math.nan
    if reference is None:
        absent = {"budget_flops": budget, "target_val_acc": target, "margin": margin, "alpha": alpha}
        return [_no_reference_row(dataset, runs, optimizer) | absent for optimizer in evolutionary]
    if costs is None:  # else the caller's cost_to_target rows at `target`
        costs = cost_to_target(dataset, runs, histories, target)
    costs = costs.set_index("optimizer")
    by_seed = runs.pivot_table(index="seed", columns="optimizer", values="test_acc")
    rows = []
    for row in paired_verdicts(by_seed, [(optimizer, reference) for optimizer in evolutionary], margin, alpha):
        row = {"dataset": dataset, **row, **diverged_columns(runs, row["optimizer"], reference)}
        row |= {"budget_flops": budget, "target_val_acc": target}
        for name in ("flops", "seconds"):
            if f"art_{name}" in costs:
                row[name] = float(costs.loc[row["optimizer"], f"art_{name}"])
                row[f"{name}_reference"] = float(costs.loc[reference, f"art_{name}"])
                row[f"{name}_ratio"] = _ratio(row[name], row[f"{name}_reference"])
        rows.append(row)
    return rows


def _no_reference_row(dataset: str, runs: pd.DataFrame, optimizer: str) -> dict:
    """A verdict row without a reference: the optimizer's mean score, no test, and why."""
    nan = math.nan
    return {
        "dataset": dataset,
        "optimizer": optimizer,
        "reference": None,
        "n": 0,
        "n_nonzero": 0,
        "family": 0,
        "mean_acc": float(runs.loc[runs["optimizer"] == optimizer, "test_acc"].mean()),
        "reference_mean_acc": nan,
        **dict.fromkeys(("hl", "ci_low", "ci_high", "tost_low", "tost_high"), nan),
        **dict.fromkeys(("p_equivalent", "p_worse", "p_difference"), nan),
        **dict.fromkeys(("p_equivalent_holm", "p_worse_holm", "p_difference_holm"), nan),
        "seeds_needed": None,
        "verdict": NO_REFERENCE,
        "reason": reference_absence(runs),
        **diverged_columns(runs, optimizer, None),
    }


def _ratio(cost: float, reference: float) -> float:
    """aRT over the reference's: infinite when only the reference reaches the target, NaN when
    it does not (or reaches it at no cost: the initial model)."""
    if math.isinf(reference) or reference <= 0:
        return math.nan
    return math.inf if math.isinf(cost) else cost / reference
