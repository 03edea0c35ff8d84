"""The main report's figure set (the report-figures command), from the aggregate's tables
(runs and histories); the plotting primitives they share with the study figures are in
neuroevo.report.plots. Every optimizer has one colour in all of them (plots.colour).

- anytime curves: per dataset, of the equal-budget arm, each run's best-so-far validation
  accuracy against forward-equivalent FLOPs and against seconds, carried to the end of its
  budget (no run drops out); without a budget, the early-stopping arm's validation accuracy
  over the runs still going;
- boxplots of test accuracy per dataset, one panel per arm;
- runtime ECDFs (COCO): the fraction of (run, target) pairs reached by each FLOP cost (a
  diverged run reaches no target: neuroevo.analysis.diverged);
- Dolan-More performance profiles across datasets (at least 3 with a budget);
- a critical-difference diagram of mean ranks across datasets (at least 5);
- per dataset with a budget ladder, test accuracy at each rung against the rung's multiple of
  B, with each evolutionary optimizer's equal-budget parity rung and the plateau reference's
  plateau +- delta marked.

The command also writes the tables these figures come with, computed in neuroevo.analysis:
cost to target at several targets (analysis.cost), the ladder verdicts and the parity
multiples (analysis.ladder, analysis.parity) and the Friedman ranks (analysis.ranks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neuroevo.analysis.arms import BUDGET, EARLY, arm_histories, arm_runs, best_so_far, has_budget
from neuroevo.analysis.cost import cost_to_target, dataset_target, runtime_ecdf
from neuroevo.analysis.ladder import ladder_verdicts
from neuroevo.analysis.parity import parity_table
from neuroevo.analysis.ranks import rank_tests, ranks_table
from neuroevo.analysis.runs import read_table
from neuroevo.config.defaults import MIN_PROFILE_DATASETS, MIN_RANK_DATASETS
from neuroevo.report.plots import colour, curve_points, median_band, plt, save

ANYTIME_AXES = (("flops", "forward-equivalent FLOPs"), ("train_s", "seconds in optimizer steps"))
EARLY_AXES = (("flops", "forward-equivalent FLOPs"), ("wall_s", "wall time (s)"))
PARITY_MARKS = ("dataset", "optimizer", "parity_multiple", "plateau_reference", "plateau_test_acc")


def _carried(run: pd.DataFrame, x: str, end: float) -> pd.DataFrame:
    """One run's best-so-far validation accuracy by x, held flat from its last row to `end`."""
    points = pd.DataFrame({"x": run[x].astype(float), "y": best_so_far(run).astype(float)}).sort_values("x")
    if end > points["x"].iloc[-1]:
        points = pd.concat([points, pd.DataFrame({"x": [end], "y": [points["y"].iloc[-1]]})], ignore_index=True)
    return points


def plot_cost_curves(dataset: str, histories: pd.DataFrame, out: Path, anytime: bool) -> None:
    """Two panels, by FLOPs and by seconds. `anytime`: the equal-budget arm's best-so-far
    curves, every run carried to the last x any run of the dataset reached; else the
    early-stopping arm's validation accuracy, the median over the runs still going."""
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.0), layout="constrained", sharey=True)
    for axes, (x, label) in zip(panels, ANYTIME_AXES if anytime else EARLY_AXES, strict=True):
        end = float(histories[x].max())
        for optimizer, runs in histories.groupby("optimizer", sort=False):
            per_run = [
                _carried(run, x, end) if anytime else curve_points(run, x, "val_acc") for _, run in runs.groupby("seed")
            ]
            band = median_band(per_run)
            band = band[band["x"] > 0]  # the initial model has no place on a log axis
            if not len(band):
                continue
            axes.plot(band["x"], band["median"], label=optimizer, color=colour(optimizer))
            axes.fill_between(band["x"], band["q25"], band["q75"], color=colour(optimizer), alpha=0.2, linewidth=0)
        axes.set(xscale="log", xlabel=label)
        axes.grid(alpha=0.3)
    what = "best-so-far validation accuracy (equal budget)" if anytime else "validation accuracy (runs still going)"
    panels[0].set_ylabel("best-so-far validation accuracy" if anytime else "validation accuracy")
    figure.suptitle(f"{dataset}: {what}; median and interquartile range over seeds", fontsize="medium")
    panels[0].legend(fontsize="small")
    save(figure, out)


