"""Adam (Kingma & Ba 2015) through torch.optim.Adam."""

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import (
    OptimizerSpec,
    TorchOptimizerState,
    torch_optimizer_parameters,
    torch_optimizer_step,
)


@dataclass
class Hyperparameters:
    lr: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem, seed: int) -> TorchOptimizerState:
    flat = params.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam(
        [flat],
        lr=hyperparameters.lr,
        betas=(hyperparameters.beta1, hyperparameters.beta2),
        weight_decay=hyperparameters.weight_decay,
    )
    return TorchOptimizerState(flat, optimizer)


OPTIMIZER = OptimizerSpec(
    name="adam",
    kind="gradient",
    hyperparameters=Hyperparameters,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
