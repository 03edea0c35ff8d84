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
from neuroevo.analysis.arms import ARM_TITLES, ARMS, BUDGET, EARLY, arm_runs, has_budget
from neuroevo.analysis.budget_rule import read_budget
from neuroevo.analysis.diverged import DIVERGED, RULE, diverged_text, is_diverged
from neuroevo.analysis.ranks import absence_reason, per_dataset_means
from neuroevo.analysis.runs import read_json_object, read_table, settings
from neuroevo.analysis.stats import TEST_NAMES
from neuroevo.analysis.verdict import NO_REFERENCE
from neuroevo.config.workflow import tuned
from neuroevo.files.versions import git_commit, package_versions
from neuroevo.report.answer import answers, ladder_table, primary_endpoint, rung
from neuroevo.report.cells import compact, marked, mean_std, number, p_value, verdict_cells
from neuroevo.report.study_section import model_text, rebased

WORK_COLUMNS = ("flops", "model_evals", "grad_evals")
EFFECT_METRIC = "test_acc"  # the metric whose effects table sits under each dataset's table
STATUS_WORDS = {"completed": "max epochs", "early_stopped": "patience", "budget": "budget", DIVERGED: "diverged"}
ARM_PROTOCOLS = {
    EARLY: (
        "each run stops when its validation loss has not improved by min_delta for `patience` epochs (or at "
        "max_epochs); reported: the model with the best validation loss, and the work spent until the stop (a run "
        "that diverged first: its best model before the divergence, counted as diverged; it reaches no target)"
    ),
    BUDGET: (
        "every run goes on to the same budget of forward-equivalent FLOPs, whatever its patience; reported: the "
        "model at the end of the budget (the step that spends it; the overshoot is less than one step) and the work "
        f"spent; no early stopping; {RULE}, and reaches no target"
    ),
}


