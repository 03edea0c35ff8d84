"""The update rule the optimizer-discovery write-up evolved (its section 4), built in: two
SIGN_GRAD and two ADAM_TERM terms, warmup and cosine decay, run by GenomeOptimizer."""

from dataclasses import dataclass

from neuroevo.optimizers.base import (
    OptimizerSpec,
    TorchOptimizerState,
    setting,
    torch_optimizer_parameters,
    torch_optimizer_step,
)
from neuroevo.optimizers.evolved import genome_state
from neuroevo.update_rules import PRIOR_GENOME


@dataclass
class Hyperparameters:
    total_steps: int = setting(
        1000, "Horizon of the genome's cosine decay (steps).", minimum=1
    )  # the write-up's protocol: 1000

    def __post_init__(self):
        if self.total_steps < 1:
            raise ValueError(f"evolved_prior: total_steps must be at least 1, got {self.total_steps}")


SEARCH_SPACE: dict = {}  # its settings are the write-up's: nothing to tune


def init(params, hyperparameters: Hyperparameters, problem, seed: int) -> TorchOptimizerState:
    return genome_state(params, PRIOR_GENOME, hyperparameters.total_steps)


OPTIMIZER = OptimizerSpec(
    name="evolved_prior",
    kind="gradient",
    description="The update rule evolved in the optimizer-discovery write-up, run by GenomeOptimizer.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
