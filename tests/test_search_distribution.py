"""The search-distribution protocol (neuroevo.evolution.protocol): both CMA engines satisfy
it, and the CMA-ES optimizers hold theirs by it."""

import pytest
import torch

from neuroevo.evolution import PycmaEngine, SearchDistribution, SepCMA, make_engine

ENGINES = {  # built in the test, not at collection: pycma seeds numpy's global generator
    "sep_cma": lambda: SepCMA(torch.zeros(6), 0.3, 8, seed=0),
    "sep_cma_mirrored": lambda: SepCMA(torch.zeros(6), 0.3, 8, seed=0, mirrored=True),
    "pycma": lambda: PycmaEngine(torch.zeros(6), 0.3, 8, False, seed=0),
}


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_both_engines_are_search_distributions_that_minimise_through_it(name):
    engine = ENGINES[name]()
    assert isinstance(engine, SearchDistribution)
    target = torch.arange(6, dtype=torch.float32) / 6
    distribution: SearchDistribution = engine
    start = float(((distribution.mean - target) ** 2).sum())
    for _ in range(60):
        population = distribution.ask()
        assert population.shape == (distribution.popsize, 6)
        distribution.tell(((population - target) ** 2).sum(dim=1))
    assert isinstance(distribution.sigma, float) and distribution.mean.shape == (6,)
    assert float(((distribution.mean - target) ** 2).sum()) < 0.1 * start


def test_make_engine_returns_a_search_distribution_and_other_objects_are_not():
    assert isinstance(make_engine(torch.zeros(5000), 0.1, None, "auto", "auto", 0), SearchDistribution)
    assert isinstance(make_engine(torch.zeros(50), 0.1, None, "auto", "auto", 0), SearchDistribution)

    class AskOnly:
        popsize, mean, sigma = 4, torch.zeros(2), 1.0

        def ask(self):
            return torch.zeros(4, 2)

    assert not isinstance(AskOnly(), SearchDistribution)  # no tell
