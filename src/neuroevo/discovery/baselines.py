"""Baselines tuned on the discovered rule's terms (issue 18): an Optuna study per baseline over
its learning rate and a schedule (constant, or linear warmup + cosine decay like the write-up's
genome), on the GA's tasks and GA seeds, for the GA's steps per task run, scored by the GA's
own fitness (validation accuracy + the loss bonus, neuroevo.discovery.fitness). A trial costs
what one genome evaluation costs; by default a study runs as many trials as the GA evaluated
genomes. The comparison then runs the tuned values with its own horizon, as it runs the rule.

The study lives in an Optuna journal and resumes as the tune command's does
(neuroevo.training.tune.run_study): a killed job ends with the same trials.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import optuna
import pandas as pd
import torch

from neuroevo.config.search_space import suggest
from neuroevo.data.prepare import PreparedData
from neuroevo.discovery.fitness import data_on_device, evaluate_on_task
from neuroevo.discovery.ga import DiscoverySettings, genome_evaluations, task_identity
from neuroevo.discovery.tasks import Task
from neuroevo.files.progress import Progress
from neuroevo.models.device import resolve_device
from neuroevo.optimizers import get_optimizer
from neuroevo.optimizers.base import lr_schedule
from neuroevo.training.tune import derived_seed, guarded, run_study


class Scheduled:
    """A torch optimizer and its schedule as one thing to step (what evaluate_on_task steps)."""

    def __init__(self, optimizer: torch.optim.Optimizer, hyperparameters) -> None:
        self.optimizer, self.schedule = optimizer, lr_schedule(optimizer, hyperparameters)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        if self.schedule is not None:
            self.schedule.before_step(self.optimizer)
        self.optimizer.step()


def baseline_fitness(
    optimizer: str, values: dict, tasks: list[Task], data: dict[str, PreparedData], settings: DiscoverySettings
) -> dict:
    """A baseline's fitness over the GA's tasks and seeds, exactly as a genome's: `values` are
    its hyperparameters (the schedule's horizon is the GA's max_steps, as the rule's is)."""
    spec = get_optimizer(optimizer)
    if spec.build is None:
        raise ValueError(f"{optimizer}: not a torch.optim optimizer, so it cannot be tuned as a baseline")
    hyperparameters = spec.make_hyperparameters(values | {"total_steps": settings.max_steps})
    per_task, diverged = {}, 0
    for task in tasks:
        scores = []
        for seed in settings.seeds:
            result = evaluate_on_task(
                lambda params: Scheduled(spec.build(params, hyperparameters), hyperparameters),
                task,
                data[task.dataset],
                seed,
                settings.max_steps,
            )
            scores.append(result.fitness)
            diverged += result.diverged
        per_task[task.name] = sum(scores) / len(scores)
    return {"fitness": sum(per_task.values()) / len(per_task), "per_task": per_task, "diverged": diverged}


def _study_name(optimizer: str, identity: dict) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"baseline/{optimizer}/{digest}"


def tune_baseline(
    optimizer: str,
    tasks: list[Task],
    data: dict[str, PreparedData],
    settings: DiscoverySettings,
    hyperparameters: dict,
    space: dict,
    storage_path: str | Path,
    trials: int | None = None,
    startup_trials: int = 4,
) -> tuple[dict, pd.DataFrame]:
    """Tunes `optimizer` (its fixed `hyperparameters` plus the `space` values) on the GA's terms;
    `trials` completed trials, by default the GA's number of genome evaluations. Returns the
    result (tuned_values as the train command's --tuned reads them) and the trials table."""
    trials = trials or genome_evaluations(settings)
    device = resolve_device(settings.device)
    checksums = {name: prepared.checksum for name, prepared in sorted(data.items())}
    data = {name: data_on_device(prepared, device) for name, prepared in data.items()}
    identity = {
        "tasks": [task_identity(task) for task in tasks],
        "settings": dataclasses.asdict(settings),
        "hyperparameters": hyperparameters,
        "space": space,
        "startup_trials": startup_trials,
        "data": checksums,
    }
    progress = Progress(total=trials, unit="trial")

    def run_trial(trial: optuna.Trial) -> float:
        progress.begin(trial.number, f"trial {trial.number}")
        result = baseline_fitness(optimizer, hyperparameters | suggest(trial, space), tasks, data, settings)
        trial.set_user_attr("per_task", result["per_task"])
        trial.set_user_attr("diverged", result["diverged"])
        return result["fitness"]

    sampler_seed = derived_seed(settings.study_seed, "baseline", optimizer)
    study = run_study(
        storage_path,
        _study_name(optimizer, identity),
        "maximize",
        guarded(run_trial),
        trials,
        sampler_seed,
        startup_trials,
        label=f"baseline {optimizer}",
    )
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial
    result = {
        "optimizer": optimizer,
        "tuned_values": best.params,
        "hyperparameters": hyperparameters | best.params,
        "objective": best.value,
        "objective_name": "the discovery fitness on the GA's tasks and seeds (validation split)",
        "per_task": best.user_attrs["per_task"],
        "n_trials": len(completed),
        "genome_evaluations": genome_evaluations(settings),
        "task_runs_per_trial": len(tasks) * len(settings.seeds),
        "steps_per_task_run": settings.max_steps,
        "sampler_seed": sampler_seed,
        "seeds": settings.seeds,
        "search_space": space,
        "study": study.study_name,
    }
    return result, study.trials_dataframe()
