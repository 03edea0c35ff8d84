"""Stochastic gradient descent (torch.optim.SGD), optionally with momentum."""

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import (
    OptimizerSpec,
    torch_optimizer_init,
    torch_optimizer_parameters,
    torch_optimizer_step,
)


@dataclass
class Hyperparameters:
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0


OPTIMIZER = OptimizerSpec(
    name="sgd",
    kind="gradient",
    hyperparameters=Hyperparameters,
    init=torch_optimizer_init(torch.optim.SGD),
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
