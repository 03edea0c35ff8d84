"""An update rule from a genome file (JSON, as the discovery study writes its best one),
run by GenomeOptimizer."""

from dataclasses import dataclass

from neuroevo.optimizers.base import OptimizerSpec, TorchOptimizerState, torch_optimizer_parameters, torch_optimizer_step
from neuroevo.update_rules import Genome, GenomeOptimizer


@dataclass
class Hyperparameters:
    genome_file: str = ""  # path of the genome JSON; required
    total_steps: int = 1000  # the horizon of the cosine decay

    def __post_init__(self):
        if self.total_steps < 1:
            raise ValueError(f"evolved: total_steps must be at least 1, got {self.total_steps}")


def genome_state(params, genome: Genome, total_steps: int) -> TorchOptimizerState:
    """The flat parameters stepped by GenomeOptimizer running `genome` (also evolved_prior's)."""
    flat = params.detach().clone().requires_grad_(True)
    return TorchOptimizerState(flat, GenomeOptimizer([flat], genome, total_steps))


def init(params, hyperparameters: Hyperparameters, problem, seed: int) -> TorchOptimizerState:
    if not hyperparameters.genome_file:
        raise ValueError("evolved: genome_file is required (a genome JSON, e.g. a discovery study's best_genome.json)")
    return genome_state(params, Genome.load(hyperparameters.genome_file), hyperparameters.total_steps)


OPTIMIZER = OptimizerSpec(
    name="evolved",
    kind="gradient",
    hyperparameters=Hyperparameters,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
)
