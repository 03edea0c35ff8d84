"""AdamW (Loshchilov & Hutter 2019, decoupled weight decay) through torch.optim.AdamW."""

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
    lr: float = setting(
        0.01, "Learning rate.", exclusiveMinimum=0
    )  # as adam here (torch's 1e-3 barely moves small models in a few epochs)
    beta1: float = setting(0.9, "Decay of the first moment.", minimum=0, exclusiveMaximum=1)
    beta2: float = setting(0.999, "Decay of the second moment.", minimum=0, exclusiveMaximum=1)
    weight_decay: float = setting(0.01, "Decoupled weight decay.", minimum=0)


SEARCH_SPACE = {"lr": {"distribution": "log_uniform", "low": 0.0001, "high": 0.1}}


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem, seed: int) -> TorchOptimizerState:
    flat = params.detach().clone().requires_grad_(True)
    h = hyperparameters
    return TorchOptimizerState(
        flat, torch.optim.AdamW([flat], lr=h.lr, betas=(h.beta1, h.beta2), weight_decay=h.weight_decay, fused=True)
    )


OPTIMIZER = OptimizerSpec(
    name="adamw",
    kind="gradient",
    description="torch.optim.AdamW (decoupled weight decay).",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
