"""CMA-ES over all parameters of the network (Hansen & Ostermeier 2001), as in the prior
CMA-ES neuroevolution study: one search distribution, the mean is the evaluated model.

Full covariance runs on pycma; `diagonal` switches to the separable variant (Ros & Hansen
2008), needed past a few thousand parameters, which runs on the torch sep-CMA-ES unless
`engine: pycma` is asked for. Fitness is the mean cross-entropy on the current minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroevo.files.checkpoint import checkpointable
from neuroevo.evolution import describe_engine, make_engine, replay_pycma
from neuroevo.optimizers.base import OptimizerSpec
from neuroevo.models.problem import Problem


@dataclass
class Hyperparameters:
    popsize: int | None = None  # None: the CMA-ES default 4 + 3 ln n
    sigma0: float = 0.1
    diagonal: bool | str = "auto"  # "auto": diagonal above 1000 parameters
    engine: str = "auto"  # "auto", "pycma" or "torch" (torch: diagonal only)
    mirrored: bool = False  # mirrored sampling with pairwise selection (torch engine only)


@checkpointable
@dataclass
class State:
    engine: object

    def __setstate__(self, values: dict) -> None:  # from a checkpoint
        self.__dict__.update(values)
        replay_pycma([self.engine])


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    h = hyperparameters
    if isinstance(h.popsize, list):
        raise ValueError(f"cmaes: popsize must be one number (a list, one per layer, is for layerwise_cmaes), got {h.popsize}")
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
    hyperparameters=Hyperparameters,
    init=init,
    step=step,
    parameters=parameters,
    resolved=lambda state: describe_engine(state.engine),
)
