"""Ranks across datasets (Demsar 2006): the Friedman test over per-dataset aggregates (one
block per dataset, never per seed: the population the test speaks of is datasets), the mean
rank of each optimizer, Nemenyi post-hoc p-values (scikit-posthocs) and the critical
difference of the report's CD diagram; only with at least MIN_DATASETS datasets, since with
fewer no pair of optimizers could ever be told apart."""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import friedmanchisquare, studentized_range

from neuroevo.config.defaults import MIN_RANK_DATASETS

RANK_COLUMNS = ["metric", "blocks", "statistic", "p_value", "critical_difference", "optimizer", "mean_rank"]
MIN_DATASETS = MIN_RANK_DATASETS


def critical_difference(k: int, n: int, alpha: float) -> float:
    """Nemenyi's critical difference of mean ranks for k optimizers over n datasets:
    q_alpha (the studentized range over sqrt 2) x sqrt(k (k + 1) / (6 n))."""
    q = studentized_range.ppf(1 - alpha, k, math.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def per_dataset_means(runs: pd.DataFrame, metric: str = "test_acc") -> pd.DataFrame:
    """The blocks of the test across datasets: the mean of `metric` per dataset (rows) and
    optimizer (columns), over the datasets every optimizer ran."""
    return runs.groupby(["dataset", "optimizer"], sort=False)[metric].mean().unstack().dropna()


def absence_reason(table: pd.DataFrame) -> str:
    """Why there is no test across datasets of these blocks ("" when there is one)."""
    if table.shape[1] >= 3 and table.shape[0] >= MIN_DATASETS:
        return ""
    return (
        f"{table.shape[0]} dataset(s) that every optimizer ran and {table.shape[1]} optimizer(s): the test across "
        f"datasets needs at least {MIN_DATASETS} datasets (their means are its blocks; with fewer no pair of "
        f"optimizers can be told apart) and 3 optimizers"
    )


def rank_tests(
    runs: pd.DataFrame, metric: str = "test_acc", alpha: float = 0.05
) -> tuple[dict, pd.Series, pd.DataFrame, str]:
    """Friedman over the per-dataset means of `metric` (datasets every optimizer ran), mean
    ranks (1 = best), the Nemenyi post-hoc p-values and, when there is no test, why:
    ({}, empty, empty, reason) with fewer than 3 optimizers or MIN_DATASETS datasets."""
    import scikit_posthocs

    table = per_dataset_means(runs, metric)
    reason = absence_reason(table)
    if reason:
        return {}, pd.Series(dtype=float), pd.DataFrame(), reason
    statistic, p_value = friedmanchisquare(*[table[name].to_numpy() for name in table.columns])
    ranks = table.rank(axis=1, ascending=False).mean()
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(table.to_numpy())
    nemenyi.index = nemenyi.columns = table.columns
    summary = {
        "metric": metric,
        "blocks": int(table.shape[0]),
        "statistic": float(statistic),
        "p_value": float(p_value),
        "critical_difference": critical_difference(table.shape[1], table.shape[0], alpha),
    }
    return summary, ranks.sort_values(), nemenyi, ""


def ranks_table(summary: dict, ranks: pd.Series) -> pd.DataFrame:
    """ranks.parquet: one row per optimizer, its mean rank and the Friedman test's result
    (no rows when there was no test)."""
    rows = [{**summary, "optimizer": name, "mean_rank": float(rank)} for name, rank in ranks.items()]
    return pd.DataFrame(rows, columns=RANK_COLUMNS)
