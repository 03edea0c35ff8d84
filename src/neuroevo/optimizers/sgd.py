"""Stochastic gradient descent (torch.optim.SGD), optionally with momentum."""

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import (
    OptimizerSpec,
    horizon_setting,
    schedule_setting,
    setting,
    torch_builder,
    torch_optimizer_init,
    torch_optimizer_parameters,
    torch_optimizer_step,
    warmup_setting,
)


@dataclass
class Hyperparameters:
    lr: float = setting(0.1, "Learning rate.", exclusiveMinimum=0)
    momentum: float = setting(0.0, "Momentum factor.", minimum=0, maximum=1)
    weight_decay: float = setting(0.0, "L2 penalty.", minimum=0)
    schedule: str = schedule_setting()
    warmup_fraction: float = warmup_setting()
    total_steps: int = horizon_setting()


SEARCH_SPACE = {"lr": {"distribution": "log_uniform", "low": 0.001, "high": 1.0}}


BUILD = torch_builder(torch.optim.SGD)

OPTIMIZER = OptimizerSpec(
    name="sgd",
    kind="gradient",
    description="torch.optim.SGD.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=torch_optimizer_init(BUILD),
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
    build=BUILD,
)
