"""Hyperparameter tuning with Optuna, as the prior CMA-ES study did before its seeded runs:
TPE (seeded), median pruning on per-epoch validation loss, and an objective that is the
mean validation loss over tuning seeds disjoint from the evaluation seeds.

The study lives in an Optuna journal file: a tuning job killed after some trials and rerun
keeps its finished trials and only runs the ones still missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import optuna
import pandas as pd

from neuroevo.search_space import suggest
from neuroevo.train import RunSpec, train

log = logging.getLogger("neuroevo")
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _study_name(spec: RunSpec, space: dict, seeds: list[int]) -> str:
    """Studies of other settings never share trials, even in the same journal file."""
    settings = json.dumps({"spec": repr(spec), "space": space, "seeds": seeds}, sort_keys=True)
    return f"{spec.dataset}/{spec.optimizer}/{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def _objective(spec: RunSpec, data_path: str | Path, space: dict, seeds: list[int]):
    def objective(trial: optuna.Trial) -> float:
        hyperparameters = spec.hyperparameters | suggest(trial, space)
        losses = []
        for index, seed in enumerate(seeds):
            offset = index * spec.training.max_epochs

            def report(row: dict) -> None:
                trial.report(row["val_loss"], offset + row["epoch"])
                if trial.should_prune():
                    raise optuna.TrialPruned()

            summary, _ = train(replace(spec, seed=seed, hyperparameters=hyperparameters), data_path, on_epoch=report)
            losses.append(summary["val_loss"])
        value = sum(losses) / len(losses)
        return value if math.isfinite(value) else float("inf")

    return objective


def tune(
    spec: RunSpec,
    data_path: str | Path,
    space: dict,
    seeds: list[int],
    trials: int,
    storage_path: str | Path,
    study_seed: int = 0,
    startup_trials: int = 4,
) -> tuple[dict, pd.DataFrame]:
    """Runs the trials still missing from the stored study; returns (best, trials table)."""
    storage_path = Path(storage_path)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(storage_path)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=_study_name(spec, space, seeds),
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=study_seed, n_startup_trials=startup_trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=1),
    )
    # A trial left running by a killed job never finished: mark it failed, run it again.
    for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(stale._trial_id, optuna.trial.TrialState.FAIL)
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    if finished:
        log.info("resuming study %s with %d finished trials", study.study_name, finished)
    for _ in range(max(0, trials - finished)):
        study.optimize(_objective(spec, data_path, space, seeds), n_trials=1, catch=(RuntimeError,))

    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        raise RuntimeError(f"no tuning trial of {spec.dataset}/{spec.optimizer} completed")
    best = study.best_trial
    result = {
        "dataset": spec.dataset,
        "optimizer": spec.optimizer,
        "tuned_values": best.params,
        "hyperparameters": spec.hyperparameters | best.params,
        "objective": best.value,
        "objective_name": f"mean validation loss over tuning seeds {seeds}",
        "n_trials": len(study.get_trials(deepcopy=False, states=FINISHED)),
        "n_complete": len(completed),
        "n_pruned": len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))),
        "seeds": seeds,
        "search_space": space,
        "study": study.study_name,
    }
    return result, study.trials_dataframe()
