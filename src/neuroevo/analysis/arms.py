"""The report's two protocols, both read from the same runs: the early-stopping arm (each run's
best-validation model when its patience ran out, the work spent by then) and, for runs with
a FLOP budget (training.budget_flops), the equal-budget arm (every run's model at the end of
the same forward-equivalent FLOP budget, no early stopping). `arm_runs` and `arm_histories`
give either arm in the early-stopping arm's column names, so one set of tables serves both.
In the equal-budget arm a run that diverged before the budget's end scores 0 (every accuracy)
and is counted as diverged: the rule of neuroevo.analysis.diverged, the discovery comparison's.

With a ladder of budgets (training.budget_multiples), training.budget_flops is the base budget B
and a run goes on to B x the top multiple: the arm's budget_* values are the top rung's, and its
end (budget_end) is what a run that diverged before it is charged. The rungs below are read from
the aggregate's rungs table (neuroevo.analysis.ladder).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuroevo.analysis.diverged import DIVERGED, DIVERGED_SCORE, is_accuracy, score_diverged
from neuroevo.data.prepare import SPLITS

EARLY, BUDGET = "early_stopping", "equal_budget"
ARMS = (EARLY, BUDGET)
ARM_TITLES = {
    EARLY: "Early stopping",
    BUDGET: "Equal budget",
}
SCORES = tuple(f"{split}_{measure}" for split in SPLITS for measure in ("loss", "acc"))
# A summary's budget_* field -> the early-stopping arm's name for the same quantity.
BUDGET_COLUMNS = {
    "budget_status": "status",
    "budget_epoch": "epochs",
    "budget_train_time_s": "train_time_s",
    "budget_wall_time_s": "wall_time_s",
    **{f"budget_{name}": name for name in ("flops", "sample_evals", "model_evals", "grad_evals", *SCORES)},
}
# The equal-budget arm's statuses: the budget was spent, or the run diverged before it.
BUDGET_STATUS = {"reached": "budget", DIVERGED: DIVERGED}


def has_budget(runs: pd.DataFrame) -> pd.Series:
    """Per run, whether it had a FLOP budget (its summary holds the equal-budget arm)."""
    if "budget_status" not in runs:
        return pd.Series(False, index=runs.index)
    return runs["budget_status"].notna()


def budget_end(runs: pd.DataFrame) -> np.ndarray:
    """Per run, the FLOPs its equal-budget arm goes on to: training.budget_flops (B) x the top
    multiple of training.budget_multiples (1 without a ladder); NaN without a budget."""
    base = pd.to_numeric(runs["training.budget_flops"], errors="coerce").to_numpy(float)
    if "training.budget_multiples" not in runs:
        return base
    top = [
        max(multiples) if isinstance(multiples, (list, tuple, np.ndarray)) and len(multiples) else 1.0
        for multiples in runs["training.budget_multiples"]
    ]
    return base * np.asarray(top, dtype=float)


def arm_runs(runs: pd.DataFrame, arm: str) -> pd.DataFrame:
    """The runs table as `arm` sees it: the early-stopping arm is the table itself; the
    equal-budget arm keeps the runs with a budget, its budget_* values under the plain names,
    and scores a run that diverged before the budget's end 0 in every accuracy (budget_best_*
    too: neuroevo.analysis.diverged), never the accuracy of the model it blew up with."""
    if arm == EARLY:
        return runs
    if arm != BUDGET:
        raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")
    budgeted = runs[has_budget(runs)]
    if not len(budgeted):
        return runs.iloc[0:0]  # no run had a budget: the arm is empty
    view = budgeted.drop(columns=[name for name in BUDGET_COLUMNS.values() if name in budgeted])
    view = view.rename(columns=BUDGET_COLUMNS)
    view["status"] = view["status"].map(BUDGET_STATUS)
    return score_diverged(view).reset_index(drop=True)


def arm_histories(runs: pd.DataFrame, histories: pd.DataFrame, arm: str) -> pd.DataFrame:
    """The history rows inside `arm`: of the early-stopping arm those up to its last epoch (the
    run may have gone on to its FLOP budget); of the equal-budget arm those within the budget,
    then a row at the budget's end (the model read there, mid-epoch; for a run that diverged,
    its last model's losses with accuracies of 0, as arm_runs scores it, charged the whole
    budget in FLOPs: with a ladder, B x the top multiple, budget_end)."""
    keys = ["dataset", "optimizer", "seed"]
    if arm == EARLY:
        ends = runs[keys + ["epochs"]]
        merged = histories.merge(ends, on=keys, how="inner")
        return merged[merged["epoch"] <= merged["epochs"]].drop(columns="epochs").reset_index(drop=True)
    budgeted = runs[has_budget(runs)]
    merged = histories.merge(budgeted[keys + ["budget_flops"]], on=keys, how="inner")
    within = merged[merged["flops"] <= merged["budget_flops"]].drop(columns="budget_flops")
    ends = pd.DataFrame(
        {
            **{key: budgeted[key] for key in keys},
            "epoch": budgeted["budget_epoch"],
            "wall_s": budgeted["budget_wall_time_s"],
            "train_s": budgeted["budget_train_time_s"],
            **{name: budgeted[f"budget_{name}"] for name in ("flops", "sample_evals", "model_evals", "grad_evals")},
            **{name: budgeted[f"budget_{name}"] for name in SCORES},
        }
    )
    # A run that diverged before the budget is charged all of it, as a run that ran it out
    # without reaching a target is: stopping by diverging must not look cheap.
    diverged = (budgeted["budget_status"] == DIVERGED).to_numpy()
    if "training.budget_flops" in budgeted and diverged.any():
        ends.loc[diverged, "flops"] = budget_end(budgeted)[diverged]
    for name in [name for name in SCORES if is_accuracy(name)]:
        ends[name] = ends[name].astype(float).where(~diverged, DIVERGED_SCORE)
    rows = pd.concat([within, ends], ignore_index=True)
    return rows.sort_values([*keys, "flops", "epoch"], kind="stable").reset_index(drop=True)


def best_so_far(history: pd.DataFrame, column: str = "val_acc") -> pd.Series:
    """The running maximum of `column` over one run's rows in their order: an anytime curve
    that a run carries to the end of its budget (no run drops out of the median)."""
    return history[column].cummax()
