"""An update rule from a genome file (JSON, as the discovery study writes its best one),
run by GenomeOptimizer. The sha256 of the file's content goes into the run's summary
(hyperparameters.genome_sha256): a path alone does not say which genome a run used."""

from dataclasses import dataclass

from neuroevo.files.checkpoint import checkpointable
from neuroevo.optimizers.base import (
    OptimizerSpec,
    TorchOptimizerState,
    setting,
    torch_optimizer_parameters,
    torch_optimizer_step,
)
from neuroevo.update_rules import Genome, GenomeOptimizer


@dataclass
class Hyperparameters:
    genome_file: str = setting(
        "",  # no default genome: init refuses an empty path
        "Path of the genome JSON (required when `evolved` runs), relative to the working directory; an input of the runs "
        "that use it, so a changed file reruns them.",
    )
    total_steps: int = setting(1000, "Horizon of the genome's cosine decay (steps).", minimum=1)

    def __post_init__(self):
        if self.total_steps < 1:
            raise ValueError(f"evolved: total_steps must be at least 1, got {self.total_steps}")


SEARCH_SPACE: dict = {}  # the genome is the rule: nothing to tune


@checkpointable
@dataclass
class GenomeFileState(TorchOptimizerState):
    genome_sha256: str = ""  # of the bytes the genome was read from, at init (a resumed run keeps it)


def genome_state(params, genome: Genome, total_steps: int) -> TorchOptimizerState:
    """The flat parameters stepped by GenomeOptimizer running `genome` (also evolved_prior's)."""
    flat = params.detach().clone().requires_grad_(True)
    return TorchOptimizerState(flat, GenomeOptimizer([flat], genome, total_steps))


def init(params, hyperparameters: Hyperparameters, problem, seed: int) -> GenomeFileState:
    if not hyperparameters.genome_file:
        raise ValueError("evolved: genome_file is required (a genome JSON, e.g. a discovery study's best_genome.json)")
    # Hashed from the very bytes parsed, so the record cannot name another version of the file.
    genome, sha256 = Genome.read(hyperparameters.genome_file)
    state = genome_state(params, genome, hyperparameters.total_steps)
    return GenomeFileState(state.params, state.optimizer, genome_sha256=sha256)


OPTIMIZER = OptimizerSpec(
    name="evolved",
    kind="gradient",
    description="An update rule from a genome JSON file, run by GenomeOptimizer.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=torch_optimizer_step,
    parameters=torch_optimizer_parameters,
    resolved=lambda state: {"genome_sha256": state.genome_sha256},
)