def plot_test_accuracy_boxes(dataset: str, arms: dict[str, pd.DataFrame], out: Path) -> None:
    """Test accuracy per optimizer over seeds, one panel per arm, every seed drawn."""
    optimizers = list(dict.fromkeys(arms[EARLY]["optimizer"]))
    figure, panels = plt.subplots(
        1, len(arms), figsize=(1.1 * len(optimizers) * len(arms) + 2, 4.0), layout="constrained", sharey=True
    )
    for axes, (arm, runs) in zip(np.atleast_1d(panels), arms.items(), strict=True):
        values = [runs.loc[runs["optimizer"] == name, "test_acc"] for name in optimizers]
        boxes = axes.boxplot(values, tick_labels=optimizers, showfliers=False, patch_artist=True)
        for box, name in zip(boxes["boxes"], optimizers, strict=True):
            box.set(facecolor=colour(name), alpha=0.35)
        for index, (name, seeds) in enumerate(zip(optimizers, values, strict=True), start=1):
            spread = np.linspace(-0.08, 0.08, len(seeds))
            axes.scatter(np.full(len(seeds), index) + spread, seeds, s=10, color=colour(name))
        axes.set(
            xlabel="optimizer", title="equal budget: model at the budget's end" if arm == BUDGET else "early stopping"
        )
        axes.tick_params(axis="x", labelrotation=30)
        axes.grid(alpha=0.3, axis="y")
    np.atleast_1d(panels)[0].set_ylabel("test accuracy")
    figure.suptitle(f"{dataset}: test accuracy over seeds", fontsize="medium")
    save(figure, out)


def plot_runtime_ecdf(
    dataset: str, histories: pd.DataFrame, targets: list[float], out: Path, runs: pd.DataFrame | None = None
) -> None:
    """The runtime ECDF of each optimizer; a run that `runs` says diverged reaches no target."""
    figure, axes = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for optimizer, curve in runtime_ecdf(histories, targets, runs=runs).items():
        x = np.concatenate([curve["x"], [histories["flops"].max()]])
        y = np.concatenate([curve["fraction"], [curve["fraction"].iloc[-1] if len(curve) else 0.0]])
        axes.step(x, y, where="post", label=optimizer, color=colour(optimizer))
    shown = ", ".join(f"{target:.3f}" for target in targets)
    axes.set(
        xscale="log",
        xlabel="forward-equivalent FLOPs",
        ylabel="fraction of (run, target) pairs reached",
        ylim=(0, 1.02),
        title=f"{dataset}: runtime ECDF, val accuracy targets {shown}",
    )
    axes.title.set_fontsize("small")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    save(figure, out)