def _work(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else compact(value)


def effects_rows(dataset_tests: pd.DataFrame) -> list[dict]:
    """The effects table under an arm's table: each optimizer against the best on test
    accuracy; p of both tests (raw and Holm-corrected), A12 and the CI of the difference."""
    rows = []
    for optimizer, test in dataset_tests.loc[EFFECT_METRIC].iterrows():
        if test["best"] == optimizer or test["best"] is None or pd.isna(test.get("n_pairs")):
            continue  # the best itself, or a dataset where no optimizer could be the best
        rows.append(
            {
                "optimizer": optimizer,
                "pairs": f"{int(test['n_pairs'])} ({int(test['n_nonzero_pairs'])} non-zero)",
                "p_wilcoxon": f"{p_value(test['p_wilcoxon_holm'])} ({p_value(test['p_wilcoxon'])})",
                "p_mann_whitney": f"{p_value(test['p_mann_whitney_holm'])} ({p_value(test['p_mann_whitney'])})",
                "a12": number(test["a12"], 2),
                "difference": f"{number(test['difference'], 3)} [{number(test['ci_low'], 3)}, {number(test['ci_high'], 3)}]",
                "testable": "yes" if test["testable"] else "no",
            }
        )
    return rows


def cost_rows(costs: pd.DataFrame) -> tuple[list[float], list[dict]]:
    """The targets of an arm's cost table, and per optimizer a cell per target: seeds reaching
    it and the aRT in FLOPs and in seconds; the optimizer's cell says "k of n diverged" when
    some of its runs did (they reach no target: neuroevo.analysis.cost)."""
    targets = sorted(costs["target_val_acc"].unique())
    rows = []
    for optimizer, group in costs.groupby("optimizer", sort=False):
        by_target = group.set_index("target_val_acc")
        cells = []
        for target in targets:
            row = by_target.loc[target]
            art = (
                "never"
                if math.isinf(row["art_flops"])
                else f"{_work(row['art_flops'])} / {number(row['art_seconds'], 3)} s"
            )
            cells.append(f"{row['n_reached']}/{row['n_seeds']}: {art}")
        first = group.iloc[0]
        diverged = int(first["n_diverged"]) if "n_diverged" in group and pd.notna(first["n_diverged"]) else 0
        note = diverged_text(diverged, int(first["n_seeds"]))
        rows.append({"optimizer": optimizer + (f" ({note})" if note else ""), "cells": cells})
    return targets, rows


def _status(row) -> str:
    counts = [(STATUS_WORDS[status], int(row.get(f"n_{status}", 0) or 0)) for status in STATUS_WORDS]
    return ", ".join(f"{count} {word}" for word, count in counts if count)


def arm_table(rows: pd.DataFrame, tests: pd.DataFrame, costs: pd.DataFrame, arm: str) -> dict:
    """One arm's table of a dataset: a row of cells per optimizer (compared columns marked,
    time and work plain), its status counts, the notes on the tests, effects and costs."""
    table_rows = []
    for _, row in rows.iterrows():
        cells = []
        for metric in METRICS:
            mean, std = row[f"{metric.name}_mean"], row[f"{metric.name}_std"]
            if not metric.compared:
                cells.append(_work(mean) if metric.name in WORK_COLUMNS else mean_std(mean, std))
                continue
            test = tests.loc[(metric.name, row["optimizer"])]
            cells.append(marked(mean_std(mean, std), test["is_best"], test["tied_with_best"], test["testable"]))
        table_rows.append(
            {"optimizer": row["optimizer"], "runs": f"{row['n_runs']}", "status": _status(row), "cells": cells}
        )
    untestable = tests[~tests["testable"] & ~tests["is_best"]]
    targets, cost_table = cost_rows(costs) if len(costs) else ([], [])
    return {
        "arm": arm,
        "title": ARM_TITLES[arm],
        "test_name": TEST_NAMES[tests["test"].iloc[0]] if len(tests) else "",
        "protocol": ARM_PROTOCOLS[arm],
        "rows": table_rows,
        "seeds": sorted(set(rows["n_runs"])),
        "untestable": sorted(set(untestable.index.get_level_values("optimizer"))),
        "effects": effects_rows(tests),
        "targets": targets,
        "costs": cost_table,
    }


def verdict_rows(verdicts: pd.DataFrame) -> list[dict]:
    """The verdict tables' rows: every entry with its rung (a ladder verdict's multiple of B,
    "-" for a table without), n, the test, p, delta, the effect with its interval ("k of n
    diverged" with the test accuracies of a side with diverged runs) and the cost ratios."""
    return [
        {
            "dataset": row["dataset"],
            "rung": rung(row["multiple"]) if "multiple" in row else "-",
            **verdict_cells(row),
            "flops_ratio": "-" if row["verdict"] == NO_REFERENCE else _ratio(row.get("flops_ratio")),
            "seconds_ratio": "-" if row["verdict"] == NO_REFERENCE else _ratio(row.get("seconds_ratio")),
            "target": number(row["target_val_acc"], 3),
            "budget": _work(row["budget_flops"]),
        }
        for _, row in verdicts.iterrows()
    ]


def _ratio(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "- (the reference never reaches the target)"
    return "never reaches the target" if math.isinf(value) else f"{value:.3g}x"


def _best_validation(runs: pd.DataFrame | None, dataset: str, arm: str) -> list[dict]:
    """The equal-budget arm's other reading, labelled apart: per optimizer, the test accuracy
    of the best-validation-loss model within the budget (a diverged run's 0, as the arm scores
    it: arm_runs), and its epoch."""
    if arm != BUDGET or runs is None or "budget_best_test_acc" not in runs:
        return []
    mine = arm_runs(runs[runs["dataset"] == dataset], BUDGET)
    rows = []
    for optimizer, group in mine.groupby("optimizer", sort=False):
        accuracy, epoch = group["budget_best_test_acc"].astype(float), group["budget_best_epoch"].astype(float)
        std = accuracy.std(ddof=1) if len(accuracy) > 1 else math.nan
        rows.append(
            {"optimizer": optimizer, "test_acc": mean_std(accuracy.mean(), std), "epoch": number(epoch.mean(), 3)}
        )
    return rows


def _dataset_budget(runs: pd.DataFrame | None, dataset: str) -> str | None:
    """A dataset's FLOP budget per run, written compactly (None without one)."""
    if runs is None or "training.budget_flops" not in runs:
        return None
    budgets = runs.loc[runs["dataset"] == dataset, "training.budget_flops"].dropna()
    if not len(budgets):
        return None
    try:
        return _work(float(budgets.iloc[0]))
    except (TypeError, ValueError):  # "rule": the number is the budget file's
        return None


def _model(runs: pd.DataFrame | None, dataset: str) -> str | None:
    """The dataset's network as its runs' summaries give it ("CNN (two 3x3 convolutions ...),
    20,490 parameters; 5,000 training examples per run")."""
    if runs is None or "n_parameters" not in runs:
        return None
    first = runs[runs["dataset"] == dataset].iloc[0]
    return (
        f"{model_text(settings(first, 'model'))}, {int(first['n_parameters']):,} parameters; "
        f"{int(first['n_train']):,} training examples per run"
    )


def arm_title(arm: str, budget: str | None, verdicts: pd.DataFrame) -> str:
    """An arm's heading: the early-stopping arm is secondary; the equal-budget arm's tables
    describe its top rung, "Equal budget, top rung (64x B = 1.6G FLOPs per run)" (from the
    dataset's ladder verdicts; the budget alone without them)."""
    if arm == EARLY:
        return f"{ARM_TITLES[EARLY]} (secondary)"
    if len(verdicts) and "multiple" in verdicts:
        top = verdicts.loc[verdicts["multiple"].idxmax()]
        return f"{ARM_TITLES[BUDGET]}, top rung ({rung(top['multiple'])} B = {_work(top['mark_flops'])} FLOPs per run)"
    return ARM_TITLES[BUDGET] + (f" ({budget} FLOPs per run)" if budget else "")


def art_rows(verdicts: pd.DataFrame) -> list[dict]:
    """The secondary cost ratios of a dataset's evolutionary optimizers: aRT to the dataset's
    target validation accuracy over the whole ladder, against the top rung's reference."""
    if not len(verdicts) or "multiple" not in verdicts:
        return []
    top = verdicts[verdicts["multiple"] == verdicts["multiple"].max()]
    return [
        {"optimizer": row["optimizer"], "reference": row["reference"], "target": row["target"]}
        | {"flops_ratio": row["flops_ratio"], "seconds_ratio": row["seconds_ratio"]}
        for row in verdict_rows(top)
    ]


def dataset_tables(
    metrics: pd.DataFrame,
    tests: pd.DataFrame,
    costs: pd.DataFrame | None = None,
    verdicts: pd.DataFrame | None = None,
    runs: pd.DataFrame | None = None,
) -> list[dict]:
    """Per dataset: its ladder verdicts (by rung), the secondary aRT ratios, a table per arm
    (arm_table) and the hyperparameters used."""
    tables = []
    costs = costs if costs is not None else pd.DataFrame(columns=["dataset", "arm"])
    verdicts = verdicts if verdicts is not None and len(verdicts) else pd.DataFrame(columns=["dataset"])
    for dataset, by_dataset in metrics.groupby("dataset", sort=False):
        mine = verdicts[verdicts["dataset"] == dataset]
        if "multiple" in mine:
            mine = mine.sort_values("multiple", kind="stable")
        budget = _dataset_budget(runs, dataset)
        arms = []
        for arm in ARMS:
            rows = by_dataset[by_dataset["arm"] == arm]
            if not len(rows):
                continue
            arm_tests = tests[(tests["dataset"] == dataset) & (tests["arm"] == arm)].set_index(["metric", "optimizer"])
            arm_costs = costs[(costs["dataset"] == dataset) & (costs["arm"] == arm)]
            arms.append(
                arm_table(rows, arm_tests, arm_costs, arm)
                | {"best_validation": _best_validation(runs, dataset, arm), "title": arm_title(arm, budget, mine)}
            )
        early = by_dataset[by_dataset["arm"] == EARLY]
        tables.append(
            {
                "dataset": dataset,
                "header": [metric.label for metric in METRICS],
                "arms": arms,
                "verdicts": verdict_rows(mine),
                "family": int(mine["family"].max()) if len(mine) and "family" in mine else 0,
                "art": art_rows(mine),
                "budget": budget,
                "model": _model(runs, dataset),
                "hyperparameters": [
                    {"optimizer": row["optimizer"], "values": dict(sorted(settings(row, "hyperparameters").items()))}
                    for _, row in early.iterrows()
                ],
            }
        )
    return tables


# What the report reads of each tuning result; a result without them is refused by name.
TUNING_KEYS = ("dataset", "optimizer", "tuned_values", "n_trials", "n_pruned", "objective", "objective_name")


def at_bound(value, distribution: dict) -> str:
    """ "low" or "high" when a tuned value sits within 5% of its search space's range of that
    bound (on the log scale for a log distribution), else ""."""
    if not isinstance(value, int | float) or "low" not in distribution:
        return ""
    low, high = float(distribution["low"]), float(distribution["high"])
    log_scale = distribution["distribution"] == "log_uniform" or distribution.get("log", False)
    if log_scale:
        value, low, high = math.log(value), math.log(low), math.log(high)
    if high <= low:
        return ""
    share = (value - low) / (high - low)
    return "low" if share <= 0.05 else "high" if share >= 0.95 else ""


def tuning_tables(tuning_paths: list[str | Path]) -> dict[str, list[dict]]:
    """Per dataset: each tuned optimizer's best values (flagged at a search-space bound), its
    trial counts (completed, pruned), tuning cost and objective."""
    by_dataset: dict[str, list[dict]] = {}
    for path in tuning_paths:
        result = read_json_object(path, TUNING_KEYS, "tuning result")
        space = result.get("search_space", {})
        values, bounds = {}, []
        for key, value in result["tuned_values"].items():
            bound = at_bound(value, space.get(key, {}))
            bounds += [key] if bound else []
            shown = number(value) if isinstance(value, float) else str(value)
            values[key] = shown + (f" (at the {bound} bound {number(float(space[key][bound]))})" if bound else "")
        by_dataset.setdefault(result["dataset"], []).append(
            {
                "optimizer": result["optimizer"],
                "values": values,
                "dimensions": len(space),
                "n_trials": result["n_trials"],
                "n_complete": result.get("n_complete", result["n_trials"] - result["n_pruned"]),
                "n_pruned": result["n_pruned"],
                "flops": _work(result.get("flops")),
                "sampler_seed": result.get("sampler_seed", "-"),
                "objective": number(result["objective"]),
                "objective_name": result["objective_name"],
                "bounds": bounds,
            }
        )
    return by_dataset


def untuned_datasets(config: dict) -> list[str]:
    """The datasets on which tuning, while it is on, tunes no optimizer (tuning.datasets)."""
    if not config.get("tuning", {}).get("enabled"):
        return []
    optimizers = config.get("optimizers", [])
    return [name for name in config.get("datasets", []) if not any(tuned(config, o, name) for o in optimizers)]


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
    budget_paths: list[str | Path] = (),
) -> None:
    """`study_paths`: study.md sections, included in order with their links made relative to
    `out`; `figures_dir`: the report's figures (report_figures), linked when present;
    `command`: the command that regenerates the report, printed in its header; `budget_paths`:
    the datasets' budget files (results/budget/{dataset}.json), which say how each B was set.
    Nothing is computed here: the verdicts and parity multiples are read from their tables."""
    summary_dir, out = Path(summary_dir), Path(out)
    runs = read_table(summary_dir / "runs.parquet")
    metrics = read_table(summary_dir / "metrics.parquet")
    tests = pd.read_parquet(summary_dir / "tests.parquet")
    costs_path, ranks_path = summary_dir / "cost_to_target.parquet", summary_dir / "ranks.parquet"
    verdicts_path, parity_path = summary_dir / "verdicts.parquet", summary_dir / "parity.parquet"
    costs = pd.read_parquet(costs_path) if costs_path.exists() else None
    ranks = pd.read_parquet(ranks_path) if ranks_path.exists() else pd.DataFrame()
    verdicts = pd.read_parquet(verdicts_path) if verdicts_path.exists() else pd.DataFrame()
    parity = pd.read_parquet(parity_path) if parity_path.exists() else pd.DataFrame()
    budgets = {budget["dataset"]: budget for budget in map(read_budget, budget_paths)}
    ladder = len(verdicts) > 0 and "multiple" in verdicts
    ranked = arm_runs(runs, BUDGET) if has_budget(runs).all() else runs

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
        "n_diverged": int(is_diverged(runs["status"]).sum()),
        "diverged_rule": RULE,
        "config_yaml": yaml.safe_dump(config, sort_keys=False).rstrip(),
        "config_hash": config_hash(config),
        "command": command,
        "tables": dataset_tables(metrics, tests, costs, verdicts, runs),
        "endpoint": primary_endpoint(config, verdicts) if ladder else None,
        "answers": answers(verdicts, parity, budgets, config) if ladder and len(parity) else [],
        "ladder": ladder_table(verdicts, parity, config) if ladder else None,
        "margin": number(float(config.get("report", {}).get("equivalence_margin", 0.01)), 3),
        "alpha": float(config.get("report", {}).get("alpha", 0.05)),
        "figure": figure,
        "ranks": ranks.to_dict("records"),
        "friedman": ranks.iloc[0].to_dict() if len(ranks) else None,
        "ranks_arm": ARM_TITLES[BUDGET if ranked is not runs else EARLY].lower(),
        "tuning_pruning": bool(config.get("tuning", {}).get("pruning", False)),
        "ranks_absent": absence_reason(per_dataset_means(ranked)),
        "tuning": tuning_tables(list(tuning_paths)),
        "untuned": untuned_datasets(config),
        "studies": [rebased(Path(path).read_text(), Path(path).parent, Path(out).parent) for path in study_paths],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(environment.get_template(template.name).render(**context))
