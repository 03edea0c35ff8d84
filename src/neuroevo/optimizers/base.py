"""The contract every optimizer implements, and the helpers the gradient ones share.

An optimizer is a module with a `Hyperparameters` dataclass (its fields are the config and
tuning keys; each is a `setting`, whose default, description and bounds
`python -m neuroevo schema` writes into the config schema), a default search space
`SEARCH_SPACE` (hyperparameter -> distribution, as in neuroevo.config.search_space), an
`OPTIMIZER = OptimizerSpec(...)` and three functions:

    init(params, hyperparameters, problem, seed) -> state
    step(state, problem, batch) -> stats   # dict with at least "loss" (mean batch loss)
    parameters(state) -> flat tensor       # the model to evaluate (the mean for ES)
    resolved(state) -> dict                # optional: values decided at init (popsize...)
    check(hyperparameters, n_layers)       # optional: refuses settings the model's layers do not fit

A gradient optimizer that is a torch.optim optimizer also gives `build(params, hyperparameters)`,
so that code training an nn.Module (the discovery's tuning of baselines) builds exactly the
optimizer the training loop runs; its learning-rate schedule (`schedule`, constant or warmup +
cosine) comes from `lr_schedule`.

The training loop is the same for all of them; `problem` counts their work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.problem import Problem
from neuroevo.update_rules import GenomeOptimizer
from neuroevo.update_rules.genome_optimizer import lr_factor

checkpointable(GenomeOptimizer)  # the torch optimizers a TorchOptimizerState holds (torch.optim's: checkpoint.py)


KINDS = ("gradient", "evolution")


def setting(default: Any, description: str, **schema: Any) -> Any:
    """A Hyperparameters field: its default and what the config schema says of it. `schema`
    holds JSON Schema keywords (minimum, exclusiveMinimum, maximum, exclusiveMaximum, enum,
    oneOf, items); the type comes from the annotation (`X | None` allows null) unless an
    enum or oneOf says it all."""
    return dataclasses.field(default=default, metadata={"description": description, "schema": schema})


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    kind: str  # "gradient" or "evolution"
    description: str  # one line: the schema's description of its optimizer_settings block
    hyperparameters: type
    search_space: dict  # the default tuning search space ({}: not tuned)
    init: Callable[[torch.Tensor, Any, Problem, int], Any]
    step: Callable[[Any, Problem, tuple[torch.Tensor, torch.Tensor]], dict]
    parameters: Callable[[Any], torch.Tensor]
    resolved: Callable[[Any], dict] = lambda state: {}
    build: Callable[[list[torch.Tensor], Any], torch.optim.Optimizer] | None = None  # torch.optim ones
    # check(hyperparameters, n_layers): refuses settings that do not fit the model's layers
    check: Callable[[Any, int], None] | None = None

    def make_hyperparameters(self, values: dict) -> Any:
        """The dataclass from a config block; an unknown key is an error naming it."""
        known = {field.name for field in dataclasses.fields(self.hyperparameters)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown hyperparameter(s) {', '.join(map(repr, unknown))} for optimizer "
                f"{self.name!r}; known: {', '.join(sorted(known))}"
            )
        return self.hyperparameters(**values)


SCHEDULES = ("constant", "warmup_cosine")
SCHEDULE_KEYS = ("schedule", "warmup_fraction", "total_steps")


# The schedule's three settings, one call each in a Hyperparameters class (a field object
# cannot be shared between dataclasses).
def schedule_setting() -> Any:
    return setting(
        "constant",
        "Learning-rate schedule: constant, or warmup_cosine (linear warmup over warmup_fraction of total_steps, then "
        "cosine decay to 0 at total_steps: the schedule of the optimizer-discovery write-up's genome).",
        enum=list(SCHEDULES),
    )


def warmup_setting() -> Any:
    return setting(0.1, "Share of total_steps spent in linear warmup (warmup_cosine).", minimum=0, exclusiveMaximum=1)


def horizon_setting() -> Any:
    return setting(
        1000, "Steps to the end of the cosine decay (warmup_cosine); the learning rate is 0 after.", minimum=1
    )


@checkpointable
@dataclass
class LRSchedule:
    """Linear warmup then cosine decay of every parameter group's learning rate, set before
    each step from the step count (plain numbers, so a checkpoint holds it as data)."""

    base_lrs: list[float]
    warmup_steps: int
    total_steps: int
    steps: int = 0

    def before_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.steps += 1
        factor = lr_factor(self.steps, self.total_steps, self.warmup_steps)
        for group, lr in zip(optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = lr * factor


def lr_schedule(optimizer: torch.optim.Optimizer, hyperparameters: Any) -> LRSchedule | None:
    """The schedule `hyperparameters` ask for (None: constant), over the optimizer's learning rates."""
    schedule = getattr(hyperparameters, "schedule", "constant")
    if schedule == "constant":
        return None
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    if not 0 <= hyperparameters.warmup_fraction < 1 or hyperparameters.total_steps < 1:
        raise ValueError(
            f"warmup_fraction must be in [0, 1) and total_steps at least 1, got {hyperparameters.warmup_fraction} "
            f"and {hyperparameters.total_steps}"
        )
    warmup = round(hyperparameters.warmup_fraction * hyperparameters.total_steps)
    return LRSchedule([group["lr"] for group in optimizer.param_groups], warmup, hyperparameters.total_steps)


def optimizer_settings(hyperparameters: Any) -> dict:
    """The hyperparameters a torch.optim constructor takes: all but the schedule's."""
    return {key: value for key, value in dataclasses.asdict(hyperparameters).items() if key not in SCHEDULE_KEYS}


@checkpointable
@dataclass
class TorchOptimizerState:
    params: torch.Tensor
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule | None = None  # (a checkpoint from before schedules has none: the class default)


def torch_builder(optimizer_class: type, **settings: Any) -> Callable[[list[torch.Tensor], Any], torch.optim.Optimizer]:
    """`build` of an optimizer whose hyperparameters are its torch class's keyword arguments."""

    def build(params: list[torch.Tensor], hyperparameters: Any) -> torch.optim.Optimizer:
        return optimizer_class(params, **settings, **optimizer_settings(hyperparameters))

    return build


def torch_optimizer_init(build: Callable[[list[torch.Tensor], Any], torch.optim.Optimizer]) -> Callable:
    """`init` of a torch.optim optimizer over the flat parameters, with its schedule."""

    def init(params: torch.Tensor, hyperparameters: Any, problem: Problem, seed: int) -> TorchOptimizerState:
        flat = params.detach().clone().requires_grad_(True)
        optimizer = build([flat], hyperparameters)
        return TorchOptimizerState(flat, optimizer, lr_schedule(optimizer, hyperparameters))

    return init


def torch_optimizer_step(state: TorchOptimizerState, problem: Problem, batch) -> dict:
    loss = problem.loss_and_grad(state.params, batch)
    if state.schedule is not None:
        state.schedule.before_step(state.optimizer)
    state.optimizer.step()
    return {"loss": float(loss)}


def torch_optimizer_parameters(state: TorchOptimizerState) -> torch.Tensor:
    return state.params.detach()
