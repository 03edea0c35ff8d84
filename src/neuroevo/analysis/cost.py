"""Cost to target (COCO's runtime-to-target): per dataset and optimizer, the seeds whose
validation accuracy reaches the dataset's target, and the median sample evaluations and
seconds they needed to reach it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def dataset_target(runs: pd.DataFrame, target_fraction: float, target: float | None) -> float:
    """The configured target, else target_fraction of the best median final val accuracy."""
    if target is not None:
        return float(target)
    return float(target_fraction * runs.groupby("optimizer")["val_acc"].median().max())


def cost_to_target(dataset: str, runs: pd.DataFrame, histories: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per optimizer: seeds that reach `target` validation accuracy, and the median sample
    evaluations and seconds to the first epoch that does (among the seeds that reach it)."""
    # The first epoch at or above the target, per (optimizer, seed): one pass over the histories.
    reached = histories[histories["val_acc"] >= target].sort_values("epoch").groupby(["optimizer", "seed"]).first()
    rows = []
    for optimizer, group in runs.groupby("optimizer", sort=False):
        costs = [
            (reached.loc[(optimizer, seed), "sample_evals"], reached.loc[(optimizer, seed), "wall_s"])
            for seed in group["seed"]
            if (optimizer, seed) in reached.index
        ]
        rows.append(
            {
                "dataset": dataset,
                "optimizer": optimizer,
                "target_val_acc": target,
                "n_seeds": len(group),
                "n_reached": len(costs),
                "median_sample_evals": float(np.median([cost[0] for cost in costs])) if costs else float("nan"),
                "median_seconds": float(np.median([cost[1] for cost in costs])) if costs else float("nan"),
            }
        )
    return pd.DataFrame(rows)
