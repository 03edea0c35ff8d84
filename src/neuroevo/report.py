"""Render the Markdown report from the aggregate tables. Numbers and highlighting are
decided here; the Jinja template only loops and formats."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from neuroevo.aggregate import METRICS
from neuroevo.study_report import rebased
from neuroevo.versions import git_commit, package_versions


def _number(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _cell(mean: float, std: float, is_best: bool, tied: bool) -> str:
    text = _number(mean) if math.isnan(std) else f"{_number(mean)} ± {_number(std, 2)}"
    if is_best:
        return f"**{text}**"
    return f"{text} †" if tied else text


def dataset_tables(metrics: pd.DataFrame, tests: pd.DataFrame) -> list[dict]:
    """Per dataset: header, one row of cells per optimizer, and the notes on the tests."""
    tables = []
    for dataset, rows in metrics.groupby("dataset", sort=False):
        dataset_tests = tests[tests["dataset"] == dataset].set_index(["metric", "optimizer"])
        table_rows = []
        for _, row in rows.iterrows():
            cells = []
            for metric in METRICS:
                test = dataset_tests.loc[(metric.name, row["optimizer"])]
                cells.append(_cell(row[f"{metric.name}_mean"], row[f"{metric.name}_std"], test["is_best"], test["tied_with_best"]))
            runs = f"{row['n_runs']}" + (f" ({row['n_diverged']} diverged)" if row["n_diverged"] else "")
            table_rows.append({"optimizer": row["optimizer"], "runs": runs, "cells": cells})
        untestable = dataset_tests[~dataset_tests["testable"] & ~dataset_tests["is_best"]]
        untestable_optimizers = sorted(set(untestable.index.get_level_values("optimizer")))
        tables.append({
            "dataset": dataset,
            "header": [metric.label for metric in METRICS],
            "rows": table_rows,
            "seeds": sorted(set(rows["n_runs"])),
            "alpha": float(tests["alpha"].iloc[0]) if len(tests) else 0.05,
            "untestable": untestable_optimizers,
            "hyperparameters": [
                {"optimizer": row["optimizer"], "values": json.loads(row["hyperparameters"])} for _, row in rows.iterrows()
            ],
        })
    return tables


def tuning_tables(tuning_paths: list[str | Path]) -> dict[str, list[dict]]:
    """Per dataset: each tuned optimizer's best values, trial counts and objective."""
    by_dataset: dict[str, list[dict]] = {}
    for path in tuning_paths:
        result = json.loads(Path(path).read_text())
        by_dataset.setdefault(result["dataset"], []).append({
            "optimizer": result["optimizer"],
            "values": {key: _number(value) if isinstance(value, float) else value for key, value in result["tuned_values"].items()},
            "n_trials": result["n_trials"],
            "n_pruned": result["n_pruned"],
            "objective": _number(result["objective"]),
            "objective_name": result["objective_name"],
        })
    return by_dataset


def render_report(
    summary_dir: str | Path,
    template: str | Path,
    config: dict,
    out: str | Path,
    source_dir: str | Path = ".",
    tuning_paths: list[str | Path] = (),
    study_paths: list[str | Path] = (),
) -> None:
    """`study_paths`: study.md sections, included in order with their links made relative to `out`."""
    summary_dir = Path(summary_dir)
    runs = pd.read_parquet(summary_dir / "runs.parquet")
    metrics = pd.read_parquet(summary_dir / "metrics.parquet")
    tests = pd.read_parquet(summary_dir / "tests.parquet")
    template = Path(template)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    context = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(source_dir),
        "versions": package_versions(),
        "devices": sorted(runs["device"].unique()),
        "n_runs": len(runs),
        "n_diverged": int((runs["status"] == "diverged").sum()),
        "config_yaml": yaml.safe_dump(config, sort_keys=False).rstrip(),
        "tables": dataset_tables(metrics, tests),
        "tuning": tuning_tables(list(tuning_paths)),
        "studies": [rebased(Path(path).read_text(), Path(path).parent, Path(out).parent) for path in study_paths],
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(environment.get_template(template.name).render(**context))
