"""Layerwise CMA-ES, as the prior CMA-ES neuroevolution study describes: one CMA-ES per
layer (weights and bias). For each batch, every layer's CMA-ES evaluates its population
with the other layers held at their current means; then all layers update at once.

All layers' candidates are stacked into one population and evaluated in a single batched
call. `diagonal: auto` decides per layer, by that layer's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroevo.evolution import describe_engine, make_engine
from neuroevo.optimizers.base import OptimizerSpec
from neuroevo.problem import Problem


@dataclass
class Hyperparameters:
    popsize: int | None = None  # per layer; None: the CMA-ES default 4 + 3 ln n_layer
    sigma0: float = 0.1
    diagonal: bool | str = "auto"  # "auto": diagonal for layers above 1000 parameters
    engine: str = "auto"  # "auto", "pycma" or "torch" (torch: diagonal only)


@dataclass
class State:
    slices: list[slice]
    engines: list[object]


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    h = hyperparameters
    slices = problem.spec.layer_slices
    # A distinct seed per layer, so the layers' samples are independent.
    engines = [
        make_engine(params[part], h.sigma0, h.popsize, h.diagonal, h.engine, seed * 1000 + index)
        for index, part in enumerate(slices)
    ]
    return State(slices, engines)


def parameters(state: State) -> torch.Tensor:
    return torch.cat([engine.mean for engine in state.engines])


def step(state: State, problem: Problem, batch) -> dict:
    mean = parameters(state)
    blocks = []
    for part, engine in zip(state.slices, state.engines):
        candidates = engine.ask()
        block = mean.expand(candidates.shape[0], -1).clone()
        block[:, part] = candidates
        blocks.append(block)
    fitness = problem.population_loss(torch.cat(blocks), batch)
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
        key: [describe_engine(engine)[key] for engine in state.engines] for key in ("popsize", "diagonal", "engine")
    },
)
