"""When a run, or one of its two arms, ends: divergence, the step, sample, wall-time and FLOP
budgets, the patience and max_epochs, checked by the loop after each minibatch step and after
each epoch; and how far a run is, for its progress line."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from neuroevo.config.run_spec import TrainingSettings
from neuroevo.models.problem import Problem
from neuroevo.training.fitness import divergence
from neuroevo.training.summary import RUNG_KEYS, scores

if TYPE_CHECKING:  # the loop's state, read and marked here, never built
    from neuroevo.training.loop import RunState

# A run's status in its summary: ran all max_epochs, ran out of patience, reached a budget
# (steps, sample evaluations or seconds), or diverged (the best model so far is reported).
RunStatus = Literal["completed", "early_stopped", "budget", "diverged"]
# How one epoch's minibatches ended: all taken (""), at a non-finite loss, or at a budget.
EpochOutcome = Literal["", "diverged", "budget"]


@dataclass
class Stop:
    """How the early-stopping arm (a run without a FLOP budget: the run) ended: its status,
    the message that says why, and its last epoch."""

    status: RunStatus
    message: str
    epoch: int


def stop_reason(
    epoch: int, outcome: EpochOutcome, stats: dict, run: RunState, current, settings: TrainingSettings
) -> Stop | None:
    """Why the early-stopping arm ends after `epoch`, or None to go on (also None once it has
    ended, unless the run diverges). Checked in this order: divergence (a non-finite minibatch
    loss, then the model's loss exploding), then, after the early stopping has seen the epoch's
    model `current`, a step or sample budget, the wall-time budget, the patience running out
    and max_epochs."""
    if outcome == "diverged":
        return Stop(
            "diverged",
            f"training loss became {stats['loss']} in epoch {epoch}; stopped, best model so far reported",
            epoch,
        )
    exploded = divergence(run.history)
    if exploded:
        return Stop("diverged", exploded, epoch)
    if run.early is not None:
        return None
    patience_spent = run.stopping.update(epoch, run.history[-1]["val_loss"], current)
    steps_reached = settings.max_steps and run.step_log.steps >= settings.max_steps
    samples_reached = settings.max_sample_evals and run.history[-1]["sample_evals"] >= settings.max_sample_evals
    if steps_reached or samples_reached:
        reached = (
            f"step budget {settings.max_steps}"
            if steps_reached
            else f"sample evaluation budget {settings.max_sample_evals}"
        )
        return Stop("budget", f"{reached} reached", epoch)
    if settings.max_seconds and run.history[-1]["wall_s"] >= settings.max_seconds:
        return Stop("budget", f"wall-time budget of {settings.max_seconds} s reached", epoch)
    if patience_spent:
        return Stop(
            "early_stopped", f"no val_loss improvement > {settings.min_delta} for {settings.patience} epochs", epoch
        )
    if epoch >= settings.max_epochs:
        return Stop("completed", "", epoch)
    return None


def step_outcome(
    run: RunState, problem: Problem, optimizer, settings: TrainingSettings, epoch: float, seconds: float
) -> EpochOutcome:
    """After a minibatch step (`seconds` in steps so far, `epoch` fractional): "budget" when a
    budget ends the epoch. Each rung mark of the ladder the step spends is where the
    equal-budget arm reads its model (the overshoot is less than one step); the run goes on
    past the top mark while the early-stopping arm has not ended."""
    if settings.max_sample_evals and problem.counter.sample_evals >= settings.max_sample_evals:
        return "budget"
    if settings.max_steps and run.step_log.steps >= settings.max_steps:
        return "budget"
    if reach_marks(run, problem, optimizer, settings, epoch, seconds):
        return "budget" if run.early is not None else ""
    return ""


def reach_marks(
    run: RunState, problem: Problem, optimizer, settings: TrainingSettings, epoch: float, seconds: float
) -> bool:
    """Records a rung for every mark of the ladder not yet recorded that the FLOPs counted so
    far have reached, all read from one scoring of the model (the step that spends them);
    True when that completes the ladder, whose top rung then is the equal-budget arm's end
    (`run.budget`). Scoring draws no random numbers, so the run goes on as it would unread."""
    marks = settings.budget_marks
    if len(run.rungs) == len(marks) or problem.counter.flops < marks[len(run.rungs)]:
        return False
    model = scores(problem, optimizer.parameters(run.state))
    reading = {"status": "reached", "epoch": epoch, **run.cost(problem, seconds), **model}
    record_rungs(run, settings, reading, problem.counter.flops)
    return run.budget is not None


def record_rungs(run: RunState, settings: TrainingSettings, reading: dict, flops: float) -> None:
    """Appends to `run.rungs` the ladder's next rungs whose marks are at most `flops` (every
    one left for math.inf: a diverged run's), each with the model and work of `reading`
    (status, epoch, the cost and the scores); the one that completes the ladder also sets
    `run.budget` to `reading`, as the equal-budget arm's end."""
    marks = settings.budget_marks
    values = {key: reading[key] for key in RUNG_KEYS if key in reading} | {"epoch": float(reading["epoch"])}
    while len(run.rungs) < len(marks) and marks[len(run.rungs)] <= flops:
        index = len(run.rungs)
        run.rungs.append({"multiple": settings.budget_multiples[index], "mark_flops": marks[index]} | values)
    if marks and len(run.rungs) == len(marks) and run.budget is None:
        run.budget = reading


def progress_detail(run: RunState, problem: Problem, settings: TrainingSettings, epoch: int, share: float):
    """What a progress line says of a run in `epoch` (`share` of its minibatches taken), and
    the fraction of its budget spent: the largest of epochs, steps, samples and seconds, or
    with a FLOP budget the FLOPs."""
    spent = [(epoch - 1 + share) / settings.max_epochs]
    if settings.max_steps:
        spent.append(run.step_log.steps / settings.max_steps)
    if settings.max_sample_evals:
        spent.append(problem.counter.sample_evals / settings.max_sample_evals)
    if settings.max_seconds:
        spent.append((time.perf_counter() - run.start) / settings.max_seconds)
    of = ""
    if settings.budget_end and run.budget is None:
        spent = [min(spent), problem.counter.flops / settings.budget_end]
        of = f"{problem.counter.flops:.3g} of {settings.budget_end:.3g} FLOPs"
    elif settings.budget_end:  # the top rung is read: only the early-stopping arm goes on
        spent = [min(spent)]
        of = (
            f"{problem.counter.flops:.3g} FLOPs, past the top rung's {settings.budget_end:.3g} (early stopping goes on)"
        )
    best = max(row["val_acc"] for row in run.history)
    text = (
        f"epoch {epoch}{'' if of else f' of {settings.max_epochs}'}, step {run.step_log.steps}{', ' + of if of else ''}"
    )
    text += f", best val_acc so far {best:.4f}"
    return text, max(spent)
