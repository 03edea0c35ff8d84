"""AdamW (Loshchilov & Hutter 2019, decoupled weight decay) through torch.optim.AdamW."""

from dataclasses import dataclass

import torch

from neuroevo.optimizers.base import (
    OptimizerSpec,
    horizon_setting,
    schedule_setting,
    setting,
    torch_optimizer_init,
    torch_optimizer_parameters,
    torch_optimizer_step,
    warmup_setting,
)


@dataclass
class Hyperparameters:
    lr: float = setting(
        0.01, "Learning rate.", exclusiveMinimum=0
    )  # as adam here (torch's 1e-3 barely moves small models in a few epochs)
    beta1: float = setting(0.9, "Decay of the first moment.", minimum=0, exclusiveMaximum=1)
    beta2: float = setting(0.999, "Decay of the second moment.", minimum=0, exclusiveMaximum=1)
    weight_decay: float = setting(0.01, "Decoupled weight decay.", minimum=0)
    schedule: str = schedule_setting()
    warmup_fraction: float = warmup_setting()
    total_steps: int = horizon_setting()


SEARCH_SPACE = {"lr": {"distribution": "log_uniform", "low": 0.0001, "high": 0.1}}


def build(params: list[torch.Tensor], hyperparameters: Hyperparameters) -> torch.optim.AdamW:
    h = hyperparameters
    return torch.optim.AdamW(params, lr=h.lr, betas=(h.beta1, h.beta2), weight_decay=h.weight_decay, fused=True)


OPTIMIZER = OptimizerSpec(
    name="adamw",
    kind="gradient",
    description="torch.optim.AdamW (decoupled weight decay).",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=torch_optimizer_init(build),
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
    build=build,
)
