"""RMSProp (Tieleman & Hinton 2012) through torch.optim.RMSprop, a baseline of the
optimizer-discovery comparison."""

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
    lr: float = 0.001
    alpha: float = 0.99  # decay of the squared-gradient average
    momentum: float = 0.0
    weight_decay: float = 0.0


OPTIMIZER = OptimizerSpec(
    name="rmsprop",
    kind="gradient",
    hyperparameters=Hyperparameters,
    init=torch_optimizer_init(torch.optim.RMSprop),
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
