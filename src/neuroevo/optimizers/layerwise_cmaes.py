"""Layerwise CMA-ES, as the prior CMA-ES neuroevolution study describes: one CMA-ES per
layer (weights and bias). For each batch, every layer's CMA-ES evaluates its population
with the other layers held at their current means; then all layers update at once.

All layers' candidates are evaluated in one call, batched: the first layer's as one
population, the output layer's from the mean's hidden activations, computed once (see
`Problem.layer_population_loss`). `diagonal: auto` decides per layer, by that layer's size.
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
    popsize: int | list[int | None] | None = None  # per layer, or a list of one per layer; None: 4 + 3 ln n_layer
    sigma0: float = 0.1
    diagonal: bool | str = "auto"  # "auto": diagonal for layers above 1000 parameters
    engine: str = "auto"  # "auto", "pycma" or "torch" (torch: diagonal only)
    mirrored: bool = False  # mirrored sampling with pairwise selection (torch engine only)


@checkpointable
@dataclass
class State:
    slices: list[slice]
    engines: list[object]

    def __setstate__(self, values: dict) -> None:  # from a checkpoint
        self.__dict__.update(values)
        replay_pycma(self.engines)


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    h = hyperparameters
    slices = problem.spec.layer_slices
    popsizes = h.popsize if isinstance(h.popsize, list) else [h.popsize] * len(slices)
    if len(popsizes) != len(slices):
        raise ValueError(f"layerwise_cmaes: popsize {h.popsize} must list one size per layer ({len(slices)} layers)")
    # A distinct seed per layer, so the layers' samples are independent.
    engines = [
        make_engine(params[part], h.sigma0, popsize, h.diagonal, h.engine, seed * 1000 + index, h.mirrored)
        for index, (part, popsize) in enumerate(zip(slices, popsizes))
    ]
    return State(slices, engines)


def parameters(state: State) -> torch.Tensor:
    return torch.cat([engine.mean for engine in state.engines])


def step(state: State, problem: Problem, batch) -> dict:
    blocks = [engine.ask() for engine in state.engines]
    fitness = problem.layer_population_loss(parameters(state), blocks, batch)
    for engine, layer_fitness in zip(state.engines, fitness.split([len(block) for block in blocks])):
        engine.tell(layer_fitness)
    return {
        "loss": float(fitness.mean()),
        "best_loss": float(fitness.min()),
        "sigma": max(engine.sigma for engine in state.engines),
    }


OPTIMIZER = OptimizerSpec(
    name="layerwise_cmaes",
    kind="evolution",
    hyperparameters=Hyperparameters,
    init=init,
    step=step,
    parameters=parameters,
    resolved=lambda state: {
        key: [describe_engine(engine)[key] for engine in state.engines] for key in ("popsize", "diagonal", "engine", "mirrored")
    },
)
