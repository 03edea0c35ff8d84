"""Layerwise CMA-ES, as the prior CMA-ES neuroevolution study describes: one CMA-ES per
layer (weights and bias). For each batch, every layer's CMA-ES evaluates its population
with the other layers held at their current means; then all layers update at once.

All layers' candidates are evaluated in one call, batched: the first layer's as one
population, a later layer's from the mean's activations before it, computed once (see
`Problem.layer_population_loss`), for any number of layers of any model. `diagonal: auto` decides per layer, by that layer's size.
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
    popsize: int | None | list[int | None] = setting(
        None,
        "Population size of every layer, or a list of one per layer; null for the CMA-ES default 4 + 3 ln(n) of the layer.",
        minimum=2,
        items={"type": ["integer", "null"], "minimum": 2},
    )
    sigma0: float = setting(0.1, "Initial step size.", exclusiveMinimum=0)
    diagonal: bool | str = setting(
        "auto",
        'Separable (diagonal covariance) CMA-ES; "auto" uses it for layers above 1000 parameters.',
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
    slices: list[slice]
    engines: list[SearchDistribution]

    def __setstate__(self, values: dict) -> None:  # from a checkpoint
        self.__dict__.update(values)
        replay_pycma(self.engines)


def check(hyperparameters: Hyperparameters, n_layers: int) -> None:
    popsize = hyperparameters.popsize
    if isinstance(popsize, list) and len(popsize) != n_layers:
        raise ValueError(
            f"layerwise_cmaes: hyperparameters.popsize {popsize} must list one size per layer: the model has "
            f"{n_layers} layers (weight-and-bias groups); give {n_layers} sizes, or one number for all"
        )


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    h = hyperparameters
    slices = [group.part for group in problem.groups]
    check(h, len(slices))
    popsizes = h.popsize if isinstance(h.popsize, list) else [h.popsize] * len(slices)
    # A distinct seed per layer, so the layers' samples are independent.
    engines = [
        make_engine(params[part], h.sigma0, popsize, h.diagonal, h.engine, seed * 1000 + index, h.mirrored)
        for index, (part, popsize) in enumerate(zip(slices, popsizes, strict=True))
    ]
    return State(slices, engines)


def parameters(state: State) -> torch.Tensor:
    return torch.cat([engine.mean for engine in state.engines])


def step(state: State, problem: Problem, batch) -> dict:
    blocks = [engine.ask() for engine in state.engines]
    fitness = problem.layer_population_loss(parameters(state), blocks, batch)
    for engine, layer_fitness in zip(state.engines, fitness.split([len(block) for block in blocks]), strict=True):
        engine.tell(layer_fitness)
    return {
        "loss": float(fitness.mean()),
        "best_loss": float(fitness.min()),
        "sigma": max(engine.sigma for engine in state.engines),
    }


OPTIMIZER = OptimizerSpec(
    name="layerwise_cmaes",
    kind="evolution",
    description="One CMA-ES per layer; popsize is per layer.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=step,
    parameters=parameters,
    check=check,
    resolved=lambda state: {
        key: [describe_engine(engine)[key] for engine in state.engines]
        for key in ("popsize", "diagonal", "engine", "mirrored")
    },
)
