"""The deep GA: seed chains that rebuild the cached networks exactly, mutation distributions
of equal variance, self-adapting sigmas, elitism, compact checkpoints and refused bad input."""

import io
import itertools
import math

import pytest
import torch

from neuroevo.data.prepare import load_prepared
from neuroevo.models.problem import Problem
from neuroevo.optimizers import deep_ga


@pytest.fixture
def digits_problem(digits_data):
    return Problem.from_data(load_prepared(digits_data), hidden=16, activation="relu")


def _run(problem, generations, **settings):
    hyperparameters = deep_ga.Hyperparameters(**settings)
    state = deep_ga.init(torch.zeros(problem.n_parameters), hyperparameters, problem, seed=7)
    generator = torch.Generator().manual_seed(0)
    stats = []
    for _ in range(generations):
        indices = torch.randperm(problem.x["train"].shape[0], generator=generator)[:64]
        stats.append(deep_ga.step(state, problem, problem.batch(indices)))
    return state, stats


def test_a_genome_rebuilt_from_its_seed_chain_equals_the_cached_parameters_exactly(digits_problem):
    state, _ = _run(digits_problem, 12, popsize=16, parents=4, elites=1, gamma=1.1, mutation="laplace")
    assert all(len(genome) >= 5 for genome in state.parents)  # chains of several genes
    for genome, cached in zip(state.parents, state.cache["parents"], strict=True):
        assert torch.equal(state.build(genome), cached)
    assert torch.equal(state.build(state.best), deep_ga.parameters(state))


def test_a_checkpoint_holds_genomes_not_parameter_vectors_and_resumes_identically(digits_problem):
    state, _ = _run(digits_problem, 8, popsize=16, parents=4, gamma=1.05)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    # 16 genomes of 8 genes of a few numbers each; one cached parameter vector is 1,210 floats
    # and the parents alone would be 4 of them.
    assert buffer.tell() < 4 * digits_problem.n_parameters * 4
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    assert restored._cache is None
    batch = digits_problem.batch(torch.arange(100))
    assert deep_ga.step(restored, digits_problem, batch) == deep_ga.step(state, digits_problem, batch)
    assert torch.equal(deep_ga.parameters(restored), deep_ga.parameters(state))


@pytest.mark.parametrize("kind", deep_ga.MUTATIONS)
def test_mutation_distributions_have_zero_mean_and_unit_variance(kind):
    noise = deep_ga.unit_noise(3, 200_000, kind, "cpu")
    assert torch.equal(noise, deep_ga.unit_noise(3, 200_000, kind, "cpu"))  # a seed is a mutation
    assert abs(float(noise.mean())) < 0.01
    assert float(noise.var()) == pytest.approx(1.0, abs=0.02)
    excess_kurtosis = float((noise**4).mean()) - 3
    assert excess_kurtosis == pytest.approx({"normal": 0.0, "laplace": 3.0, "uniform": -1.2}[kind], abs=0.3)


def test_sigma_is_constant_at_gamma_one_and_moves_by_powers_of_gamma_otherwise(digits_problem):
    _, constant = _run(digits_problem, 10, popsize=8, parents=2, sigma=0.02, gamma=1.0)
    assert {stats["sigma_0"] for stats in constant} == {0.02}
    state, adapting = _run(digits_problem, 10, popsize=8, parents=2, sigma=0.02, gamma=1.3)
    for _gene_seed, sigmas in state.best:
        for sigma in sigmas:
            exponent = math.log(sigma / 0.02) / math.log(1.3)
            assert exponent == pytest.approx(round(exponent), abs=1e-9)
    assert len({stats["sigma_1"] for stats in adapting}) > 1


def test_with_full_batch_fitness_the_elite_never_gets_worse(digits_problem):
    _, stats = _run(digits_problem, 15, popsize=12, parents=3, elites=1, sigma=0.05, fitness_batch="full")
    best = [entry["best_loss"] for entry in stats]
    assert all(later <= earlier for earlier, later in itertools.pairwise(best))
    assert best[-1] < best[0]
    n_train = digits_problem.x["train"].shape[0]
    assert digits_problem.counter.sample_evals == 15 * 12 * n_train


def test_random_fitness_batch_of_a_given_size_and_accuracy_fitness(digits_problem):
    _, stats = _run(digits_problem, 5, popsize=8, parents=2, fitness_batch=300, fitness="accuracy")
    assert digits_problem.counter.sample_evals == 5 * 8 * 300
    assert all(0 <= entry["best_loss"] <= 1 for entry in stats)  # error rate


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"gamma": 0.0}, "gamma"),
        ({"sigma": -0.1}, "sigma"),
        ({"mutation": "cauchy"}, "mutation"),
        ({"popsize": 8, "parents": 2, "elites": 9}, "elites"),
        ({"popsize": 8, "parents": 9}, "parents"),
        ({"fitness": "f1"}, "fitness"),
        ({"fitness_batch": "half"}, "fitness_batch"),
    ],
)
def test_bad_settings_are_refused_with_the_key_named(settings, key):
    with pytest.raises(ValueError, match=f"deep_ga: {key} "):
        deep_ga.Hyperparameters(**settings)
