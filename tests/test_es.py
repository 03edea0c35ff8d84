"""The ES gradient estimator: unbiased enough to point where the true gradient points."""

import pytest
import torch

from neuroevo.models.problem import WorkCounter
from neuroevo.optimizers import es


class Quadratic:
    """f(x) = sum(scale * (x - target)^2): the problem interface ES uses, with a known gradient."""

    def __init__(self, n: int):
        generator = torch.Generator().manual_seed(0)
        self.target = torch.randn(n, generator=generator)
        self.scale = torch.rand(n, generator=generator) + 0.5
        self.counter = WorkCounter()

    def population_loss(self, population, batch):
        self.counter.model_evals += population.shape[0]
        return (self.scale * (population - self.target).square()).sum(dim=1)

    def gradient(self, x):
        return 2 * self.scale * (x - self.target)


@pytest.mark.parametrize("rank_shaping, threshold", [(False, 0.9), (True, 0.6)])
def test_estimate_correlates_with_the_true_gradient_on_a_quadratic(rank_shaping, threshold):
    problem = Quadratic(20)
    x = torch.zeros(20)
    hyperparameters = es.Hyperparameters(pairs=400, sigma=0.01, rank_shaping=rank_shaping)
    state = es.init(x, hyperparameters, problem, seed=0)
    estimate, losses = es.estimate_gradient(state, problem, batch=None)
    cosine = torch.nn.functional.cosine_similarity(estimate, problem.gradient(x), dim=0)
    assert cosine > threshold
    assert problem.counter.model_evals == 800 == len(losses)  # every antithetic sample counted


def test_es_with_adam_minimizes_the_quadratic():
    problem = Quadratic(10)
    state = es.init(torch.zeros(10), es.Hyperparameters(pairs=20, sigma=0.05, lr=0.05), problem, seed=1)
    start = float(problem.population_loss(state.params[None], None)[0])
    for _ in range(300):
        es.step(state, problem, None)
    assert float(problem.population_loss(state.params[None], None)[0]) < 0.05 * start


@pytest.mark.parametrize(
    "values, message",
    [
        ({"sigma": 0.0}, "sigma must be positive"),
        ({"pairs": 0}, "pairs must be at least 1"),
        ({"inner": "rmsprop"}, "unknown inner optimizer 'rmsprop'"),
    ],
)
def test_bad_es_settings_are_refused_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        es.Hyperparameters(**values)
