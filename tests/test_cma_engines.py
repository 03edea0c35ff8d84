"""Our torch sep-CMA-ES against pycma (the reference), and pycma's stopping switched off."""

import numpy as np
import pytest
import torch

from neuroevo.evolution import make_engine
from neuroevo.evolution.pycma_engine import PycmaEngine
from neuroevo.evolution.sep_cma import SepCMA


def ellipsoid(population: torch.Tensor) -> torch.Tensor:
    """Separable ellipsoid, condition 1e3: needs per-coordinate step sizes to be solved."""
    n = population.shape[1]
    scales = 10 ** (3 * torch.arange(n, dtype=population.dtype) / (n - 1))
    return (scales * population.square()).sum(dim=1)


def minimize(engine, generations: int) -> float:
    for _ in range(generations):
        population = engine.ask()
        engine.tell(ellipsoid(population))
    return float(ellipsoid(engine.mean[None])[0])


@pytest.mark.parametrize("seed", [0, 1])
def test_sep_cma_solves_a_separable_ellipsoid_as_well_as_pycma(seed):
    x0 = torch.ones(20, dtype=torch.float64)
    ours = minimize(SepCMA(x0, 0.5, None, seed), 400)
    reference = minimize(PycmaEngine(x0, 0.5, None, True, seed), 400)
    start = float(ellipsoid(x0[None])[0])
    assert ours < 1e-8 * start and reference < 1e-8 * start
    # Same algorithm, same constants up to pycma's refinements: comparable progress.
    assert abs(np.log10(ours) - np.log10(reference)) < 3


def test_sep_cma_is_reproducible_from_its_seed():
    x0 = torch.zeros(50)
    first, second, other = SepCMA(x0, 0.1, 12, 5), SepCMA(x0, 0.1, 12, 5), SepCMA(x0, 0.1, 12, 6)
    assert first.popsize == 12
    assert torch.equal(first.ask(), second.ask())
    assert not torch.equal(first.ask(), other.ask())


def test_pycma_does_not_stop_on_noisy_flat_minibatch_fitness():
    engine = PycmaEngine(torch.zeros(10), 1e-3, 8, False, 0)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):  # pure noise, tiny steps: would trip tolfun / tolflatfitness / tolx
        engine.ask()
        engine.tell(torch.full((8,), 0.7) + 1e-13 * torch.randn(8, generator=generator))
    assert engine.stop() == {}


def test_engine_choice_follows_dimension_and_override():
    assert isinstance(make_engine(torch.zeros(5000), 0.1, None, "auto", "auto", 0), SepCMA)
    assert isinstance(make_engine(torch.zeros(50), 0.1, None, "auto", "auto", 0), PycmaEngine)
    assert isinstance(make_engine(torch.zeros(50), 0.1, None, True, "pycma", 0), PycmaEngine)
    with pytest.raises(ValueError, match="diagonal"):
        make_engine(torch.zeros(50), 0.1, None, False, "torch", 0)


def test_mirrored_sep_cma_samples_pairs_and_solves_the_ellipsoid():
    engine = SepCMA(torch.zeros(20, dtype=torch.float64), 0.5, 11, 0, mirrored=True)
    assert engine.popsize == 12 and engine.mu == 3  # pairs; the best quarter is recombined
    population = engine.ask()
    torch.testing.assert_close(population[:6] + population[6:], 2 * engine.mean.expand(6, -1))
    x0 = torch.ones(20, dtype=torch.float64)
    start = float(ellipsoid(x0[None])[0])
    assert minimize(SepCMA(x0, 0.5, None, 0, mirrored=True), 600) < 1e-8 * start


def test_mirrored_sampling_with_pairwise_selection_leaves_the_step_size_unbiased():
    """On random fitness the step size should drift neither way; recombining both members
    of mirrored pairs would cancel the steps and shrink it (Brockhoff et al. 2010)."""
    generator = torch.Generator().manual_seed(0)
    engine = SepCMA(torch.zeros(200), 1.0, 20, 0, mirrored=True)
    for _ in range(300):
        engine.ask()
        engine.tell(torch.rand(20, generator=generator))
    assert 0.5 < engine.sigma < 2.0


def test_mirrored_sampling_on_pycma_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="mirrored.*torch sep-CMA-ES only"):
        make_engine(torch.zeros(50), 0.1, None, "auto", "auto", 0, mirrored=True)
