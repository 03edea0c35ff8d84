"""PGPE, policy gradients with parameter-based exploration (Sehnke et al. 2010), with the
ClipUp optimizer (Toklu et al. 2020) and centered ranks, as EvoTorch and EvoJAX run it.

A diagonal Gaussian N(mu, diag(stdev^2)) is sampled in symmetric pairs mu +- eps. With the
utilities u of the 2N candidates (centered ranks of the negated losses, so the lowest loss
gets +0.5), the REINFORCE estimates of the gradients of the expected utility are

    grad_mu    = 1/N sum_i (u+_i - u-_i) / 2 * eps_i
    grad_stdev = 1/N sum_i ((u+_i + u-_i) / 2 - mean(u)) * (eps_i^2 - stdev^2) / stdev

ClipUp follows grad_mu with a velocity of normalized steps (step size `center_lr`, momentum),
whose length is clipped at `max_speed`; stdev takes a plain step of `stdev_lr` that may
change each entry by at most `stdev_max_change` of its value. The mean is the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.problem import Problem
from neuroevo.optimizers.base import OptimizerSpec, setting
from neuroevo.optimizers.es import centered_ranks


@checkpointable
@dataclass
class Hyperparameters:
    popsize: int = setting(64, "Candidates per generation, in symmetric pairs (even).", minimum=2, multipleOf=2)
    center_lr: float = setting(
        0.05, "ClipUp's step size: the length of each normalized step of the mean.", exclusiveMinimum=0
    )
    max_speed: float | None = setting(
        None, "ClipUp's largest velocity (length of a mean's update); null for 2 x center_lr.", exclusiveMinimum=0
    )
    momentum: float = setting(0.9, "ClipUp's momentum.", minimum=0, exclusiveMaximum=1)
    stdev_init: float = setting(0.02, "Initial standard deviation of every parameter.", exclusiveMinimum=0)
    stdev_lr: float = setting(0.1, "Learning rate of the standard deviations.", minimum=0)
    stdev_max_change: float = setting(
        0.2,
        "Largest relative change of a standard deviation in one generation.",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    )
    rank_shaping: bool = setting(True, "Replace losses by centered ranks.")

    def __post_init__(self):
        if isinstance(self.popsize, bool) or not isinstance(self.popsize, int) or self.popsize < 2 or self.popsize % 2:
            raise ValueError(
                f"pgpe: popsize must be an even number of at least 2 (symmetric pairs), got {self.popsize}"
            )
        for key in ("center_lr", "stdev_init"):
            if not getattr(self, key) > 0:
                raise ValueError(f"pgpe: {key} must be positive, got {getattr(self, key)}")
        if not 0 < self.stdev_max_change < 1:
            raise ValueError(f"pgpe: stdev_max_change must be in (0, 1), got {self.stdev_max_change}")
        if self.max_speed is not None and not self.max_speed > 0:
            raise ValueError(f"pgpe: max_speed must be positive or null, got {self.max_speed}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"pgpe: momentum must be in [0, 1), got {self.momentum}")


SEARCH_SPACE = {
    "center_lr": {"distribution": "log_uniform", "low": 0.005, "high": 0.3},
    "stdev_init": {"distribution": "log_uniform", "low": 0.005, "high": 0.1},
}


@checkpointable
@dataclass
class State:
    mean: torch.Tensor
    stdev: torch.Tensor
    velocity: torch.Tensor
    hyperparameters: Hyperparameters
    generator: torch.Generator


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    mean = params.detach().clone()
    stdev = torch.full_like(mean, hyperparameters.stdev_init)
    generator = torch.Generator(device=mean.device).manual_seed(seed)
    return State(mean, stdev, torch.zeros_like(mean), hyperparameters, generator)


def gradients(state: State, losses: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(grad_mu, grad_stdev) of the expected utility from the losses of mu + noise, mu - noise."""
    h, pairs = state.hyperparameters, noise.shape[0]
    # A non-finite loss is the worst candidate, never the best (NaN would sort last, as the best
    # utility); without ranks it takes the worst finite loss, so that the update stays finite.
    finite = torch.isfinite(losses)
    if h.rank_shaping:
        utilities = centered_ranks(-torch.nan_to_num(losses, nan=torch.inf))
    else:
        worst = losses[finite].max() if finite.any() else losses.new_tensor(0.0)
        utilities = -torch.where(finite, losses, worst)
    plus, minus = utilities[:pairs], utilities[pairs:]
    grad_mean = ((plus - minus) / 2) @ noise / pairs
    spread = (noise.square() - state.stdev.square()) / state.stdev
    grad_stdev = ((plus + minus) / 2 - utilities.mean()) @ spread / pairs
    return grad_mean, grad_stdev


def clipup(state: State, gradient: torch.Tensor) -> None:
    """One ClipUp ascent step of the mean along `gradient`."""
    h = state.hyperparameters
    norm = torch.linalg.vector_norm(gradient)
    if norm > 0:
        state.velocity.mul_(h.momentum).add_(gradient, alpha=h.center_lr / float(norm))
    max_speed = 2 * h.center_lr if h.max_speed is None else h.max_speed
    speed = float(torch.linalg.vector_norm(state.velocity))
    if speed > max_speed:
        state.velocity.mul_(max_speed / speed)
    state.mean.add_(state.velocity)


def step(state: State, problem: Problem, batch) -> dict:
    h, pairs = state.hyperparameters, state.hyperparameters.popsize // 2
    noise = torch.randn(pairs, state.mean.numel(), generator=state.generator, device=state.mean.device)
    noise.mul_(state.stdev)
    losses = problem.population_loss(torch.cat([state.mean + noise, state.mean - noise]), batch)
    grad_mean, grad_stdev = gradients(state, losses, noise)
    clipup(state, grad_mean)
    old = state.stdev
    state.stdev = torch.clamp(
        old + h.stdev_lr * grad_stdev, old * (1 - h.stdev_max_change), old * (1 + h.stdev_max_change)
    )
    finite = losses[torch.isfinite(losses)]
    return {
        "loss": float(finite.mean()) if len(finite) else float("nan"),
        "best_loss": float(finite.min()) if len(finite) else float("nan"),
        "sigma": float(state.stdev.mean()),
    }


def parameters(state: State) -> torch.Tensor:
    return state.mean


OPTIMIZER = OptimizerSpec(
    name="pgpe",
    kind="evolution",
    description="PGPE (symmetric sampling, adaptive per-parameter stdev) with the ClipUp optimizer and centered ranks.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=step,
    parameters=parameters,
)
