"""The equal-budget ladder on the command line: the budget command (a dataset's base budget B
from its pilot runs, by the rule or set by hand, in results/budget/DATASET.json), and how
the train and report-figures commands read that file."""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

log = logging.getLogger("neuroevo")


def _budget(args: argparse.Namespace) -> None:
    """B of one dataset from its pilot runs (the gradient optimizers under early stopping): the
    rule's, or the hand-set one with the rule's beside it; refused when a run of the top rung
    would outlast the cluster's time limit of a run at the pilot's measured speed."""
    from neuroevo.analysis.budget_rule import derive_budget
    from neuroevo.analysis.runs import load_histories, load_runs
    from neuroevo.cli.commands import _json_argument
    from neuroevo.files.atomic import write_json

    settings = _json_argument(args.settings, "--settings")
    missing = sorted({"fraction", "margin", "multiples", "hand_flops", "run_minutes"} - set(settings))
    if missing:
        raise ValueError(f"--settings: missing key(s) {', '.join(missing)}")
    runs, histories = load_runs(args.pilot), load_histories(args.pilot)
    budget = derive_budget(
        args.dataset,
        runs,
        histories,
        margin=settings["margin"],
        fraction=settings["fraction"],
        multiples=settings["multiples"],
        hand_flops=settings["hand_flops"],
    )
    _check_top_rung(budget, runs, settings["run_minutes"], args.dataset)
    write_json(Path(args.out), budget)
    log.info(
        "%s: B = %.3g FLOPs (%s); rungs %s. %s",
        args.dataset,
        budget["base_flops"],
        budget["source"],
        ", ".join(f"{value:g}x" for value in budget["multiples"]),
        budget["rule"],
    )


def _check_top_rung(budget: dict, runs, run_minutes: float, dataset: str) -> None:
    """ValueError naming the keys when one run of the top rung would take longer than a run's
    cluster time limit, estimated at the pilot runs' speed (their seconds in optimizer steps per
    FLOP, the slowest optimizer's median): a gradient step on a small batch is the dearest FLOP
    the pilot measures, so this is the estimate of a slow run, not a bound on every one."""
    rates = (runs["train_time_s"] / runs["flops"]).where(runs["flops"] > 0)
    rate = rates.groupby(runs["optimizer"]).median().max()
    if not math.isfinite(rate):
        return
    minutes = budget["marks"][-1] * rate / 60
    if minutes > run_minutes:
        raise ValueError(
            f"training.budget_multiples of {dataset}: a run of the top rung ({budget['multiples'][-1]:g}x B = "
            f"{budget['marks'][-1]:.3g} FLOPs) would take about {minutes:.0f} minutes at the pilot runs' speed, more "
            f"than a run's cluster time limit ({run_minutes} min: cluster.run_minutes, or cluster.short_run_minutes "
            "for cluster.short_datasets); lower the top multiple or raise that limit"
        )


def with_budget(spec_text: str, budget_path: str | None) -> str:
    """The train command's --spec with B from the budget job's file: its training.budget_flops
    ("rule", or the hand-set number, which the file must repeat) replaced by the file's base_flops,
    whose multiples must be the spec's. A spec without an equal-budget arm is returned as it is."""
    from neuroevo.analysis.budget_rule import read_budget
    from neuroevo.config.checks import load_json

    spec = load_json(spec_text, "--spec")
    training = spec.get("training", {}) if isinstance(spec, dict) else {}
    given = training.get("budget_flops") if isinstance(training, dict) else None
    if budget_path is None:
        if given == "rule":
            raise ValueError(
                '--spec: training.budget_flops is "rule": give --budget FILE, the budget job\'s '
                "results/budget/DATASET.json, which holds B"
            )
        return spec_text
    if given is None:
        raise ValueError(f"--budget {budget_path}: the spec has no equal-budget arm (training.budget_flops is null)")
    budget = read_budget(budget_path)
    multiples = [float(value) for value in training.get("budget_multiples", [1])]
    if budget["multiples"] != multiples:
        raise ValueError(
            f"--budget {budget_path}: its rungs {budget['multiples']} are not the spec's budget_multiples {multiples}; "
            "rerun the dataset's budget job"
        )
    if given != "rule" and (budget["source"] != "hand" or not math.isclose(budget["base_flops"], given, rel_tol=1e-12)):
        raise ValueError(
            f"--budget {budget_path}: its B ({budget['base_flops']:.6g}, {budget['source']}) is not the spec's "
            f"budget_flops {given}; rerun the dataset's budget job"
        )
    spec["training"] = training | {"budget_flops": budget["base_flops"]}
    return json.dumps(spec, sort_keys=True)


def load_budgets(paths: list[str]) -> dict[str, dict]:
    """The budget files of the report-figures command, by dataset (each read and checked)."""
    from neuroevo.analysis.budget_rule import read_budget

    budgets = {}
    for path in paths:
        budget = read_budget(path)
        if budget["dataset"] in budgets:
            raise ValueError(f"--budgets: two files for {budget['dataset']} ({path} and another)")
        budgets[budget["dataset"]] = budget
    return budgets
