"""Evolution strategies as a gradient estimator (Salimans et al. 2017; Greydanus 2020,
"evostrats"): antithetic Gaussian perturbations of the parameters give a smoothed,
unbiased estimate of the gradient of the loss, which is put into `.grad` and stepped by
an ordinary torch optimizer (SGD or Adam), as the write-up proposes.

    g = 1 / (2 sigma P) * sum_i (f(theta + sigma eps_i) - f(theta - sigma eps_i)) eps_i

With `rank_shaping`, the 2P losses are replaced by their centered ranks in [-0.5, 0.5]
(robust to the scale of the loss). All 2P candidates are evaluated as one population.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.problem import Problem
from neuroevo.optimizers.base import OptimizerSpec, setting

INNER_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


@checkpointable
@dataclass
class Hyperparameters:
    pairs: int = setting(16, "Antithetic pairs per step (2 * pairs model evaluations).", minimum=1)
    sigma: float = setting(0.02, "Perturbation scale (smoothing of the loss surface).", exclusiveMinimum=0)
    lr: float = setting(0.01, "Learning rate of the inner optimizer.", exclusiveMinimum=0)
    inner: str = setting(
        "adam", "The torch optimizer the estimate is handed to.", enum=["adam", "sgd"]
    )  # keys of INNER_OPTIMIZERS
    rank_shaping: bool = setting(True, "Replace losses by centered ranks.")

    def __post_init__(self):
        if self.pairs < 1:
            raise ValueError(f"es: pairs must be at least 1, got {self.pairs}")
        if self.sigma <= 0:
            raise ValueError(f"es: sigma must be positive, got {self.sigma}")
        if self.inner not in INNER_OPTIMIZERS:
            raise ValueError(f"es: unknown inner optimizer {self.inner!r} (known: {', '.join(INNER_OPTIMIZERS)})")


SEARCH_SPACE = {
    "lr": {"distribution": "log_uniform", "low": 0.001, "high": 0.1},
    "sigma": {"distribution": "log_uniform", "low": 0.005, "high": 0.1},
}


@checkpointable
@dataclass
class State:
    params: torch.Tensor
    optimizer: torch.optim.Optimizer
    hyperparameters: Hyperparameters
    generator: torch.Generator


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    flat = params.detach().clone()
    fused = {"fused": True} if hyperparameters.inner == "adam" else {}  # Adam's one-kernel step
    optimizer = INNER_OPTIMIZERS[hyperparameters.inner]([flat], lr=hyperparameters.lr, **fused)
    generator = torch.Generator(device=flat.device).manual_seed(seed)
    return State(flat, optimizer, hyperparameters, generator)


def centered_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks scaled to [-0.5, 0.5] (the fitness shaping of Salimans et al.)."""
    ranks = torch.empty_like(values)
    ranks[values.argsort()] = torch.arange(len(values), dtype=values.dtype, device=values.device)
    return ranks / (len(values) - 1) - 0.5


def estimate_gradient(state: State, problem: Problem, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(gradient estimate [n], losses of the 2P perturbed candidates)."""
    h = state.hyperparameters
    noise = torch.randn(h.pairs, state.params.numel(), generator=state.generator, device=state.params.device)
    population = torch.cat([state.params + h.sigma * noise, state.params - h.sigma * noise])
    losses = problem.population_loss(population, batch)
    weights = centered_ranks(losses) if h.rank_shaping else losses
    difference = weights[: h.pairs] - weights[h.pairs :]
    return difference @ noise / (2 * h.sigma * h.pairs), losses


def step(state: State, problem: Problem, batch) -> dict:
    gradient, losses = estimate_gradient(state, problem, batch)
    state.params.grad = gradient
    state.optimizer.step()
    return {"loss": float(losses.mean())}


def parameters(state: State) -> torch.Tensor:
    return state.params.detach()


OPTIMIZER = OptimizerSpec(
    name="es",
    kind="evolution",
    description="ES gradient estimator (antithetic pairs) stepped by an ordinary torch optimizer.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=step,
    parameters=parameters,
)
