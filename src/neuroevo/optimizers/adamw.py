"""AdamW (Loshchilov & Hutter 2019, decoupled weight decay) through torch.optim.AdamW."""

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import OptimizerSpec, TorchOptimizerState, torch_optimizer_parameters, torch_optimizer_step


@dataclass
class Hyperparameters:
    lr: float = 0.01  # as adam here (torch's 1e-3 barely moves small models in a few epochs)
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.01


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem, seed: int) -> TorchOptimizerState:
    flat = params.detach().clone().requires_grad_(True)
    h = hyperparameters
    return TorchOptimizerState(flat, torch.optim.AdamW([flat], lr=h.lr, betas=(h.beta1, h.beta2), weight_decay=h.weight_decay))


OPTIMIZER = OptimizerSpec(
    name="adamw",
    kind="gradient",
    hyperparameters=Hyperparameters,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
