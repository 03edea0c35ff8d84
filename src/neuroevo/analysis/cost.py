"""Cost to target (COCO's runtime-to-target): per dataset, optimizer and target validation
accuracy, the seeds that reach it, the median cost of those that do, and COCO's average
runtime (aRT), which charges every run that does not reach the target the whole cost it
spent, so that failures are not hidden; and the runtime ECDF (the fraction of (run, target)
pairs reached by each cost) that COCO and AlgoPerf plot.

A run that diverged reaches no target (neuroevo.analysis.diverged), whatever its history showed
before it diverged: the rows up to the divergence may well be above the target, but the run
ends with no model that is, and stopping by blowing up must not count as success. It is
charged its whole cost as every run that misses the target is (in the equal-budget arm the
whole budget in FLOPs: neuroevo.analysis.arms.arm_histories), and counted (n_diverged)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuroevo.analysis.diverged import diverged_keys, is_diverged

# History column -> the name of its aRT and median columns in a cost table: forward-equivalent
# FLOPs, sample evaluations and seconds in optimizer steps (what the runs tables call time).
COSTS = {"flops": "flops", "sample_evals": "sample_evals", "train_s": "seconds"}


def dataset_target(runs: pd.DataFrame, target_fraction: float, target: float | None) -> float:
    """The configured target, else target_fraction of the best median final val accuracy."""
    if target is not None:
        return float(target)
    return float(target_fraction * runs.groupby("optimizer")["val_acc"].median().max())


def average_runtime(costs: list[float | None], spent: list[float]) -> float:
    """COCO's aRT of a set of runs: the cost to the target of the runs that reach it (`costs[i]`)
    plus the whole cost `spent[i]` of those that do not (`costs[i]` None), over the number of
    runs that reach it; infinite when none does."""
    if len(costs) != len(spent):
        raise ValueError(f"one cost and one spent cost per run: got {len(costs)} and {len(spent)}")
    reached = [cost for cost in costs if cost is not None]
    if not reached:
        return float("inf")
    total = sum(reached) + sum(whole for cost, whole in zip(costs, spent, strict=True) if cost is None)
    return float(total / len(reached))


def _first_reaching(histories: pd.DataFrame, target: float, diverged: set[tuple] = frozenset()) -> pd.DataFrame:
    """Per (optimizer, seed), the first row (in cost order) at or above `target` val accuracy;
    none of the runs in `diverged` (their (optimizer, seed)): a diverged run reaches nothing."""
    at_target = histories[histories["val_acc"] >= target]
    if diverged:
        keys = pd.MultiIndex.from_frame(at_target[["optimizer", "seed"]])
        at_target = at_target[~keys.isin(list(diverged))]
    return (
        at_target.sort_values(["epoch", "flops"] if "flops" in at_target else "epoch")
        .groupby(["optimizer", "seed"])
        .first()
    )


def cost_to_target(
    dataset: str, runs: pd.DataFrame, histories: pd.DataFrame, target: float | list[float]
) -> pd.DataFrame:
    """Per optimizer and target: seeds that reach `target` validation accuracy (one or a list),
    the median cost to the first row that does (among the seeds that reach it) and the aRT, in
    each cost of COSTS the histories have, and the runs that diverged (n_diverged: they reach
    no target, whatever their histories show; `runs`' status says which). A run's whole cost
    is that of its last row."""
    targets = [target] if np.isscalar(target) else list(target)
    columns = {column: name for column, name in COSTS.items() if column in histories}
    order = ["epoch", "flops"] if "flops" in histories else ["epoch"]
    spent = histories.sort_values(order).groupby(["optimizer", "seed"]).last()
    diverged = diverged_keys(runs)
    rows = []
    for value in targets:
        reached = _first_reaching(histories, value, diverged)
        for optimizer, group in runs.groupby("optimizer", sort=False):
            keys = [(optimizer, seed) for seed in group["seed"] if (optimizer, seed) in spent.index]
            successes = [key for key in keys if key in reached.index]
            row = {
                "dataset": dataset,
                "optimizer": optimizer,
                "target_val_acc": float(value),
                "n_seeds": len(group),
                "n_reached": len(successes),
                "n_diverged": int(is_diverged(group["status"]).sum()) if "status" in group else 0,
            }
            for column, name in columns.items():
                costs = [float(reached.loc[key, column]) for key in successes]
                row[f"median_{name}"] = float(np.median(costs)) if costs else float("nan")
                row[f"art_{name}"] = average_runtime(
                    [float(reached.loc[key, column]) if key in reached.index else None for key in keys],
                    [float(spent.loc[key, column]) for key in keys],
                )
            rows.append(row)
    return pd.DataFrame(rows)


def runtime_ecdf(
    histories: pd.DataFrame, targets: list[float], cost: str = "flops", runs: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Per optimizer, COCO's runtime ECDF: the cost (x) at which each (run, target) pair is
    first reached, and the fraction of all its pairs reached by then (y); pairs never reached
    stay out of the numerator, so a curve ends below 1 when some are missed. A run that
    `runs` says diverged reaches no target (its pairs count, never reached)."""
    diverged = diverged_keys(runs) if runs is not None else set()
    curves = {}
    for optimizer, rows in histories.groupby("optimizer", sort=False):
        n_pairs = rows["seed"].nunique() * len(targets)
        hits = []
        for value in targets:
            reached = _first_reaching(rows, value, diverged)
            hits.extend(reached[cost].astype(float).tolist())
        x = np.sort(np.asarray(hits, dtype=float))
        curves[optimizer] = pd.DataFrame({"x": x, "fraction": np.arange(1, len(x) + 1) / max(n_pairs, 1)})
    return curves
