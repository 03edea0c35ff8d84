"""The main report's figure set (the report-figures command), from the aggregate's tables
(runs and histories); the plotting primitives they share with the study figures are in
neuroevo.report.plots.

- cost curves: per dataset, validation accuracy against sample evaluations and against wall
  time, the median over seeds as a line and the interquartile range as a band;
- boxplots of final test accuracy per dataset;
- a critical-difference diagram of the mean ranks across datasets with Nemenyi post-hoc tests.

The command also writes the tables these figures come with, computed in neuroevo.analysis:
cost to target (analysis.cost) and the Friedman ranks (analysis.ranks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neuroevo.analysis.cost import cost_to_target, dataset_target
from neuroevo.analysis.ranks import rank_tests, ranks_table
from neuroevo.analysis.runs import read_table
from neuroevo.report.plots import curve_points, median_band, plt, save

COST_AXES = (("sample_evals", "sample evaluations"), ("wall_s", "wall time (s)"))


def plot_cost_curves(dataset: str, histories: pd.DataFrame, out: Path) -> None:
    """Validation accuracy against sample evaluations and against wall time, one panel each."""
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.0), layout="constrained", sharey=True)
    for axes, (x, label) in zip(panels, COST_AXES, strict=True):
        for optimizer, runs in histories.groupby("optimizer", sort=False):
            band = median_band([curve_points(run, x, "val_acc") for _, run in runs.groupby("seed")])
            band = band[band["x"] > 0]  # the initial model has no place on a log axis
            if not len(band):
                continue
            (line,) = axes.plot(
                band["x"], band["median"], label=optimizer, marker="o" if len(band) <= 30 else None, markersize=3
            )
            axes.fill_between(band["x"], band["q25"], band["q75"], color=line.get_color(), alpha=0.2, linewidth=0)
        axes.set(xscale="log", xlabel=label, title=f"{dataset}: validation accuracy by {label.split(' (')[0]}")
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("validation accuracy")
    panels[0].legend(fontsize="small")
    save(figure, out)


def plot_test_accuracy_boxes(dataset: str, runs: pd.DataFrame, out: Path) -> None:
    optimizers = list(dict.fromkeys(runs["optimizer"]))
    figure, axes = plt.subplots(figsize=(1.1 * len(optimizers) + 2, 4.0), layout="constrained")
    axes.boxplot(
        [runs.loc[runs["optimizer"] == name, "test_acc"] for name in optimizers],
        tick_labels=optimizers,
        showfliers=False,
    )
    for index, name in enumerate(optimizers, start=1):  # every seed shown, so a bimodal spread is visible
        values = runs.loc[runs["optimizer"] == name, "test_acc"]
        axes.scatter(np.full(len(values), index) + np.linspace(-0.08, 0.08, len(values)), values, s=10, alpha=0.6)
    axes.set(ylabel="test accuracy", title=f"{dataset}: final test accuracy over seeds")
    axes.grid(alpha=0.3, axis="y")
    save(figure, out)


def plot_critical_difference(ranks: pd.Series, nemenyi: pd.DataFrame, alpha: float, out: Path) -> None:
    import scikit_posthocs

    figure, axes = plt.subplots(figsize=(8, 0.45 * len(ranks) + 1.5), layout="constrained")
    if len(ranks):
        scikit_posthocs.critical_difference_diagram(ranks, nemenyi, alpha=alpha, ax=axes)
        axes.set_title(
            "Mean rank of test accuracy over (dataset, seed) blocks; bars join optimizers Nemenyi cannot separate",
            fontsize="small",
        )
    else:
        axes.text(0.5, 0.5, "fewer than 3 optimizers or 2 blocks: no rank test", ha="center", va="center")
        axes.set_axis_off()
    save(figure, out)


def write_report_figures(
    summary_dir: str | Path,
    out_dir: str | Path,
    alpha: float = 0.05,
    target_fraction: float = 0.95,
    targets: dict | None = None,
) -> None:
    """Figures in out_dir (DATASET_cost.png, DATASET_test_acc.png, critical_difference.png) and
    summary_dir/cost_to_target.parquet (and .csv) and ranks.parquet."""
    summary_dir, out_dir = Path(summary_dir), Path(out_dir)
    runs = read_table(summary_dir / "runs.parquet")
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
    ranks_table(summary, ranks).to_parquet(summary_dir / "ranks.parquet", index=False)
