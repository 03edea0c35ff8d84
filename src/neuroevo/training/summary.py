"""What a finished run's summary.json holds (run_summary): the early-stopping arm's result
and work, the equal-budget arm's (budget_* fields, its top rung, and `rungs`, every rung of
the budget ladder) when the run had a FLOP budget, and the settings that produced them; and
the scores every history row and summary share."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import torch

from neuroevo.config.run_spec import RunSpec
from neuroevo.data.prepare import SPLITS
from neuroevo.files.versions import package_versions
from neuroevo.models.problem import Problem
from neuroevo.training.fitness import last_model_fitness

if TYPE_CHECKING:  # the loop's state, read here, never built
    from neuroevo.training.loop import RunState

# What a summary and a history measure of time, which two runs of the same settings never share.
TIMING_KEYS = ("wall_time_s", "train_time_s", "run_wall_time_s", "budget_train_time_s", "budget_wall_time_s")
TIMING_COLUMNS = ("wall_s", "train_s")
SCORE_KEYS = tuple(f"{split}_{measure}" for split in SPLITS for measure in ("loss", "acc"))
# A rung of the budget ladder in summary.json's `rungs`: its multiple of the base budget and its mark
# (FLOPs), "reached" or "diverged", the fractional epoch and the work at the step that spent the mark
# (a diverged rung's: at the divergence, with the last scored model), and that model's scores.
WORK_KEYS = ("steps", "flops", "sample_evals", "model_evals", "grad_evals", "train_s", "wall_s")
RUNG_KEYS = ("multiple", "mark_flops", "status", "epoch", *WORK_KEYS, *SCORE_KEYS)


def without_timings(summary: dict) -> dict:
    """`summary` without what two runs of the same settings never share: its TIMING_KEYS and
    each rung's TIMING_COLUMNS (what a resumed and an uninterrupted run are compared by)."""
    kept = {key: value for key, value in summary.items() if key not in TIMING_KEYS}
    if isinstance(kept.get("rungs"), list):
        kept["rungs"] = [
            {key: value for key, value in rung.items() if key not in TIMING_COLUMNS} for rung in kept["rungs"]
        ]
    return kept


def scores(problem: Problem, params: torch.Tensor) -> dict[str, float]:
    row = {}
    for split in SPLITS:
        row[f"{split}_loss"], row[f"{split}_acc"] = problem.evaluate(params, split)
    return row


def budget_summary(run: RunState) -> dict:
    """The equal-budget arm's part of a summary: the model at the end of the budget (the
    ladder's top rung), its work, and, labelled as such, the best-validation-loss model within
    the budget; and `rungs`, the model and work at every rung of the ladder, in order."""
    end = run.budget
    within = [row for row in run.history if row["flops"] <= end["flops"]] + [end]
    best = min(within, key=lambda row: row["val_loss"] if math.isfinite(row["val_loss"]) else math.inf)
    return {
        "budget_status": end["status"],
        "budget_epoch": end["epoch"],
        "budget_steps": end["steps"],
        **{f"budget_{key}": end[key] for key in ("flops", "sample_evals", "model_evals", "grad_evals")},
        "budget_train_time_s": end["train_s"],
        "budget_wall_time_s": end["wall_s"],
        **{f"budget_{key}": end[key] for key in SCORE_KEYS},
        "budget_best_epoch": best["epoch"],
        **{f"budget_best_{key}": best[key] for key in ("val_loss", "val_acc", "test_loss", "test_acc")},
        "rungs": [dict(rung) for rung in run.rungs],
    }


def nonfinite_fields(value: object, where: str = "") -> list[str]:
    """The keys (dotted, list items by index) of the NaN and infinite floats in `value`."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where or "the value"]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    return [found for key, item in items for found in nonfinite_fields(item, f"{where}.{key}" if where else str(key))]


def strict_json(value: object) -> object:
    """`value` with every NaN and infinite float replaced by None (null), at any depth (dicts,
    lists and tuples rebuilt as such, the rest kept): what strict JSON can hold. Python's json
    writes a bare NaN, which strict parsers (JavaScript's, jq, Go's) refuse."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strict_json(item) for item in value]
    if isinstance(value, tuple):
        return tuple(strict_json(item) for item in value)
    return value


def run_summary(
    spec: RunSpec, run: RunState, problem: Problem, optimizer, hyperparameters, device: str, key: str
) -> dict:
    """What summary.json holds: the early-stopping arm's result (the best model's scores, the
    last model's fitness) and the work it counted, with a FLOP budget the equal-budget arm's
    (budget_* fields at the ladder's top rung, `rungs` at each), and the settings that produced
    it (spec.to_dict's blocks, the hyperparameters as the optimizer resolved them). Strict JSON: a score that is NaN or infinite
    (after a divergence) is null, and `nonfinite_fields` lists those keys (absent when none)."""
    summary = _summary(spec, run, problem, optimizer, hyperparameters, device, key)
    nonfinite = nonfinite_fields(summary)
    return strict_json(summary) | ({"nonfinite_fields": nonfinite} if nonfinite else {})


def _summary(spec: RunSpec, run: RunState, problem: Problem, optimizer, hyperparameters, device: str, key: str) -> dict:
    settings, early = spec.to_dict(), run.early
    diverged = early["status"] == "diverged"
    return {
        "dataset": spec.dataset,
        "optimizer": spec.optimizer,
        "optimizer_kind": optimizer.kind,
        "seed": spec.seed,
        "status": early["status"],
        "message": early["message"],
        "epochs": early["epoch"],
        "best_epoch": run.stopping.best_epoch,
        "resumed": run.resumed,
        "wall_time_s": early["wall_s"],
        "train_time_s": early["train_s"],
        "run_wall_time_s": time.perf_counter() - run.start,
        **{name: early[name] for name in ("sample_evals", "model_evals", "grad_evals", "flops")},
        **scores(problem, run.stopping.best_params),
        **last_model_fitness(early["last_val_acc"], early["steps"], early["final_loss"], diverged),
        # The last model's test accuracy (the discovery comparison's score); a diverged run's is 0.
        "final_test_acc": 0.0 if diverged else early.get("last_test_acc", math.nan),
        **(budget_summary(run) if run.budget else {}),
        "n_parameters": problem.n_parameters,
        "forward_flops": problem.forward_flops,
        **{f"n_{split}": int(problem.y[split].shape[0]) for split in SPLITS},
        "hyperparameters": asdict(hyperparameters) | optimizer.resolved(run.state),
        "model": settings["model"],
        "training": settings["training"],
        "device": device,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "versions": package_versions(),
        "result_key": key,
    }
