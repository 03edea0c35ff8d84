"""A toy optimizer written as a contributor would write a new one, outside the package:
plain gradient descent. tests/test_optimizers.py registers it with the registry's own
`register` and runs it through the tests every registered optimizer gets."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import OptimizerSpec, setting


@dataclass
class Hyperparameters:
    lr: float = setting(0.5, "Step size.", exclusiveMinimum=0)
    steps_per_batch: int = setting(1, "Gradient steps on each minibatch.", minimum=1)


SEARCH_SPACE = {"lr": {"distribution": "log_uniform", "low": 0.01, "high": 1.0}}


@dataclass
class State:
    params: torch.Tensor
    hyperparameters: Hyperparameters


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem, seed: int) -> State:
    return State(params.detach().clone().requires_grad_(True), hyperparameters)


def step(state: State, problem, batch) -> dict:
    for _ in range(state.hyperparameters.steps_per_batch):
        loss = problem.loss_and_grad(state.params, batch)
        with torch.no_grad():
            state.params -= state.hyperparameters.lr * state.params.grad
    return {"loss": float(loss)}


def parameters(state: State) -> torch.Tensor:
    return state.params.detach()


OPTIMIZER = OptimizerSpec(
    name="toy",
    kind="gradient",
    description="Plain gradient descent (a test's toy).",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=step,
    parameters=parameters,
)
