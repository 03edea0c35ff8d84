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


@checkpointable
@dataclass
class TorchOptimizerState:
    params: torch.Tensor
    optimizer: torch.optim.Optimizer


def torch_optimizer_init(optimizer_class: type, **settings: Any) -> Callable:
    def init(params: torch.Tensor, hyperparameters: Any, problem: Problem, seed: int) -> TorchOptimizerState:
        flat = params.detach().clone().requires_grad_(True)
        return TorchOptimizerState(flat, optimizer_class([flat], **settings, **dataclasses.asdict(hyperparameters)))

    return init


def torch_optimizer_step(state: TorchOptimizerState, problem: Problem, batch) -> dict:
    loss = problem.loss_and_grad(state.params, batch)
    state.optimizer.step()
    return {"loss": float(loss)}


def torch_optimizer_parameters(state: TorchOptimizerState) -> torch.Tensor:
    return state.params.detach()
