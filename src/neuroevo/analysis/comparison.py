"""A discovery study's comparison (the write-up's section 5; its runs are described in
neuroevo.config.discovery): loading its runs and the GA's summary, and the verdicts. The score
is the test accuracy of the last model after max_steps; each rule (`evolved`, `evolved_prior`)
is tested against the best default and the best tuned baseline of the task, picked on the
validation accuracy of the last model (not the test accuracy it is then compared on), with the
paired tests of neuroevo.analysis.verdict, Holm-corrected over the task's pairs. A diverged run
scores 0, in what picks the reference as in the score (neuroevo.analysis.diverged: the rule of
the equal-budget arm too), and is counted in each verdict row. The section that shows them is
neuroevo.report.discovery_section."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neuroevo.analysis.diverged import score_diverged
from neuroevo.analysis.runs import SETTING_KEYS, load_runs, only_groups, read_json_object
from neuroevo.analysis.verdict import diverged_columns, paired_verdicts

COLUMNS = (
    "status",
    "final_test_acc",
    "final_val_acc",
    "fitness",
    "final_train_loss",
    "test_acc",
    "steps",
    "train_time_s",
)
SCORE = "final_test_acc"  # the last model's, on the test split
SELECTION = "final_val_acc"  # what picks a task's reference baseline
RULES = ("evolved", "evolved_prior")


def load_comparison(summary_paths: list[str | Path]) -> pd.DataFrame:
    """One row per run (task, label, seed) from .../comparison/TASK/LABEL/SEED/summary.json (the
    label: the optimizer, or NAME_tuned), with its hyperparameters as columns."""
    paths = [Path(path) for path in summary_paths]
    runs = only_groups(load_runs(paths, ("optimizer", "seed", *COLUMNS, "hyperparameters")), ["hyperparameters"])
    runs.insert(0, "task", [path.parents[2].name for path in paths])
    runs.insert(1, "label", [path.parents[1].name for path in paths])
    settings = [column for column in runs.columns if column.startswith("hyperparameters.")]
    return runs[["task", "label", "optimizer", "seed", *COLUMNS, *settings, SETTING_KEYS]]


def best_by_validation(runs: pd.DataFrame, labels: list[str]) -> str | None:
    """Of `labels`, the one of the highest median validation accuracy of the last model (a
    diverged run's 0; then mean, then order); None if none ran."""
    mine = runs[runs["label"].isin(labels)]
    if not len(mine):
        return None
    # A diverged run's last scored epoch stands for it in final_val_acc: it selects as 0, as it scores.
    mine = score_diverged(mine)
    by = mine.groupby("label", sort=False)[SELECTION]
    table = pd.DataFrame({"median": by.median(), "mean": by.mean()}).reindex(
        [x for x in labels if x in set(mine["label"])]
    )
    return str(table.sort_values(["median", "mean"], ascending=False, kind="stable").index[0])


def task_verdicts(
    runs: pd.DataFrame, task: str, defaults: list[str], tuned: list[str], margin: float, alpha: float
) -> list[dict]:
    """Each rule of the task's runs against its best default and its best tuned baseline, on the
    last model's test accuracy paired by seed (neuroevo.analysis.verdict.paired_verdicts), a
    diverged run scoring 0, the diverged runs of both sides counted."""
    mine = score_diverged(runs[runs["task"] == task])
    rules = [rule for rule in RULES if rule in set(mine["label"])]
    references = [
        (kind, best)
        for kind, group in (("default", defaults), ("tuned", tuned))
        if (best := best_by_validation(mine, group))
    ]
    if not rules or not references:
        return []
    by_seed = mine.pivot_table(index="seed", columns="label", values=SCORE)
    pairs = [(rule, reference) for rule in rules for _, reference in references]
    kinds = dict((reference, kind) for kind, reference in references)
    rows = paired_verdicts(by_seed, pairs, margin, alpha)
    return [
        {
            "task": task,
            **row,
            "reference_kind": kinds[row["reference"]],
            **diverged_columns(mine, row["optimizer"], row["reference"], by="label"),
        }
        for row in rows
    ]


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
