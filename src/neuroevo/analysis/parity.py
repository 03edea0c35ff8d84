"""The parity multiples of the budget ladder (parity.parquet), from its rungs and verdicts
(neuroevo.analysis.ladder), per (dataset, evolutionary optimizer):

- equal-budget parity: the smallest rung whose verdict is "equivalent" or "better";
- cost to parity: the smallest rung at which its test accuracy is equivalent within delta to,
  or better than, the best gradient optimizer's best on the ladder (the test accuracy per seed
  at its rung of highest median validation accuracy; a gradient optimizer that ever diverged is
  never this reference), by the same tests, Holm over the dataset's evolutionary optimizers and
  the reference x rungs; in FLOPs, seconds, and as a multiple of the reference's own cost to
  reach it (its smallest rung equivalent to it, by the same test).

Neither is ever extrapolated: without a rung that decides, "not within {top}x".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from neuroevo.analysis.diverged import score_diverged
from neuroevo.analysis.ladder import (
    budget_fields,
    by_seed,
    evolutionary_optimizers,
    rung_key,
    rung_mark,
    rung_multiples,
    unstable_gradient,
)
from neuroevo.analysis.verdict import BETTER, EQUIVALENT, NO_REFERENCE, paired_verdicts, reference_absence

PARITY = (EQUIVALENT, BETTER)  # the verdicts that count as parity
PARITY_COLUMNS = (
    "dataset",
    "optimizer",
    "multiples",
    "top_multiple",
    "base_flops",
    "budget_source",
    "rule_flops",
    "margin",
    "alpha",
    "family",
    "parity_multiple",
    "parity_flops",
    "parity_reference",
    "parity_hl",
    "parity_text",
    "plateau_reference",
    "plateau_multiple",
    "plateau_test_acc",
    "cost_multiple",
    "cost_flops",
    "cost_seconds",
    "reference_cost_flops",
    "reference_cost_seconds",
    "cost_ratio_flops",
    "cost_ratio_seconds",
    "cost_p",
    "cost_text",
    "test_resolution",
)


def multiple_text(value: float) -> str:
    """A multiple of B, compactly: "0.25x", "16x"."""
    return f"{value:g}x"


def flops_text(value: float) -> str:
    """FLOPs compactly, two significant digits: 1.6e9."""
    text = f"{value:.2g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def ratio_text(value: float) -> str:
    """A cost ratio to two significant digits, without an exponent below a million: 70, 1200."""
    return f"{float(f'{value:.2g}'):g}"


def plateau_reference(rungs: pd.DataFrame) -> tuple[str | None, float, float]:
    """The best gradient optimizer over the whole ladder: of those that never diverged at any
    rung, the one whose median validation accuracy at its best rung is highest (then mean, then
    order); with that rung (the smallest of its highest median) and its median test accuracy
    there. (None, NaN, NaN) without one."""
    gradient = rungs[rungs["optimizer_kind"] == "gradient"]
    gradient = gradient[~gradient["optimizer"].isin(unstable_gradient(rungs))]
    if not len(gradient):
        return None, math.nan, math.nan
    by = gradient.groupby(["optimizer", "multiple"], sort=False)
    table = pd.DataFrame({"median": by["val_acc"].median(), "mean": by["val_acc"].mean()}).reset_index()
    table = table.sort_values(["median", "mean", "multiple"], ascending=[False, False, True], kind="stable")
    best = table.iloc[0]
    name, multiple = str(best["optimizer"]), float(best["multiple"])
    mine = gradient[(gradient["optimizer"] == name) & (gradient["multiple"] == multiple)]
    return name, multiple, float(mine["test_acc"].median())


def parity_table(
    rungs: pd.DataFrame,
    verdicts: pd.DataFrame,
    budgets: dict[str, dict] | None,
    margin: float,
    alpha: float,
) -> pd.DataFrame:
    """The parity multiples (parity.parquet): one row per (dataset, evolutionary optimizer),
    columns PARITY_COLUMNS. Equal-budget parity from `verdicts` (ladder_verdicts); cost to
    parity tested here against the plateau reference's per-seed test accuracy at its plateau
    rung (paired_verdicts: TOST, one-sided and two-sided Wilcoxon, Holm over the dataset's
    evolutionary optimizers and the reference x rungs; "equivalent" or "better" counts; the
    reference's own cost to its plateau is its smallest rung equivalent to it); `budgets`
    (dataset -> budget file) give B, its source and the rule's B."""
    rows = []
    rungs = score_diverged(rungs)
    for dataset, mine in rungs.groupby("dataset", sort=False):
        theirs = verdicts[verdicts["dataset"] == dataset] if len(verdicts) else verdicts
        rows += _dataset_parity(str(dataset), mine, theirs, budgets, margin, alpha)
    return pd.DataFrame(rows, columns=list(PARITY_COLUMNS))


def _dataset_parity(dataset, rungs, verdicts, budgets, margin, alpha) -> list[dict]:
    evolutionary = evolutionary_optimizers(rungs)
    if not evolutionary or not (rungs["optimizer_kind"] == "gradient").any():
        return []
    multiples = rung_multiples(rungs)
    budget = budget_fields(budgets, dataset, rungs)
    reference, plateau_multiple, plateau_test = plateau_reference(rungs)
    costs = _cost_tests(rungs, evolutionary, multiples, reference, plateau_multiple, margin, alpha)
    reach = _reference_cost(rungs, costs, reference, multiples, plateau_multiple)
    n_test = rungs["n_test"].dropna() if "n_test" in rungs else pd.Series(dtype=float)
    resolution = 1 / float(n_test.median()) if len(n_test) else math.nan
    rows = []
    for optimizer in evolutionary:
        row = {"dataset": dataset, "optimizer": optimizer, "multiples": multiples, "top_multiple": multiples[-1]}
        row |= budget | {"margin": margin, "alpha": alpha, "family": len(costs), "test_resolution": resolution}
        row |= _equal_budget_parity(verdicts, optimizer, multiples)
        row |= {"plateau_reference": reference, "plateau_multiple": plateau_multiple, "plateau_test_acc": plateau_test}
        row |= _cost_to_parity(rungs, costs, optimizer, multiples, reference, reach, absence=reference_absence(rungs))
        rows.append(row)
    return rows


def _equal_budget_parity(verdicts: pd.DataFrame, optimizer: str, multiples: list[float]) -> dict:
    """The smallest rung whose verdict is equivalent or better, or "not within" the top rung
    that had a reference (every rung in a ladder whose gradient side never diverged)."""
    mine = verdicts[verdicts["optimizer"] == optimizer].sort_values("multiple") if len(verdicts) else verdicts
    decided = mine[mine["verdict"].isin(PARITY)] if len(mine) else mine
    if len(decided):
        first = decided.iloc[0]
        return {
            "parity_multiple": float(first["multiple"]),
            "parity_flops": float(first["mark_flops"]),
            "parity_reference": first["reference"],
            "parity_hl": float(first["hl"]),
            "parity_text": multiple_text(float(first["multiple"])),
        }
    tested = mine[mine["verdict"] != NO_REFERENCE] if len(mine) else mine
    text = f"not within {multiple_text(float(tested['multiple'].max()))}" if len(tested) else "no reference"
    return {
        "parity_multiple": math.nan,
        "parity_flops": math.nan,
        "parity_reference": None,
        "parity_hl": math.nan,
        "parity_text": text,
    }


def _cost_tests(rungs, evolutionary, multiples, reference, plateau_multiple, margin, alpha) -> dict:
    """(optimizer, rung) -> its paired_verdicts row against the reference's plateau test
    accuracy per seed; Holm over every (evolutionary optimizer, rung) pair. {} without a
    reference."""
    if reference is None:
        return {}
    wide = by_seed(rungs)
    plateau = rung_key(reference, plateau_multiple)
    # The reference's own rungs are tested against its plateau too (in the same Holm family):
    # its cost to the plateau is the smallest rung at which it is equivalent to it, so that both
    # sides of the cost ratio are measured by one test on the ladder.
    keys = [(optimizer, multiple) for optimizer in [*evolutionary, reference] for multiple in multiples]
    keys = [key for key in keys if rung_key(*key) in wide and key != (reference, plateau_multiple)]
    tested = paired_verdicts(wide, [(rung_key(*key), plateau) for key in keys], margin, alpha)
    return dict(zip(keys, tested, strict=True))


def _reference_cost(rungs, costs, reference, multiples, plateau_multiple) -> dict:
    """The plateau reference's own cost to its plateau: the smallest rung at which its test
    accuracy is equivalent to (or better than) the plateau's by the same test (its plateau rung
    itself, untested: no difference), its mark and its runs' median seconds in steps there; {}
    without a reference."""
    if reference is None:
        return {}
    tested = [m for m in multiples if costs.get((reference, m), {}).get("verdict") in PARITY]
    first = min([*tested, plateau_multiple])
    at_rung = rungs[(rungs["optimizer"] == reference) & (rungs["multiple"] == first)]
    return {"reach_flops": rung_mark(rungs, first), "reach_train_s": float(at_rung["train_s"].median())}


def _cost_to_parity(rungs, costs, optimizer, multiples, reference, reach, absence) -> dict:
    """The smallest rung at which `optimizer` is equivalent to or better than the plateau, with
    its cost, the reference's own cost to its plateau (its smallest rung equivalent to it, by
    the same test) and their ratios; NaN and "not within {top}x" when no rung is."""
    reference_flops, reference_seconds = _finite(reach.get("reach_flops")), _finite(reach.get("reach_train_s"))
    fields = {"reference_cost_flops": reference_flops, "reference_cost_seconds": reference_seconds}
    found = [m for m in multiples if costs.get((optimizer, m), {}).get("verdict") in PARITY]
    if not found:
        text = f"no reference ({absence})" if reference is None else f"not within {multiple_text(multiples[-1])}"
        nan = math.nan
        return (
            fields
            | {"cost_multiple": nan, "cost_flops": nan, "cost_seconds": nan}
            | {
                "cost_ratio_flops": nan,
                "cost_ratio_seconds": nan,
                "cost_p": nan,
                "cost_text": text,
            }
        )
    multiple = found[0]
    test = costs[(optimizer, multiple)]
    at_rung = rungs[(rungs["optimizer"] == optimizer) & (rungs["multiple"] == multiple)]
    flops, seconds = rung_mark(rungs, multiple), float(at_rung["train_s"].median())
    ratio_flops, ratio_seconds = _divide(flops, reference_flops), _divide(seconds, reference_seconds)
    text = f"{multiple_text(multiple)} B = {flops_text(flops)} FLOPs"
    if math.isfinite(ratio_flops):
        text += f", {ratio_text(ratio_flops)}x {reference}'s cost"
    return fields | {
        "cost_multiple": multiple,
        "cost_flops": flops,
        "cost_seconds": seconds,
        "cost_ratio_flops": ratio_flops,
        "cost_ratio_seconds": ratio_seconds,
        # The Holm p of the test that decided: TOST for "equivalent", two-sided for "better".
        "cost_p": float(test["p_equivalent_holm"] if test["verdict"] == EQUIVALENT else test["p_difference_holm"]),
        "cost_text": text,
    }


def _finite(value) -> float:
    return float(value) if value is not None and np.isfinite(float(value)) else math.nan


def _divide(cost: float, reference: float) -> float:
    """cost / reference; NaN when the reference is unknown or not positive."""
    return cost / reference if math.isfinite(reference) and reference > 0 else math.nan
