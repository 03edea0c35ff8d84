"""The one training loop every optimizer runs through.

Shuffled minibatches per epoch; after each epoch the evaluated model (the optimizer's
parameters, the distribution mean for CMA-ES) is scored on train/val/test; early stopping
on validation loss with patience and a minimum improvement, under a budget of epochs,
minibatch steps, sample evaluations and seconds. The model with the best validation loss
is the one reported; the summary also scores the last model by the optimizer-discovery
write-up's fitness (its 1000-step comparison runs through this loop). With a FLOP budget the
run also goes on to the top of the budget ladder (TrainingSettings.budget_end), scoring the
model at the step that spends each rung's mark (the equal-budget arm).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.data.prepare import PreparedData, load_prepared, subsample_train
from neuroevo.files.atomic import set_aside
from neuroevo.files.checkpoint import CheckpointError, checkpointable, load_checkpoint, save_checkpoint
from neuroevo.files.progress import Progress
from neuroevo.models.cnn import augment, image_shape
from neuroevo.models.device import resolve_device, resolve_precision
from neuroevo.models.problem import Problem, layer_count
from neuroevo.optimizers import get_optimizer
from neuroevo.training.finished import file_digests, restore, result_key
from neuroevo.training.fitness import LAST_STEPS
from neuroevo.training.resumed import check_rungs, check_torch_optimizer, torch_optimizers
from neuroevo.training.stopping import EpochOutcome, progress_detail, record_rungs, step_outcome, stop_reason
from neuroevo.training.summary import SCORE_KEYS, run_summary, scores

log = logging.getLogger("neuroevo")


@checkpointable
@dataclass
class EarlyStopping:
    """Keeps the model with the best validation loss; says stop after `patience` epochs
    without an improvement of at least `min_delta`."""

    patience: int
    min_delta: float
    best_val_loss: float
    best_params: torch.Tensor
    best_epoch: int = 0
    epochs_without_improvement: int = 0

    def update(self, epoch: int, val_loss: float, params: torch.Tensor) -> bool:
        if val_loss < self.best_val_loss - self.min_delta:
            self.best_val_loss, self.best_params, self.best_epoch = val_loss, params.clone(), epoch
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience


@checkpointable
@dataclass
class StepLog:
    """Minibatch steps taken, the losses of the last LAST_STEPS of them (the write-up's
    final loss) and the generator of the augmentation draws."""

    steps: int = 0
    recent_losses: deque = field(default_factory=lambda: deque(maxlen=LAST_STEPS))
    augment_generator: torch.Generator | None = None

    def final_loss(self) -> float:
        return sum(self.recent_losses) / len(self.recent_losses) if self.recent_losses else float("nan")


def _run_epoch(
    optimizer,
    state,
    problem: Problem,
    permutation: torch.Tensor,
    settings: TrainingSettings,
    log: StepLog,
    after_step: Callable[[int, int, float], EpochOutcome],
) -> tuple[dict, EpochOutcome, float]:
    """One pass over the shuffled training set. Returns (epoch stats, outcome, seconds spent in
    optimizer steps); after a "diverged" one the stats are those of the step whose loss was not
    finite. `after_step` sees (minibatches taken, minibatches in the epoch, step seconds so far)
    after each and ends the epoch by returning an outcome ("budget")."""
    losses, stats, outcome, seconds = [], {}, "", 0.0
    batches = permutation.split(settings.batch_size)
    for taken, indices in enumerate(batches, 1):
        began = time.perf_counter()
        x, y = problem.batch(indices)
        if log.augment_generator is not None:
            x = augment(x.view(-1, *image_shape(x.shape[1])), log.augment_generator).flatten(1)
        stats = optimizer.step(state, problem, (x, y))
        seconds += time.perf_counter() - began
        losses.append(stats["loss"])
        if not math.isfinite(stats["loss"]):
            return stats, "diverged", seconds
        log.steps += 1
        log.recent_losses.append(stats["loss"])
        outcome = after_step(taken, len(batches), seconds)
        if outcome:
            break
    extra = {key: value for key, value in stats.items() if key != "loss"}
    return {"batch_loss": sum(losses) / len(losses), **extra}, outcome, seconds


AUGMENT_SEED_OFFSET = 1_000_003


# A checkpoint's payload: the RunState fields it stores, then the counter and the wall time so far.
CHECKPOINTED = (
    "state",
    "order_generator",
    "history",
    "stopping",
    "step_log",
    "train_seconds",
    "early",
    "budget",
    "rungs",
)


@dataclass
class RunState:
    """Everything a run carries from epoch to epoch (what a checkpoint holds, with the
    problem's work counter). With a FLOP budget one run serves two arms: `early` is set when
    the early-stopping rule ends its arm (how, and the work spent by then); `rungs` gets one
    entry per mark of the budget ladder the run spends (the model's scores there and the
    work), and `budget` is the top one's; the run ends when the early arm has and every rung
    is recorded."""

    state: Any  # the optimizer's
    order_generator: torch.Generator  # the data order
    history: list[dict]  # one row per epoch, epoch 0 the initial model
    stopping: EarlyStopping
    step_log: StepLog
    train_seconds: float  # in optimizer steps, evaluation left out
    start: float  # perf_counter at the run's start; a resumed run's is moved back by its wall time so far
    resumed: bool = False
    early: dict | None = None
    budget: dict | None = None
    rungs: list[dict] = field(default_factory=list)

    def payload(self, problem: Problem) -> dict:
        return {name: getattr(self, name) for name in CHECKPOINTED} | {
            "counter": problem.counter,
            "wall_seconds": time.perf_counter() - self.start,
        }

    def cost(self, problem: Problem, train_seconds: float | None = None) -> dict:
        """The work spent so far: the counter, steps, seconds in steps and wall seconds."""
        seconds = self.train_seconds if train_seconds is None else train_seconds
        return {
            **problem.counter.as_dict(),
            "steps": self.step_log.steps,
            "train_s": seconds,
            "wall_s": time.perf_counter() - self.start,
        }


def _check_resumed(resumed: dict, optimizer, problem: Problem, settings: TrainingSettings) -> None:
    """A CheckpointError unless the checkpoint's state fits the run at hand: its parameters and
    best model have the model's shape, its history is epochs 0..n with n within max_epochs
    (a run with a FLOP budget may go past max_epochs), and its work counter is one. A
    fingerprint can be copied; this is what the state itself must say. Its rungs are the
    ladder's first ones (multiples and marks in order) and the equal-budget arm's end is
    recorded if and only if they are all there."""
    shape = (problem.n_parameters,)
    try:
        params = optimizer.parameters(resumed["state"])
    except Exception as error:  # a state of another optimizer or model
        raise CheckpointError(f"its optimizer state cannot be read ({str(error)[:200]})") from None
    if not isinstance(params, torch.Tensor) or tuple(params.shape) != shape:
        raise CheckpointError(f"its parameters are not the model's {problem.n_parameters}")
    stopping, history = resumed["stopping"], resumed["history"]
    if not isinstance(stopping, EarlyStopping) or tuple(stopping.best_params.shape) != shape:
        raise CheckpointError(f"its best model is not one of the model's {problem.n_parameters} parameters")
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history) or not history:
        raise CheckpointError("its history is not a list of epochs")
    if [row.get("epoch") for row in history] != list(range(len(history))):
        raise CheckpointError("its history's epochs are not 0, 1, 2, ... in order")
    last = history[-1]
    if not settings.budget_end and last["epoch"] > settings.max_epochs:
        raise CheckpointError(f"its history has {last['epoch']} epochs, more than max_epochs {settings.max_epochs}")
    if not 0 <= stopping.best_epoch <= last["epoch"]:
        raise CheckpointError("its best epoch is not one of its history's")
    if not isinstance(resumed["counter"], type(problem.counter)):
        raise CheckpointError("its work counter is not one")
    check_rungs(resumed["rungs"], resumed["budget"], settings)
    for torch_optimizer in torch_optimizers(resumed["state"]):
        check_torch_optimizer(torch_optimizer, shape)


def _start(
    spec: RunSpec, optimizer, hyperparameters, problem: Problem, device: str, checkpoint_path, run_settings: dict
) -> RunState:
    """The run resumed from a checkpoint of these settings, else a fresh one (a checkpoint
    that is not a run's state, or not of these settings, is set aside or replaced)."""
    resumed = (
        load_checkpoint(checkpoint_path, run_settings, (*CHECKPOINTED, "counter", "wall_seconds"))
        if checkpoint_path
        else None
    )
    if resumed is not None:
        try:
            _check_resumed(resumed, optimizer, problem, spec.training)
        except Exception as error:  # whatever a crafted state trips: set aside, never resumed
            set_aside(Path(checkpoint_path), f"it does not fit this run: {str(error)[:300]}")
            resumed = None
    if resumed is not None:
        problem.counter = resumed["counter"]
        return RunState(
            **{name: resumed[name] for name in CHECKPOINTED},
            start=time.perf_counter() - resumed["wall_seconds"],
            resumed=True,
        )
    settings = spec.training
    # Seed k: the same initial weights and data order for every optimizer (deep_ga excepted:
    # its genomes start from a He initialization of their own seed chain).
    params = problem.initial_parameters(spec.seed).to(device)
    order_generator = torch.Generator().manual_seed(spec.seed)
    # Augmentation draws get a stream of their own, so they never shift the data order.
    step_log = StepLog(
        augment_generator=torch.Generator().manual_seed(AUGMENT_SEED_OFFSET + spec.seed) if settings.augment else None
    )
    state = optimizer.init(params, hyperparameters, problem, spec.seed)
    initial = optimizer.parameters(state)  # the shared init, or the optimizer's own (deep_ga's base)
    history = [{"epoch": 0, "wall_s": 0.0, "train_s": 0.0, **problem.counter.as_dict(), **scores(problem, initial)}]
    stopping = EarlyStopping(settings.patience, settings.min_delta, history[0]["val_loss"], initial.clone())
    return RunState(state, order_generator, history, stopping, step_log, train_seconds=0.0, start=time.perf_counter())


def _train_epochs(
    run: RunState,
    optimizer,
    problem: Problem,
    settings: TrainingSettings,
    device: str,
    checkpoint_path,
    checkpoint_seconds: float,
    run_settings: dict,
    on_epoch: Callable[[dict], None] | None,
    progress: Progress,
) -> None:
    """The epochs from where `run` is to its end, saving a checkpoint every `checkpoint_seconds`."""
    last_save = time.perf_counter()
    start = run.history[-1]["epoch"]
    for epoch in itertools.count(start + 1):
        permutation = torch.randperm(problem.x["train"].shape[0], generator=run.order_generator).to(device)

        def after_step(taken: int, batches: int, seconds: float, epoch: int = epoch) -> EpochOutcome:
            progress.tick(lambda: progress_detail(run, problem, settings, epoch, taken / batches))
            return step_outcome(
                run, problem, optimizer, settings, epoch - 1 + taken / batches, run.train_seconds + seconds
            )

        stats, outcome, seconds = _run_epoch(
            optimizer, run.state, problem, permutation, settings, run.step_log, after_step
        )
        run.train_seconds += seconds
        current = None
        if outcome != "diverged":  # a diverged epoch is not scored
            current = optimizer.parameters(run.state)
            row = {"epoch": epoch, "wall_s": time.perf_counter() - run.start, "train_s": run.train_seconds}
            run.history.append(row | problem.counter.as_dict() | scores(problem, current) | stats)
        stop = stop_reason(epoch, outcome, stats, run, current, settings)
        diverged = stop is not None and stop.status == "diverged"
        if stop and run.early is None:
            last = {f"last_{key}": run.history[-1][key] for key in ("val_acc", "test_acc")}
            run.early = asdict(stop) | run.cost(problem) | {"final_loss": run.step_log.final_loss(), **last}
        if diverged and run.budget is None:  # the last model scored stands for every rung not reached
            last = {key: run.history[-1][key] for key in SCORE_KEYS}
            reading = {"status": "diverged", "epoch": run.history[-1]["epoch"], **run.cost(problem), **last}
            record_rungs(run, settings, reading, math.inf)
        if on_epoch and not diverged:
            on_epoch(run.history[-1])
        if run.early is not None and len(run.rungs) == len(settings.budget_marks):
            return
        if checkpoint_path and time.perf_counter() - last_save >= checkpoint_seconds:
            save_checkpoint(checkpoint_path, run_settings, run.payload(problem))
            last_save = time.perf_counter()


def check_settings(spec: RunSpec):
    """What would fail any run of these settings, checked before any work (a block checks it
    once for all its runs): the device (CUDA missing), the optimizer's hyperparameters, the
    model. Returns (device, optimizer, hyperparameters)."""
    device = resolve_device(spec.training.device)
    resolve_precision(spec.training.eval_precision, device)  # an unknown value, by name
    optimizer = get_optimizer(spec.optimizer)
    hyperparameters = optimizer.make_hyperparameters(spec.hyperparameters)
    if optimizer.check is not None:
        optimizer.check(hyperparameters, layer_count(spec.model, spec.hidden))
    return device, optimizer, hyperparameters


def train(
    spec: RunSpec,
    data: str | Path | PreparedData,
    checkpoint_path: str | Path | None = None,
    checkpoint_seconds: float = 60.0,
    on_epoch: Callable[[dict], None] | None = None,
    progress: Progress | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Runs one (dataset, optimizer, seed) on `data` (a prepared file's path, or the data a
    block of runs loaded once); returns (summary, per-epoch history).

    With `checkpoint_path`, the run's whole state is saved after an epoch whenever
    `checkpoint_seconds` have passed since the last save, and a matching checkpoint found
    there at start is resumed from: a killed run ends as an uninterrupted one would.
    `on_epoch` sees each epoch's history row (the tuner reports and prunes there). A result
    kept beside the checkpoint by `write_run` (neuroevo.training.finished), of the same settings, data
    and code, is returned as it is, without training. `progress` (the block's, else one of
    this run's own) gets a line into the log at least every 30 s of training.
    """
    settings = spec.training
    torch.set_num_threads(settings.threads)
    device, optimizer, hyperparameters = check_settings(spec)
    if isinstance(data, PreparedData):
        if data.name != spec.dataset:
            raise ValueError(f"the data given are {data.name}'s, not {spec.dataset}'s")
    else:
        data = load_prepared(data, expected_name=spec.dataset)  # verified, and of this dataset
    # Gradient optimizers evaluate no population: their results never depend on it.
    precision, why = resolve_precision(settings.eval_precision, device)
    if optimizer.kind != "evolution":
        precision, why = "fp32", "no population evaluation"
    elif spec.model == "cnn":  # bf16 covers the MLP's shared-input layer only
        precision, why = "fp32", "the CNN evaluates populations in fp32 only"
    elif "emulated" in why:
        log.warning("%s %s seed %d: %s", spec.dataset, spec.optimizer, spec.seed, why)
    # What shapes the result besides the spec: the data's content and that of files it names.
    run_settings = spec.to_dict()
    if optimizer.kind != "evolution" or spec.model == "cnn":  # the setting changes nothing these compute
        run_settings["training"]["eval_precision"] = "fp32"
    run_settings |= {
        "device": device,
        "eval_precision": precision,  # what ran: the setting may be auto
        "data_checksum": data.checksum,
        "files": file_digests(spec.hyperparameters),
    }
    key = result_key(run_settings)
    # A wall-time budget makes the result the machine's: such a run is measured again, never restored.
    if checkpoint_path and not settings.max_seconds:
        expected = spec.to_dict() | {"hyperparameters": asdict(hyperparameters)}
        kept = restore(Path(checkpoint_path).parent, key, expected)
        if kept:
            return kept
    # The checkpoint's fingerprint holds the result key too: the code and versions, not the settings alone.
    run_settings |= {"result_key": key}
    if settings.augment:
        image_shape(data.n_features)  # refuses non-image data by name, before any work
    if settings.subsample:
        data = subsample_train(data, settings.subsample, spec.seed)
    problem = Problem.from_data(data, spec.hidden, spec.activation, device, spec.model, precision)

    run = _start(spec, optimizer, hyperparameters, problem, device, checkpoint_path, run_settings)
    _train_epochs(
        run,
        optimizer,
        problem,
        settings,
        device,
        checkpoint_path,
        checkpoint_seconds,
        run_settings,
        on_epoch,
        progress or Progress(),
    )
    summary = run_summary(spec, run, problem, optimizer, hyperparameters, device, key)
    return summary | {"eval_precision": precision, "eval_precision_why": why}, pd.DataFrame(run.history)
