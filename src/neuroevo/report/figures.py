"""The report's figures and cost tables, from the aggregate's tables (runs and histories):

- cost curves: per dataset, validation accuracy against sample evaluations and against wall
  time, the median over seeds as a line and the interquartile range as a band;
- cost to target (COCO's runtime-to-target): per dataset and optimizer, the fraction of seeds
  whose validation accuracy reaches the dataset's target, and the median sample evaluations
  and seconds they needed;
- boxplots of final test accuracy per dataset;
- ranks across datasets: the Friedman test over blocks (dataset, seed) of test accuracy, and a
  critical-difference diagram of the mean ranks with Nemenyi post-hoc tests (scikit-posthocs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare

from neuroevo.report.plots import curve_points, median_band, plt

COST_AXES = (("sample_evals", "sample evaluations"), ("wall_s", "wall time (s)"))


def _save(figure, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)


def plot_cost_curves(dataset: str, histories: pd.DataFrame, out: Path) -> None:
    """Validation accuracy against sample evaluations and against wall time, one panel each."""
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.0), layout="constrained", sharey=True)
    for axes, (x, label) in zip(panels, COST_AXES):
        for optimizer, runs in histories.groupby("optimizer", sort=False):
            band = median_band([curve_points(run, x, "val_acc") for _, run in runs.groupby("seed")])
            band = band[band["x"] > 0]  # the initial model has no place on a log axis
            if not len(band):
                continue
            (line,) = axes.plot(band["x"], band["median"], label=optimizer, marker="o" if len(band) <= 30 else None, markersize=3)
            axes.fill_between(band["x"], band["q25"], band["q75"], color=line.get_color(), alpha=0.2, linewidth=0)
        axes.set(xscale="log", xlabel=label, title=f"{dataset}: validation accuracy by {label.split(' (')[0]}")
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("validation accuracy")
    panels[0].legend(fontsize="small")
    _save(figure, out)


def plot_test_accuracy_boxes(dataset: str, runs: pd.DataFrame, out: Path) -> None:
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    figure, axes = plt.subplots(figsize=(1.1 * len(optimizers) + 2, 4.0), layout="constrained")
    axes.boxplot([runs.loc[runs["optimizer"] == name, "test_acc"] for name in optimizers], tick_labels=optimizers, showfliers=False)
    for index, name in enumerate(optimizers, start=1):  # every seed shown, so a bimodal spread is visible
        values = runs.loc[runs["optimizer"] == name, "test_acc"]
        axes.scatter(np.full(len(values), index) + np.linspace(-0.08, 0.08, len(values)), values, s=10, alpha=0.6)
    axes.set(ylabel="test accuracy", title=f"{dataset}: final test accuracy over seeds")
    axes.grid(alpha=0.3, axis="y")
    _save(figure, out)


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
        rows.append({
            "dataset": dataset,
            "optimizer": optimizer,
            "target_val_acc": target,
            "n_seeds": len(group),
            "n_reached": len(costs),
            "median_sample_evals": float(np.median([cost[0] for cost in costs])) if costs else float("nan"),
            "median_seconds": float(np.median([cost[1] for cost in costs])) if costs else float("nan"),
        })
    return pd.DataFrame(rows)


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
    summary = {"metric": metric, "blocks": int(table.shape[0]), "statistic": float(statistic), "p_value": float(p_value)}
    return summary, ranks.sort_values(), nemenyi


def plot_critical_difference(ranks: pd.Series, nemenyi: pd.DataFrame, alpha: float, out: Path) -> None:
    import scikit_posthocs

    figure, axes = plt.subplots(figsize=(8, 0.45 * len(ranks) + 1.5), layout="constrained")
    if len(ranks):
        scikit_posthocs.critical_difference_diagram(ranks, nemenyi, alpha=alpha, ax=axes)
        axes.set_title("Mean rank of test accuracy over (dataset, seed) blocks; bars join optimizers Nemenyi cannot separate", fontsize="small")
    else:
        axes.text(0.5, 0.5, "fewer than 3 optimizers or 2 blocks: no rank test", ha="center", va="center")
        axes.set_axis_off()
    _save(figure, out)


def write_report_figures(
    summary_dir: str | Path, out_dir: str | Path, alpha: float = 0.05, target_fraction: float = 0.95, targets: dict | None = None
) -> None:
    """Figures in out_dir (DATASET_cost.png, DATASET_test_acc.png, critical_difference.png) and
    summary_dir/cost_to_target.parquet (and .csv) and ranks.parquet."""
    summary_dir, out_dir = Path(summary_dir), Path(out_dir)
    runs = pd.read_parquet(summary_dir / "runs.parquet")
    histories = pd.read_parquet(summary_dir / "histories.parquet")
    costs = []
    for dataset, by_dataset in runs.groupby("dataset", sort=False):
        dataset_histories = histories[histories["dataset"] == dataset]
        plot_cost_curves(dataset, dataset_histories, out_dir / f"{dataset}_cost.png")
        plot_test_accuracy_boxes(dataset, by_dataset, out_dir / f"{dataset}_test_acc.png")
        target = dataset_target(by_dataset, target_fraction, (targets or {}).get(dataset))
        costs.append(cost_to_target(dataset, by_dataset, dataset_histories, target))
    costs = pd.concat(costs, ignore_index=True)
    costs.to_parquet(summary_dir / "cost_to_target.parquet", index=False)
    costs.to_csv(summary_dir / "cost_to_target.csv", index=False)  # for Snakemake's HTML report
    summary, ranks, nemenyi = rank_tests(runs)
    plot_critical_difference(ranks, nemenyi, alpha, out_dir / "critical_difference.png")
    rows = [{**summary, "optimizer": name, "mean_rank": float(rank)} for name, rank in ranks.items()]
    pd.DataFrame(rows, columns=["metric", "blocks", "statistic", "p_value", "optimizer", "mean_rank"]).to_parquet(summary_dir / "ranks.parquet", index=False)
