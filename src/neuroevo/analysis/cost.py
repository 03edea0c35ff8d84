"""Cost to target (COCO's runtime-to-target): per dataset and optimizer, the seeds whose
validation accuracy reaches the dataset's target, the median sample evaluations and seconds
they needed to reach it, and COCO's average runtime (aRT), which charges every run that does
not reach the target the whole cost it spent, so that failures are not hidden."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def cost_to_target(dataset: str, runs: pd.DataFrame, histories: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per optimizer: seeds that reach `target` validation accuracy, and the median sample
    evaluations and seconds to the first epoch that does (among the seeds that reach it)."""
    # The first epoch at or above the target, per (optimizer, seed): one pass over the histories.
    reached = histories[histories["val_acc"] >= target].sort_values("epoch").groupby(["optimizer", "seed"]).first()
    spent = histories.sort_values("epoch").groupby(["optimizer", "seed"]).last()  # a run's whole cost
    rows = []
    for optimizer, group in runs.groupby("optimizer", sort=False):
        costs = [
            (reached.loc[(optimizer, seed), "sample_evals"], reached.loc[(optimizer, seed), "wall_s"])
            for seed in group["seed"]
            if (optimizer, seed) in reached.index
        ]
        art = {}
        for column, name in (("sample_evals", "art_sample_evals"), ("wall_s", "art_seconds")):
            keys = [(optimizer, seed) for seed in group["seed"] if (optimizer, seed) in spent.index]
            art[name] = average_runtime(
                [reached.loc[key, column] if key in reached.index else None for key in keys],
                [spent.loc[key, column] for key in keys],
            )
        rows.append(
            {
                "dataset": dataset,
                "optimizer": optimizer,
                "target_val_acc": target,
                "n_seeds": len(group),
                "n_reached": len(costs),
                "median_sample_evals": float(np.median([cost[0] for cost in costs])) if costs else float("nan"),
                "median_seconds": float(np.median([cost[1] for cost in costs])) if costs else float("nan"),
                **art,
            }
        )
    return pd.DataFrame(rows)
