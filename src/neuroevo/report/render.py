"""Render the Markdown report from the aggregate tables. Which cells are highlighted is
decided here and the cells are written by neuroevo.report.cells; the Jinja template only
loops and formats."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from neuroevo.analysis.aggregate import METRICS
from neuroevo.analysis.runs import read_json_object, read_table, settings
from neuroevo.analysis.stats import TEST_NAMES
from neuroevo.files.versions import git_commit, package_versions
from neuroevo.report.cells import marked, mean_std, number, p_value
from neuroevo.report.study_section import rebased

EFFECT_METRIC = "test_acc"  # the metric whose effects table sits under each dataset's table


def effects_rows(dataset_tests: pd.DataFrame) -> list[dict]:
    """The effects table under a dataset's table: each optimizer against the best on test
    accuracy; p of both tests (raw and Holm-corrected), A12 and the CI of the difference."""
    rows = []
    for optimizer, test in dataset_tests.loc[EFFECT_METRIC].iterrows():
        if test["is_best"]:
            continue
        rows.append(
            {
                "optimizer": optimizer,
                "pairs": int(test["n_pairs"]),
                "p_wilcoxon": f"{p_value(test['p_wilcoxon_holm'])} ({p_value(test['p_wilcoxon'])})",
                "p_mann_whitney": f"{p_value(test['p_mann_whitney_holm'])} ({p_value(test['p_mann_whitney'])})",
                "a12": number(test["a12"], 2),
                "difference": f"{number(test['difference'], 3)} [{number(test['ci_low'], 3)}, {number(test['ci_high'], 3)}]",
            }
        )
    return rows


def cost_rows(costs: pd.DataFrame) -> list[dict]:
    return [
        {
            "optimizer": row["optimizer"],
            "reached": f"{row['n_reached']}/{row['n_seeds']}",
            "sample_evals": "-" if math.isnan(row["median_sample_evals"]) else f"{row['median_sample_evals']:,.0f}",
            "seconds": number(row["median_seconds"], 3),
        }
        for _, row in costs.iterrows()
    ]


def dataset_tables(metrics: pd.DataFrame, tests: pd.DataFrame, costs: pd.DataFrame | None = None) -> list[dict]:
    """Per dataset: header, one row of cells per optimizer, the notes on the tests, the
    effects table and the cost-to-target table."""
    tables = []
    for dataset, rows in metrics.groupby("dataset", sort=False):
        dataset_tests = tests[tests["dataset"] == dataset].set_index(["metric", "optimizer"])
        table_rows = []
        for _, row in rows.iterrows():
            cells = []
            for metric in METRICS:
                test = dataset_tests.loc[(metric.name, row["optimizer"])]
                cells.append(
                    marked(
                        mean_std(row[f"{metric.name}_mean"], row[f"{metric.name}_std"]),
                        test["is_best"],
                        test["tied_with_best"],
                    )
                )
            runs = f"{row['n_runs']}" + (f" ({row['n_diverged']} diverged)" if row["n_diverged"] else "")
            table_rows.append({"optimizer": row["optimizer"], "runs": runs, "cells": cells})
        untestable = dataset_tests[~dataset_tests["testable"] & ~dataset_tests["is_best"]]
        untestable_optimizers = sorted(set(untestable.index.get_level_values("optimizer")))
        dataset_costs = costs[costs["dataset"] == dataset] if costs is not None else pd.DataFrame()
        tables.append(
            {
                "dataset": dataset,
                "header": [metric.label for metric in METRICS],
                "rows": table_rows,
                "seeds": sorted(set(rows["n_runs"])),
                "alpha": float(tests["alpha"].iloc[0]) if len(tests) else 0.05,
                "test_name": TEST_NAMES[tests["test"].iloc[0]] if len(tests) else "",
                "paired": len(tests) > 0 and tests["test"].iloc[0] == "wilcoxon",
                "untestable": untestable_optimizers,
                "effects": effects_rows(dataset_tests),
                "target": float(dataset_costs["target_val_acc"].iloc[0]) if len(dataset_costs) else None,
                "costs": cost_rows(dataset_costs),
                "hyperparameters": [
                    {"optimizer": row["optimizer"], "values": dict(sorted(settings(row, "hyperparameters").items()))}
                    for _, row in rows.iterrows()
                ],
            }
        )
    return tables


# What the report reads of each tuning result; a result without them is refused by name.
TUNING_KEYS = ("dataset", "optimizer", "tuned_values", "n_trials", "n_pruned", "objective", "objective_name")


def tuning_tables(tuning_paths: list[str | Path]) -> dict[str, list[dict]]:
    """Per dataset: each tuned optimizer's best values, trial counts and objective."""
    by_dataset: dict[str, list[dict]] = {}
    for path in tuning_paths:
        result = read_json_object(path, TUNING_KEYS, "tuning result")
        by_dataset.setdefault(result["dataset"], []).append(
            {
                "optimizer": result["optimizer"],
                "values": {
                    key: number(value) if isinstance(value, float) else value
                    for key, value in result["tuned_values"].items()
                },
                "n_trials": result["n_trials"],
                "n_pruned": result["n_pruned"],
                "objective": number(result["objective"]),
                "objective_name": result["objective_name"],
            }
        )
    return by_dataset


def config_hash(config: dict) -> str:
    """A short fingerprint of the resolved config: equal hashes, equal settings."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def render_report(
    summary_dir: str | Path,
    template: str | Path,
    config: dict,
    out: str | Path,
    source_dir: str | Path = ".",
    tuning_paths: list[str | Path] = (),
    study_paths: list[str | Path] = (),
    figures_dir: str | Path | None = None,
    command: str = "",
) -> None:
    """`study_paths`: study.md sections, included in order with their links made relative to
    `out`; `figures_dir`: the report's figures (report_figures), linked when present;
    `command`: the command that regenerates the report, printed in its header."""
    summary_dir, out = Path(summary_dir), Path(out)
    runs = read_table(summary_dir / "runs.parquet")
    metrics = read_table(summary_dir / "metrics.parquet")
    tests = pd.read_parquet(summary_dir / "tests.parquet")
    costs_path, ranks_path = summary_dir / "cost_to_target.parquet", summary_dir / "ranks.parquet"
    costs = pd.read_parquet(costs_path) if costs_path.exists() else None
    ranks = pd.read_parquet(ranks_path) if ranks_path.exists() else pd.DataFrame()

    def figure(name):
        return (
            os.path.relpath(Path(figures_dir) / name, out.parent)
            if figures_dir and (Path(figures_dir) / name).exists()
            else None
        )

    template = Path(template)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    context = {
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(source_dir),
        "versions": package_versions(),
        "devices": sorted(runs["device"].unique()),
        "n_runs": len(runs),
        "n_diverged": int((runs["status"] == "diverged").sum()),
        "config_yaml": yaml.safe_dump(config, sort_keys=False).rstrip(),
        "config_hash": config_hash(config),
        "command": command,
        "tables": dataset_tables(metrics, tests, costs),
        "figure": figure,
        "ranks": ranks.to_dict("records"),
        "friedman": ranks.iloc[0].to_dict() if len(ranks) else None,
        "tuning": tuning_tables(list(tuning_paths)),
        "studies": [rebased(Path(path).read_text(), Path(path).parent, Path(out).parent) for path in study_paths],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(environment.get_template(template.name).render(**context))
