"""Ranks across datasets: the Friedman test over blocks (dataset, seed) of one metric, the
mean rank of each optimizer, and Nemenyi post-hoc p-values (scikit-posthocs) for the
critical-difference diagram of the report."""

from __future__ import annotations

import pandas as pd
from scipy.stats import friedmanchisquare

RANK_COLUMNS = ["metric", "blocks", "statistic", "p_value", "optimizer", "mean_rank"]


def rank_tests(runs: pd.DataFrame, metric: str = "test_acc") -> tuple[dict, pd.Series, pd.DataFrame]:
    """Friedman over the blocks (dataset, seed) that every optimizer ran, mean ranks (1 =
    best) and the Nemenyi post-hoc p-values; ({} , empty, empty) with fewer than 3
    optimizers or 2 blocks."""
    import scikit_posthocs

    table = runs.pivot_table(index=["dataset", "seed"], columns="optimizer", values=metric).dropna()
    if table.shape[1] < 3 or table.shape[0] < 2:
        return {}, pd.Series(dtype=float), pd.DataFrame()
    statistic, p_value = friedmanchisquare(*[table[name].to_numpy() for name in table.columns])
    ranks = table.rank(axis=1, ascending=False).mean()
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(table.to_numpy())
    nemenyi.index = nemenyi.columns = table.columns
    summary = {
        "metric": metric,
        "blocks": int(table.shape[0]),
        "statistic": float(statistic),
        "p_value": float(p_value),
    }
    return summary, ranks.sort_values(), nemenyi


def ranks_table(summary: dict, ranks: pd.Series) -> pd.DataFrame:
    """ranks.parquet: one row per optimizer, its mean rank and the Friedman test's result
    (no rows when there was no test)."""
    rows = [{**summary, "optimizer": name, "mean_rank": float(rank)} for name, rank in ranks.items()]
    return pd.DataFrame(rows, columns=RANK_COLUMNS)