def performance_profile(costs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Dolan-More profiles: per optimizer, the fraction of datasets (y) on which its aRT in
    FLOPs is within a factor tau (x) of the best optimizer's there; never within when it
    never reached the target."""
    table = costs.pivot_table(index="dataset", columns="optimizer", values="art_flops", aggfunc="first")
    ratios = table.div(table.min(axis=1), axis=0)
    profiles = {}
    for optimizer in table.columns:
        finite = np.sort(ratios[optimizer][np.isfinite(ratios[optimizer])].to_numpy())
        profiles[optimizer] = pd.DataFrame({"tau": finite, "fraction": np.arange(1, len(finite) + 1) / len(table)})
    return profiles


def plot_performance_profile(costs: pd.DataFrame, out: Path) -> None:
    figure, axes = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    profiles = performance_profile(costs)
    largest = max([profile["tau"].max() for profile in profiles.values() if len(profile)] + [1.0])
    for optimizer, profile in profiles.items():
        x = np.concatenate([[1.0], profile["tau"], [largest * 2]])
        y = np.concatenate([[0.0], profile["fraction"], [profile["fraction"].iloc[-1] if len(profile) else 0.0]])
        axes.step(x, y, where="post", label=optimizer, color=colour(optimizer))
    n = costs["dataset"].nunique()
    axes.set(
        xscale="log",
        xlabel="tau: aRT in FLOPs within this factor of the dataset's best",
        ylabel=f"fraction of the {n} datasets",
        ylim=(0, 1.02),
        title="Performance profiles (Dolan-More), equal budget, aRT to each dataset's target",
    )
    axes.title.set_fontsize("small")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    save(figure, out)


def plot_critical_difference(
    ranks: pd.Series, nemenyi: pd.DataFrame, summary: dict, reason: str, alpha: float, out: Path
) -> None:
    import scikit_posthocs

    figure, axes = plt.subplots(figsize=(8, 0.45 * len(ranks) + 2.0), layout="constrained")
    if reason:  # the workflow expects the file: it says why there is no diagram
        axes.text(0.5, 0.5, f"no rank test: {reason}", ha="center", va="center", wrap=True, fontsize="small")
        axes.set_axis_off()
        save(figure, out)
        return
    colours = {name: colour(name) for name in ranks.index}
    scikit_posthocs.critical_difference_diagram(ranks, nemenyi, alpha=alpha, ax=axes, color_palette=colours)
    cd = summary["critical_difference"]
    low = float(ranks.min())
    axes.plot([low, low + cd], [1.08, 1.08], color="black", transform=axes.get_xaxis_transform(), clip_on=False)
    axes.text(low + cd, 1.08, f"  CD = {cd:.2f}", ha="left", va="center", transform=axes.get_xaxis_transform())
    axes.set_xlabel("mean rank of per-dataset mean test accuracy (1 = best)")
    axes.set_title(
        f"Friedman over {summary['blocks']} datasets; bars join optimizers Nemenyi cannot separate",
        fontsize="small",
        pad=28,
    )
    save(figure, out)


def _rung_quartiles(rows: pd.DataFrame) -> pd.DataFrame:
    """Per rung (index: multiple) the 25th, 50th and 75th percentile of test accuracy over seeds."""
    quartiles = rows.groupby("multiple")["test_acc"].quantile([0.25, 0.5, 0.75]).unstack()
    return quartiles.sort_index()


def plot_ladder(dataset: str, rungs: pd.DataFrame, parity: pd.DataFrame, margin: float, out: Path) -> None:
    """Test accuracy along the budget ladder (x: the rung's multiple of B, log): per optimizer
    the median over seeds at each rung (markers) and the interquartile band (gradient ones
    dashed), the rungs as vertical lines, each evolutionary optimizer's equal-budget parity rung
    as a star, and the plateau reference's median plateau test accuracy +- delta as a grey band."""
    figure, axes = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    multiples = sorted(float(value) for value in rungs["multiple"].unique())
    for multiple in multiples:
        axes.axvline(multiple, color="0.8", linewidth=0.8, zorder=0)
    plateau = parity.dropna(subset=["plateau_reference"]).head(1)
    if len(plateau):
        reference, level = plateau["plateau_reference"].iloc[0], float(plateau["plateau_test_acc"].iloc[0])
        label = f"{reference}'s best on the ladder {level:.3f} ± δ"
        axes.axhspan(level - margin, level + margin, color="0.5", alpha=0.25, linewidth=0, label=label, zorder=0)
    parity_rungs = dict(zip(parity["optimizer"], parity["parity_multiple"], strict=True))
    starred = False
    for optimizer, rows in rungs.groupby("optimizer", sort=False):
        quartiles, tint = _rung_quartiles(rows), colour(optimizer)
        style = "--" if (rows["optimizer_kind"] == "gradient").all() else "-"
        axes.plot(quartiles.index, quartiles[0.5], style, marker="o", markersize=4, label=optimizer, color=tint)
        axes.fill_between(quartiles.index, quartiles[0.25], quartiles[0.75], color=tint, alpha=0.2, linewidth=0)
        if len(quartiles) == 1:  # no band to draw from one rung: its interquartile range as a bar
            axes.vlines(quartiles.index, quartiles[0.25], quartiles[0.75], color=tint, alpha=0.5)
        at = parity_rungs.get(optimizer)
        if at is not None and np.isfinite(at) and float(at) in quartiles.index:
            axes.plot([at], [quartiles.loc[float(at), 0.5]], "*", markersize=15, color=tint, markeredgecolor="black")
            starred = True
    if starred:  # one legend entry for every star
        axes.plot([], [], "*", markersize=12, color="white", markeredgecolor="black", label="equal-budget parity")
    axes.set_xscale("log")
    axes.set_xticks(multiples, [f"{value:g}x" for value in multiples])
    axes.xaxis.set_minor_locator(plt.NullLocator())
    if len(multiples) == 1:
        axes.set_xlim(multiples[0] / 2, multiples[0] * 2)
    base = float((rungs["mark_flops"] / rungs["multiple"]).iloc[0])
    axes.set(
        xlabel=f"budget as a multiple of B (B = {base:.3g} forward-equivalent FLOPs per run)", ylabel="test accuracy"
    )
    axes.set_title(
        f"{dataset}: test accuracy at each rung of the budget ladder; median and interquartile range over seeds",
        fontsize="small",
    )
    axes.grid(alpha=0.3, axis="y")
    axes.legend(fontsize="small")
    save(figure, out)


def ladder_tables(
    rungs: pd.DataFrame, margin: float, alpha: float, budgets: dict[str, dict], costs: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ladder verdicts and the parity table (neuroevo.analysis.ladder, .parity); both empty without rungs."""
    if not len(rungs):
        return pd.DataFrame(), pd.DataFrame()
    verdicts = ladder_verdicts(rungs, margin, alpha, budgets, costs)
    return verdicts, parity_table(rungs, verdicts, budgets, margin, alpha)


def _write(table: pd.DataFrame, summary_dir: Path, name: str) -> None:
    table.to_parquet(summary_dir / f"{name}.parquet", index=False)
    table.to_csv(summary_dir / f"{name}.csv", index=False)  # for Snakemake's HTML report


def write_report_figures(
    summary_dir: str | Path,
    out_dir: str | Path,
    alpha: float = 0.05,
    target_fraction: float = 0.95,
    targets: dict | None = None,
    margin: float = 0.01,
    runtime_targets: list[float] = (0.8, 0.9, 0.95, 0.98),
    budgets: dict[str, dict] | None = None,
) -> None:
    """Figures in out_dir (neuroevo.config.workflow.report_figure_names says which), and in
    summary_dir cost_to_target, verdicts (the ladder's, from rungs.parquet), parity (.parquet
    and .csv each) and ranks (.parquet). `budgets`: dataset -> its budget file's dict
    (neuroevo.analysis.budget_rule), for how B was set and the reference's own cost to its plateau."""
    summary_dir, out_dir = Path(summary_dir), Path(out_dir)
    runs = read_table(summary_dir / "runs.parquet")
    histories = pd.read_parquet(summary_dir / "histories.parquet")
    rungs_path = summary_dir / "rungs.parquet"
    rungs = pd.read_parquet(rungs_path) if rungs_path.exists() else pd.DataFrame(columns=["dataset"])
    costs, main_costs = [], []
    for dataset, by_dataset in runs.groupby("dataset", sort=False):
        dataset_histories = histories[histories["dataset"] == dataset]
        arms = {EARLY: by_dataset}
        budgeted = bool(has_budget(by_dataset).all())
        if budgeted:
            arms[BUDGET] = arm_runs(by_dataset, BUDGET)
        plot_test_accuracy_boxes(dataset, arms, out_dir / f"{dataset}_test_acc.png")
        for arm, arm_table in arms.items():
            arm_rows = arm_histories(by_dataset, dataset_histories, arm)
            target = dataset_target(arm_table, target_fraction, (targets or {}).get(dataset))
            fractions = [target_fraction] if arm == EARLY else sorted({*runtime_targets, target_fraction})
            values = (
                [target]
                if arm == EARLY or dataset in (targets or {})
                else [target * f / target_fraction for f in fractions]
            )
            table = cost_to_target(dataset, arm_table, arm_rows, values).assign(arm=arm)
            table["main_target"] = np.isclose(table["target_val_acc"], target)
            costs.append(table)
            if arm == BUDGET:
                main_costs.append(table[table["main_target"]])
                plot_runtime_ecdf(dataset, arm_rows, values, out_dir / f"{dataset}_ecdf.png", arm_table)
        anytime = BUDGET in arms
        shown = arm_histories(by_dataset, dataset_histories, BUDGET if anytime else EARLY)
        plot_cost_curves(dataset, shown, out_dir / f"{dataset}_cost.png", anytime)
    _write(pd.concat(costs, ignore_index=True), summary_dir, "cost_to_target")
    art = pd.concat(main_costs, ignore_index=True) if main_costs else None
    verdicts, parity = ladder_tables(rungs, margin, alpha, budgets or {}, art)
    _write(verdicts, summary_dir, "verdicts")
    _write(parity, summary_dir, "parity")
    for dataset, dataset_rungs in rungs.groupby("dataset", sort=False):
        mine = parity[parity["dataset"] == dataset] if len(parity) else pd.DataFrame(columns=PARITY_MARKS)
        plot_ladder(dataset, dataset_rungs, mine, margin, out_dir / f"{dataset}_ladder.png")
    if len(main_costs) >= MIN_PROFILE_DATASETS:
        plot_performance_profile(pd.concat(main_costs, ignore_index=True), out_dir / "performance_profile.png")
    ranked = arm_runs(runs, BUDGET) if has_budget(runs).all() else runs
    summary, ranks, nemenyi, reason = rank_tests(ranked, alpha=alpha)
    if runs["dataset"].nunique() >= MIN_RANK_DATASETS:
        plot_critical_difference(ranks, nemenyi, summary, reason, alpha, out_dir / "critical_difference.png")
    ranks_table(summary, ranks).to_parquet(summary_dir / "ranks.parquet", index=False)
