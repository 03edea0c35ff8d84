"""All finished runs -> one table of runs, per-optimizer statistics, and significance tests.

Only the summaries passed in are read (the rule passes the runs of the current config),
so runs left over from an earlier config never mix in. The tables keep a run's settings as
columns (hyperparameters.lr, training.batch_size, versions.torch: neuroevo.analysis.runs);
read them with read_table, which gives every value back as it was. The ladder's rungs (a
summary's `rungs`) go to a table of their own, rungs.parquet (neuroevo.analysis.ladder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from neuroevo.analysis.arms import ARMS, arm_runs
from neuroevo.analysis.diverged import DIVERGED, is_diverged
from neuroevo.analysis.ladder import rung_table
from neuroevo.analysis.runs import SETTING_KEYS, load_histories, load_summary, runs_table, settings_frame, write_table
from neuroevo.analysis.stats import compare_with_best


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    lower_is_better: bool
    # Compared: highlighted and tested. Time and work are not: a run that stops first is not
    # "best" at anything, and counts of work are the protocol's, not a result.
    compared: bool = True
    # The summary key of the split an accuracy counts examples of: its resolution is 1 / that.
    resolution_of: str | None = None


# The prior study's table columns, in its order, with epochs and FLOPs.
METRICS = [
    Metric("epochs", "epochs", True, compared=False),
    Metric("train_time_s", "time (s)", True, compared=False),
    Metric("train_loss", "train loss", True),
    Metric("train_acc", "train acc", False, resolution_of="n_train"),
    Metric("val_loss", "val loss", True),
    Metric("val_acc", "val acc", False, resolution_of="n_val"),
    Metric("test_loss", "test loss", True),
    Metric("test_acc", "test acc", False, resolution_of="n_test"),
    Metric("flops", "FLOPs", True, compared=False),
    Metric("model_evals", "model evals", True, compared=False),
    Metric("grad_evals", "grad evals", True, compared=False),
]
COMPARED = [metric for metric in METRICS if metric.compared]
STATUSES = ("completed", "early_stopped", "budget", DIVERGED)
# What the tables and the report read of each run; a summary without them is refused by name.
RUN_KEYS = ("dataset", "optimizer", "optimizer_kind", "seed", "status", "device", *(metric.name for metric in METRICS))


def mean_resolution(group: pd.DataFrame, metric: Metric) -> float | None:
    """The smallest difference two means over these runs' seeds can show in `metric`: one
    example of the split over the number of seeds (None: a continuous metric, or runs that do
    not say their split's size)."""
    if metric.resolution_of is None or metric.resolution_of not in group or group[metric.resolution_of].isna().any():
        return None
    return 1.0 / (float(group[metric.resolution_of].max()) * group.groupby("optimizer").size().max())


def optimizer_statistics(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of every metric, per dataset x optimizer, with run counts and
    the hyperparameters of its first run (hyperparameters.KEY columns, as in the runs table)."""
    rows = []
    for (dataset, optimizer), group in runs.groupby(["dataset", "optimizer"], sort=False):
        row = {
            "dataset": dataset,
            "optimizer": optimizer,
            "n_runs": len(group),
            "n_diverged": int(is_diverged(group["status"]).sum()),
            **{f"n_{status}": int((group["status"] == status).sum()) for status in STATUSES},
        }
        for metric in METRICS:
            values = group[metric.name].astype(float)
            row[f"{metric.name}_mean"] = values.mean()
            row[f"{metric.name}_std"] = values.std(ddof=1) if len(values) > 1 else float("nan")
        first = group.iloc[0]
        names = [name for name in first[SETTING_KEYS] if name.startswith("hyperparameters.")]
        rows.append(row | {name: first[name] for name in names} | {SETTING_KEYS: names})
    return settings_frame(rows)


def significance_tests(runs: pd.DataFrame, alpha: float, test: str = "wilcoxon") -> pd.DataFrame:
    """Per dataset and metric: the best optimizer by mean against each other one, by the
    Wilcoxon signed-rank test on seed pairs and by Mann-Whitney U, Holm-corrected within the
    dataset x metric family, with A12 and the bootstrap CI of the median difference; `test`
    says which test decides `tied_with_best` (neuroevo.analysis.stats.compare_with_best). Means
    equal at the data's resolution (mean_resolution) are co-best. Only compared metrics."""
    rows = []
    for dataset, by_dataset in runs.groupby("dataset", sort=False):
        groups = {name: group.set_index("seed") for name, group in by_dataset.groupby("optimizer", sort=False)}
        eligible = {name for name, group in groups.items() if not is_diverged(group["status"]).all()}
        for metric in COMPARED:
            samples = {name: group[metric.name] for name, group in groups.items()}
            resolution = mean_resolution(by_dataset, metric)
            compared = compare_with_best(samples, metric.lower_is_better, alpha, test, eligible, resolution)
            for name, result in compared.items():
                rows.append(
                    {
                        "dataset": dataset,
                        "metric": metric.name,
                        "optimizer": name,
                        **result,
                        "test": test,
                        "n_best": len(samples[result["best"]]) if result["best"] else 0,
                        "n": len(samples[name]),
                        "alpha": alpha,
                    }
                )
    return pd.DataFrame(rows)


def aggregate(
    summary_paths: list[str | Path], out_dir: str | Path, alpha: float = 0.05, test: str = "wilcoxon"
) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = [load_summary(path, RUN_KEYS) for path in summary_paths]
    runs = runs_table(summaries)
    write_table(runs, out_dir / "runs.parquet")
    rung_table(summaries, summary_paths).to_parquet(out_dir / "rungs.parquet", index=False)
    load_histories(summary_paths).to_parquet(out_dir / "histories.parquet", index=False)
    metrics, tests = [], []
    for arm in ARMS:  # each arm's rows, an `arm` column telling them apart
        view = arm_runs(runs, arm)
        if len(view):
            metrics += [row | {"arm": arm} for row in optimizer_statistics(view).to_dict("records")]
            tests += [row | {"arm": arm} for row in significance_tests(view, alpha, test).to_dict("records")]
    for name, table in (("metrics", settings_frame(metrics)), ("tests", pd.DataFrame(tests))):
        write_table(table, out_dir / f"{name}.parquet", out_dir / f"{name}.csv")  # the CSV for Snakemake's HTML report
