"""PGPE with ClipUp: it minimizes a quadratic, its steps keep ClipUp's and the stdev's bounds,
and a diverged candidate is the worst, never the best. (That it lowers the Iris loss, is
deterministic and resumes is in the registry's tests: test_optimizers, test_resume.)"""

import pytest
import torch

from neuroevo.models.problem import WorkCounter
from neuroevo.optimizers import pgpe


class Quadratic:
    """The duck type of Problem that pgpe uses: the loss of each candidate, counted."""

    def __init__(self, target: torch.Tensor):
        self.target, self.counter = target, WorkCounter()

    def population_loss(self, population, batch):
        self.counter.model_evals += population.shape[0]
        return (population - self.target).square().sum(dim=1)


def test_pgpe_minimizes_a_quadratic():
    target = torch.linspace(-1, 1, 20)
    problem = Quadratic(target)
    hyperparameters = pgpe.Hyperparameters(popsize=32, center_lr=0.01, stdev_init=0.1)
    state = pgpe.init(torch.zeros(20), hyperparameters, problem, seed=0)
    start = float((state.mean - target).norm())
    for _ in range(400):
        stats = pgpe.step(state, problem, None)
    # ClipUp takes steps of a fixed length, so it gets to within about center_lr x 10 (its momentum).
    assert float((pgpe.parameters(state) - target).norm()) < 0.05 * start
    assert problem.counter.model_evals == 400 * 32
    assert stats["sigma"] < 0.1  # the stdev shrinks near the optimum


def test_clipup_and_the_stdev_keep_their_bounds():
    problem = Quadratic(torch.full((50,), 10.0))
    hyperparameters = pgpe.Hyperparameters(popsize=16, center_lr=0.1, max_speed=0.15, stdev_max_change=0.2)
    state = pgpe.init(torch.zeros(50), hyperparameters, problem, seed=1)
    for _ in range(20):
        mean, stdev = state.mean.clone(), state.stdev.clone()
        pgpe.step(state, problem, None)
        assert float((state.mean - mean).norm()) <= 0.15 + 1e-6  # ClipUp's max_speed
        ratio = state.stdev / stdev
        assert float(ratio.min()) >= 0.8 - 1e-6 and float(ratio.max()) <= 1.2 + 1e-6


def test_a_nan_loss_counts_as_the_worst_candidate():
    state = pgpe.init(torch.zeros(3), pgpe.Hyperparameters(popsize=4), Quadratic(torch.zeros(3)), seed=0)
    noise = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    # Candidate mu + noise_0 diverged (NaN); its mirror mu - noise_0 is fine: the mean moves towards the mirror.
    grad_mean, _ = pgpe.gradients(state, torch.tensor([float("nan"), 1.0, 0.5, 2.0]), noise)
    assert float(grad_mean[0]) < 0
    # Without ranks it takes the worst finite loss: the update stays finite and points the same way.
    state.hyperparameters = pgpe.Hyperparameters(popsize=4, rank_shaping=False)
    grad_mean, grad_stdev = pgpe.gradients(state, torch.tensor([float("inf"), 1.0, 0.5, 2.0]), noise)
    assert torch.isfinite(grad_mean).all() and torch.isfinite(grad_stdev).all() and float(grad_mean[0]) < 0


@pytest.mark.parametrize("values", [{"popsize": 7}, {"popsize": 0}, {"stdev_max_change": 1.0}, {"momentum": 1.0}])
def test_pgpe_refuses_settings_it_cannot_run_by_name(values):
    with pytest.raises(ValueError, match=f"pgpe: {next(iter(values))}"):
        pgpe.Hyperparameters(**values)
