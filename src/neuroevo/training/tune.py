"""Hyperparameter tuning with Optuna, as the prior CMA-ES study did before its seeded runs:
TPE (seeded), median pruning on per-epoch validation loss, and an objective that is the
mean validation loss over tuning seeds disjoint from the evaluation seeds.

The study lives in an Optuna journal file, and a tuning job killed at any point and rerun
ends with the same trials and best values as an uninterrupted one:

- every sampling draws from a generator seeded by (study seed, trial number, parameter),
  so a suggestion depends on the finished trials only, never on how many processes the
  study took;
- the trial a kill left running is run again under its own number and with the parameters
  it already had (pruning decisions depend on finished trials only, so they replay too);
- a journal whose last record a kill cut off is cut back to its last complete record
  (the original kept as .bak) before Optuna appends to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import optuna
import pandas as pd

from neuroevo.config.run_spec import RunSpec
from neuroevo.config.search_space import suggest
from neuroevo.data.prepare import PreparedData, load_prepared
from neuroevo.files.atomic import UnsafePathError, read_regular, set_aside, write_atomic
from neuroevo.files.progress import Progress
from neuroevo.training.finished import file_digests
from neuroevo.training.loop import train

log = logging.getLogger("neuroevo")
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
# Trials that have ended (a trial failed by a RuntimeError too, as in an uninterrupted study).
ENDED = (*FINISHED, optuna.trial.TrialState.FAIL)
# A study needs `trials` completed trials (pruned ones do not count, so that every optimizer
# gets as many full evaluations); at most this many times as many trials end in all.
MAX_TRIALS_FACTOR = 3


class JournalError(ValueError):
    """An Optuna journal that cannot be resumed from; the message names the file and what to do."""


def derived_seed(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")  # numpy's RandomState takes 32 bits


class TrialSeededTPESampler(optuna.samplers.BaseSampler):
    """TPE whose every draw comes from a fresh generator seeded by (seed, trial number,
    parameter): the suggestion for a trial is a function of the finished trials alone, so a
    resumed study suggests what an uninterrupted one would have (a single TPESampler's
    generator restarts with each process, and its draws would depend on where a kill came).

    Only Optuna's public sampler interface is used: each call is delegated to a TPESampler
    built for it."""

    def __init__(self, seed: int = 0, **settings) -> None:
        self._seed = seed
        self._settings = settings

    def _tpe(self, trial: optuna.trial.FrozenTrial, *key: object) -> optuna.samplers.TPESampler:
        return optuna.samplers.TPESampler(seed=derived_seed(self._seed, trial.number, *key), **self._settings)

    def infer_relative_search_space(self, study, trial):
        return self._tpe(trial, "relative").infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._tpe(trial, "relative").sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        # Seeded per parameter too: a trial killed between two suggestions gets the second one
        # it would have had.
        return self._tpe(trial, "independent", param_name).sample_independent(
            study, trial, param_name, param_distribution
        )

    def before_trial(self, study, trial):
        self._tpe(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._tpe(trial).after_trial(study, trial, state, values)


def journal_partials(storage: Path, *outputs: str | Path) -> tuple[str, ...]:
    """The names whose partial files a tuning job writes beside its journal (its outputs, the
    journal's backup): the only partials its cleanup may remove."""
    return (*(Path(path).name for path in outputs), storage.name, f"{storage.name}.bak")


def _repair_journal(path: Path) -> None:
    """A job killed while appending leaves a last line without its newline; Optuna skips it
    on reading, but its next append would glue a record onto it and strand the study
    ("Expecting ',' delimiter"). Cut the file back to its last complete record, keeping the
    original beside it. Never through a link: the backup and the cut journal are written by
    write_atomic (a new file, renamed over whatever had its name)."""
    try:
        data = read_regular(path) if os.path.lexists(path) else b""
    except UnsafePathError as error:
        raise JournalError(
            f"{error}; an Optuna journal must be a regular file: move it aside to start this tuning study afresh"
        ) from None
    if not data or data.endswith(b"\n"):
        return
    backup = path.with_name(path.name + ".bak")
    for number in range(1, 1000):
        if not os.path.lexists(backup):
            break
        backup = path.with_name(f"{path.name}.bak.{number}")
    write_atomic(backup, lambda partial: partial.write_bytes(data))  # the whole original is safe before anything is cut
    keep = data.rfind(b"\n") + 1
    # A new file renamed over the journal, not a cut in place: nothing linked to it is touched.
    write_atomic(path, lambda partial: partial.write_bytes(data[:keep]))
    log.warning(
        "%s: its last record was cut off (a killed job); cut the file back to its last complete record "
        "(%d of %d bytes kept); the original is %s",
        path,
        keep,
        len(data),
        backup,
    )


def _check_journal(path: Path) -> None:
    """Every line a JSON record, or a JournalError naming the file and what to do (Optuna
    itself would say only `Expecting ',' delimiter`, or start over on a garbled file)."""
    if not path.exists():
        return
    for number, line in enumerate(read_regular(path).splitlines(keepends=True), start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "op_code" not in record:
                raise ValueError("not an Optuna journal record")
        except (ValueError, RecursionError) as error:  # RecursionError: a line of 200,000 nested brackets
            raise JournalError(
                f"{path}: line {number} is not a complete Optuna journal record ({str(error)[:200]}); "
                f"to keep the trials recorded before it, cut the file back to its first {number - 1} lines "
                f"(head -n {number - 1}); to start this tuning study afresh, move the file aside"
            ) from None


def _open_journal(path: Path) -> optuna.storages.JournalStorage:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The journal belongs to one tuning job (Snakemake runs one per output): a lock file found
    # now was left by a killed job, and Optuna would wait 30 s before breaking it.
    lock = path.with_name(path.name + ".lock")
    if lock.is_dir() and not lock.is_symlink():  # not Optuna's: kept for inspection, out of its way
        set_aside(lock, "a folder where Optuna keeps its lock file", what="entry", restart="tuning goes on")
    elif lock.is_symlink() or lock.exists():
        log.warning("%s: removing the lock file a killed tuning job left", lock)
        lock.unlink()
    _repair_journal(path)
    _check_journal(path)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def _study_name(
    spec: RunSpec,
    space: dict,
    seeds: list[int],
    data: PreparedData,
    study_seed: int,
    startup_trials: int,
    pruning: bool,
) -> str:
    """Studies of other settings never share trials, even in the same journal file: whatever
    the tune rule passes (but the number of trials, which a rerun may raise) and the content
    of its inputs (the prepared data, a genome file). The package's code is not in it."""
    identity = {
        "spec": spec.to_dict(),
        "space": space,
        "seeds": seeds,
        "study_seed": study_seed,
        "startup_trials": startup_trials,
        "pruning": pruning,
        "data": data.checksum,
        "files": file_digests(spec.hyperparameters),
    }
    settings = json.dumps(identity, sort_keys=True)
    return f"{spec.dataset}/{spec.optimizer}/{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


class _Interrupted(BaseException):
    """Carries an error out of a trial past Optuna, which would mark the trial FAIL (it
    catches Exception and KeyboardInterrupt): the trial stays RUNNING in the journal, so a
    rerun runs it again with its number and parameters, as after kill -9."""


def guarded(run_trial: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    """The objective run_study needs: a RuntimeError fails the trial (as it would fail any run),
    anything else (Ctrl-C, a damaged file, a bug: not the trial's doing) leaves it to be rerun."""

    def objective(trial: optuna.Trial) -> float:
        try:
            return run_trial(trial)
        except (optuna.TrialPruned, RuntimeError):
            raise
        except (Exception, KeyboardInterrupt) as error:
            raise _Interrupted() from error

    return objective


def _objective(spec: RunSpec, data: PreparedData, space: dict, seeds: list[int], progress: Progress):
    def run_trial(trial: optuna.Trial) -> float:
        hyperparameters = spec.hyperparameters | suggest(trial, space)
        # A trial rerun after a kill already holds the values it reported then.
        reported = next(
            t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number
        ).intermediate_values
        losses, flops = [], [0] * len(seeds)  # the trial's cost, forward-equivalent FLOPs per seed
        for index, seed in enumerate(seeds):
            offset = index * spec.training.max_epochs

            def report(row: dict, offset: int = offset, index: int = index) -> None:
                flops[index] = row["flops"]
                step = offset + row["epoch"]
                if step not in reported:
                    trial.report(row["val_loss"], step)
                if trial.should_prune():
                    trial.set_user_attr("flops", sum(flops))
                    raise optuna.TrialPruned()

            progress.begin(trial.number * len(seeds) + index, f"trial {trial.number}, seed {seed}")
            run = replace(spec, seed=seed, hyperparameters=hyperparameters)
            summary, _ = train(run, data, on_epoch=report, progress=progress)
            losses.append(math.nan if summary["val_loss"] is None else summary["val_loss"])  # null: not finite
            flops[index] = summary["flops"]
        trial.set_user_attr("flops", sum(flops))
        value = sum(losses) / len(losses)
        return value if math.isfinite(value) else float("inf")

    return guarded(run_trial)


def run_study(
    storage_path: str | Path,
    study_name: str,
    direction: str,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    sampler_seed: int,
    startup_trials: int = 4,
    pruning: bool = False,
    label: str = "",
) -> optuna.Study:
    """Runs trials of the study stored under `study_name` in the journal until it has `trials`
    completed ones (or MAX_TRIALS_FACTOR times as many have ended), resuming what a killed job
    left (its running trial first, with its number and parameters); `objective` from guarded.
    `label` names the study in messages. Raises RuntimeError if no trial completed."""
    storage = _open_journal(Path(storage_path))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        load_if_exists=True,
        direction=direction,
        sampler=TrialSeededTPESampler(seed=sampler_seed, n_startup_trials=startup_trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=1)
        if pruning
        else optuna.pruners.NopPruner(),
    )
    # A trial left running by a killed job goes back to the queue: the next trial run is that
    # one, with its number and the parameters it already had (failing it and enqueueing a copy
    # would renumber every later trial, and their seeds with them).
    for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(stale._trial_id, optuna.trial.TrialState.WAITING)
        log.info("trial %d of study %s was cut off by a killed job; running it again", stale.number, study.study_name)

    def counts() -> tuple[int, int]:
        ended = study.get_trials(deepcopy=False, states=ENDED)
        return len(ended), sum(trial.state == optuna.trial.TrialState.COMPLETE for trial in ended)

    ended, complete = counts()
    if ended:
        log.info("resuming study %s with %d ended trials (%d completed)", study.study_name, ended, complete)
    try:
        while complete < trials and ended < MAX_TRIALS_FACTOR * trials:
            study.optimize(objective, n_trials=1, catch=(RuntimeError,))
            ended, complete = counts()
    except _Interrupted as interrupted:
        raise interrupted.__cause__ from None
    if complete < trials:
        log.warning(
            "%s: only %d of %d trials completed after %d ended (the rest pruned or failed)",
            label,
            complete,
            trials,
            ended,
        )
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise RuntimeError(f"no tuning trial of {label} completed")
    return study


def tune(
    spec: RunSpec,
    data_path: str | Path,
    space: dict,
    seeds: list[int],
    trials: int,
    storage_path: str | Path,
    study_seed: int = 0,
    startup_trials: int = 4,
    pruning: bool = False,
) -> tuple[dict, pd.DataFrame]:
    """Runs trials until the stored study has `trials` completed ones (or MAX_TRIALS_FACTOR times
    as many have ended); returns (best, trials table). `pruning`: median pruning on per-epoch
    validation loss (off by default: the evolutionary optimizers' noisy early losses had most of
    their trials pruned, the gradient optimizers' none, which is not tuning on equal terms). The sampler's seed is derived from
    `study_seed`, the dataset and the optimizer, so two optimizers with the same search space
    are not tried at the same values. Trials follow the early-stopping protocol: an
    equal-budget arm's budget_flops is dropped, so a trial ends with its patience (its values
    then serve both arms)."""
    spec = replace(spec, training=replace(spec.training, budget_flops=None))
    data = load_prepared(data_path, expected_name=spec.dataset)  # once for all trials
    sampler_seed = derived_seed(study_seed, spec.dataset, spec.optimizer)
    # One unit per trial run (trial x tuning seed); a pruned trial ends its units early.
    progress = Progress(total=max(trials, 1) * len(seeds), unit="trial run")
    study = run_study(
        storage_path,
        _study_name(spec, space, seeds, data, study_seed, startup_trials, pruning),
        "minimize",
        _objective(spec, data, space, seeds, progress),
        trials,
        sampler_seed,
        startup_trials,
        pruning,
        f"{spec.dataset}/{spec.optimizer}",
    )
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
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
        "flops": sum(trial.user_attrs.get("flops", 0) for trial in study.get_trials(deepcopy=False, states=ENDED)),
        "sampler_seed": sampler_seed,
        "seeds": seeds,
        "search_space": space,
        "study": study.study_name,
    }
    return result, study.trials_dataframe()
