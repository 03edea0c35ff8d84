"""The GA's operators over update-rule genomes: always valid children, reproducible from
the RNG, annealed rates, and a tournament that cannot be larger than the population."""

import dataclasses
import random

import pytest

from neuroevo.discovery.operators import MAX_TERMS, MutationRates, crossover, mutate, random_genome, tournament
from neuroevo.update_rules import PRIOR_GENOME


def test_operators_give_valid_genomes_reproducibly_from_the_rng():
    def lineage(seed):
        rng = random.Random(seed)
        genomes = [random_genome(rng) for _ in range(20)]
        for _ in range(500):
            child = crossover(rng.choice(genomes), rng.choice(genomes), rng)
            child = mutate(child, MutationRates(numeric=0.9, structural=0.9, flag=0.5), rng)
            child.check()
            assert 1 <= len(child.term_types) == len(child.alphas) <= MAX_TERMS
            assert 0 <= child.beta1 < 1 and 0 <= child.beta2 < 1
            genomes[rng.randrange(len(genomes))] = child
        return genomes

    assert lineage(3) == lineage(3)
    assert lineage(3) != lineage(4)


def test_crossover_takes_terms_from_the_parents_and_each_scalar_from_one_of_them():
    rng = random.Random(0)
    other = random_genome(rng)
    for _ in range(50):
        child = crossover(PRIOR_GENOME, other, rng)
        assert set(child.term_types) <= set(PRIOR_GENOME.term_types) | set(other.term_types)
        for field in dataclasses.fields(child):
            if field.name not in ("term_types", "alphas"):
                assert getattr(child, field.name) in (getattr(PRIOR_GENOME, field.name), getattr(other, field.name))


def test_mutation_rates_anneal_from_their_start_to_a_fraction_of_it():
    rates = MutationRates(numeric=0.4, structural=0.2, flag=0.1, final_fraction=0.25)
    assert rates.at(0, 50) == rates
    last = rates.at(49, 50)
    assert (last.numeric, last.structural, last.flag) == pytest.approx((0.1, 0.05, 0.025))


def test_tournament_picks_the_fittest_of_its_draw_and_refuses_one_larger_than_the_population():
    fitnesses = [0.1, 0.9, 0.5]
    assert tournament(fitnesses, 3, random.Random(0)) == 1
    with pytest.raises(ValueError, match="tournament_size"):
        tournament(fitnesses, 4, random.Random(0))
