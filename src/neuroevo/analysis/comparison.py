"""A discovery study's comparison (the write-up's section 5; its runs are described in
neuroevo.config.discovery): loading its runs and the GA's summary, and testing the
optimizers' fitness against the best, overall (per seed, the mean over tasks) and per task.
The section that shows them is neuroevo.report.discovery_section."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neuroevo.analysis.runs import SETTING_KEYS, load_runs, only_groups, read_json_object
from neuroevo.analysis.stats import compare_with_best

COLUMNS = ("status", "fitness", "final_val_acc", "final_train_loss", "test_acc", "steps", "train_time_s")


def load_comparison(summary_paths: list[str | Path]) -> pd.DataFrame:
    """One row per run (task, optimizer, seed) from .../comparison/TASK/OPTIMIZER/SEED/summary.json,
    with its hyperparameters as columns (neuroevo.analysis.runs)."""
    paths = [Path(path) for path in summary_paths]
    runs = only_groups(load_runs(paths, ("optimizer", "seed", *COLUMNS, "hyperparameters")), ["hyperparameters"])
    runs.insert(0, "task", [path.parents[2].name for path in paths])
    settings = [column for column in runs.columns if column.startswith("hyperparameters.")]
    return runs[["task", "optimizer", "seed", *COLUMNS, *settings, SETTING_KEYS]]


def load_discovery_summary(discovery_dir: str | Path) -> dict:
    """The GA's summary.json, refused by name if damaged."""
    path = Path(discovery_dir) / "summary.json"
    # The GA's folder also holds the comparison runs: redo the GA alone, never delete the folder.
    return read_json_object(
        path,
        ("best_fitness", "generations", "best_per_task"),
        "discovery summary",
        f"rerun the discovery with snakemake --forcerun {path}",
    )


def fitness_tests(
    runs: pd.DataFrame, optimizers: list[str], tasks: list[str], alpha: float, test: str = "wilcoxon"
) -> tuple[dict[str, dict[str, pd.Series]], dict[str, dict[str, dict]], list[str]]:
    """Per column ("overall", then each task): each optimizer's fitness by seed, and its
    comparison with the column's best (neuroevo.analysis.stats.compare_with_best); and the
    names the tests could not reach alpha for."""
    overall = runs.pivot_table(index=["optimizer", "seed"], columns="task", values="fitness").dropna()
    empty = pd.Series(dtype=float)
    overall_samples = {name: overall.loc[name].mean(axis=1) if name in overall.index else empty for name in optimizers}
    columns = {"overall": overall_samples}
    for task in tasks:
        by_task = runs[runs["task"] == task]
        columns[task] = {
            name: by_task[by_task["optimizer"] == name].set_index("seed")["fitness"] for name in optimizers
        }
    # An optimizer can be bold in a column only if some of its runs there did not diverge.
    sound = runs[runs["status"] != "diverged"]
    eligible = {"overall": set(sound["optimizer"])} | {
        task: set(sound[sound["task"] == task]["optimizer"]) for task in tasks
    }
    tests = {
        column: compare_with_best(samples, False, alpha, test, eligible[column]) for column, samples in columns.items()
    }
    untestable = sorted(
        {
            name
            for results in tests.values()
            for name, result in results.items()
            if not result["testable"] and not result["is_best"]
        }
    )
    return columns, tests, untestable
