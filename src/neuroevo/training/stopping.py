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
from neuroevo.training.summary import scores

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
    budget ends the epoch. The step that spends the FLOP budget is where the equal-budget arm
    reads its model (the overshoot is less than one step); the run goes on while the
    early-stopping arm has not ended."""
    if settings.max_sample_evals and problem.counter.sample_evals >= settings.max_sample_evals:
        return "budget"
    if settings.max_steps and run.step_log.steps >= settings.max_steps:
        return "budget"
    if settings.budget_flops and run.budget is None and problem.counter.flops >= settings.budget_flops:
        model = scores(problem, optimizer.parameters(run.state))
        run.budget = {"status": "reached", "epoch": epoch, **run.cost(problem, seconds), **model}
        return "budget" if run.early is not None else ""
    return ""


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
    if settings.budget_flops:
        spent = [min(spent), problem.counter.flops / settings.budget_flops]
    best = max(row["val_acc"] for row in run.history)
    of = f"{problem.counter.flops:.3g} of {settings.budget_flops:.3g} FLOPs" if settings.budget_flops else ""
    text = (
        f"epoch {epoch}{'' if of else f' of {settings.max_epochs}'}, step {run.step_log.steps}{', ' + of if of else ''}"
    )
    text += f", best val_acc so far {best:.4f}"
    return text, max(spent)
