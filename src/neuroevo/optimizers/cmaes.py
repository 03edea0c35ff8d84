"""CMA-ES over all parameters of the network (Hansen & Ostermeier 2001), as in the prior
CMA-ES neuroevolution study: one search distribution, the mean is the evaluated model.

Full covariance runs on pycma; `diagonal` switches to the separable variant (Ros & Hansen
2008), needed past a few thousand parameters, which runs on the torch sep-CMA-ES unless
`engine: pycma` is asked for. Fitness is the mean cross-entropy on the current minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroevo.evolution import SearchDistribution, describe_engine, make_engine, replay_pycma
from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.problem import Problem
from neuroevo.optimizers.base import OptimizerSpec, setting


@dataclass
class Hyperparameters:
    popsize: int | None = setting(None, "Population size; null for the CMA-ES default 4 + 3 ln(n).", minimum=2)
    sigma0: float = setting(0.1, "Initial step size.", exclusiveMinimum=0)
    diagonal: bool | str = setting(
        "auto",
        'Separable (diagonal covariance) CMA-ES; "auto" uses it above 1000 parameters.',
        enum=[True, False, "auto"],
    )
    engine: str = setting(
        "auto",
        "auto: torch sep-CMA-ES when diagonal, pycma otherwise; pycma; torch (diagonal only).",
        enum=["auto", "pycma", "torch"],
    )
    mirrored: bool = setting(
        False, "Mirrored sampling with pairwise selection (torch engine only); halves the normals drawn."
    )


SEARCH_SPACE = {
    "popsize": {"distribution": "int", "low": 8, "high": 64, "log": True},
    "sigma0": {"distribution": "log_uniform", "low": 0.01, "high": 0.5},
}


@checkpointable
@dataclass
class State:
    engine: SearchDistribution

    def __setstate__(self, values: dict) -> None:  # from a checkpoint
        self.__dict__.update(values)
        replay_pycma([self.engine])


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    h = hyperparameters
    if isinstance(h.popsize, list):
        raise ValueError(
            f"cmaes: popsize must be one number (a list, one per layer, is for layerwise_cmaes), got {h.popsize}"
        )
    return State(make_engine(params, h.sigma0, h.popsize, h.diagonal, h.engine, seed, h.mirrored))


def step(state: State, problem: Problem, batch) -> dict:
    population = state.engine.ask()
    fitness = problem.population_loss(population, batch)
    state.engine.tell(fitness)
    return {"loss": float(fitness.mean()), "best_loss": float(fitness.min()), "sigma": state.engine.sigma}


def parameters(state: State) -> torch.Tensor:
    return state.engine.mean


OPTIMIZER = OptimizerSpec(
    name="cmaes",
    kind="evolution",
    description="CMA-ES over all parameters.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=step,
    parameters=parameters,
    resolved=lambda state: describe_engine(state.engine),
)
