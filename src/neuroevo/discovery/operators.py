"""The GA's operators over update-rule genomes (write-up section 2.2): random genomes,
tournament selection, structural crossover of terms and alphas with mixing of scalars and
flags, and numeric / structural / flag mutations whose rates anneal over generations.

All randomness comes from the `random.Random` passed in, so a study's RNG state (which a
checkpoint stores) decides every child.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from neuroevo.update_rules.genome import TERM_TYPES, Genome

MAX_TERMS = 6
FLAGS = ("use_m", "use_v", "use_bias_correction", "use_gradient_clipping", "use_warmup", "use_cosine_decay")
# Numeric genes: (bounds, mutation scale). Log-scaled ones move in decades.
NUMERIC = {
    "lr_log10": ((-5.0, -0.5), 0.3),
    "beta1": ((0.0, 0.999), 0.05),
    "beta2": ((0.5, 0.9999), 0.02),
    "eps_log10": ((-10.0, -4.0), 0.5),
    "clip_value": ((0.1, 10.0), 0.5),
}
ALPHA_RANGE, ALPHA_SCALE = (-3.0, 3.0), 0.3


@dataclass
class MutationRates:
    """Probabilities at generation 0; each anneals linearly to `final_fraction` of itself
    at the last generation (explore first, refine later)."""

    numeric: float = 0.3
    structural: float = 0.2
    flag: float = 0.1
    final_fraction: float = 0.3

    def at(self, generation: int, generations: int) -> MutationRates:
        progress = generation / max(1, generations - 1)
        factor = 1 - (1 - self.final_fraction) * progress
        return dataclasses.replace(
            self, numeric=self.numeric * factor, structural=self.structural * factor, flag=self.flag * factor
        )


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def random_genome(rng: random.Random) -> Genome:
    count = rng.randint(1, 3)
    return Genome(
        term_types=[rng.randrange(len(TERM_TYPES)) for _ in range(count)],
        alphas=[round(rng.uniform(0.2, 2.0), 4) for _ in range(count)],
        lr_log10=rng.uniform(-4.0, -1.5),
        beta1=rng.uniform(0.8, 0.95),
        beta2=rng.uniform(0.9, 0.9999),
        eps_log10=rng.uniform(-9.0, -6.0),
        wd_log10=rng.choice([None, rng.uniform(-5.0, -2.0)]),
        use_m=rng.random() < 0.8,
        use_v=rng.random() < 0.8,
        use_bias_correction=rng.random() < 0.5,
        use_gradient_clipping=rng.random() < 0.3,
        clip_value=rng.uniform(0.5, 5.0),
        use_warmup=rng.random() < 0.3,
        warmup_steps=rng.choice([10, 50, 100]),
        use_cosine_decay=rng.random() < 0.3,
    )


def tournament(fitnesses: list[float], size: int, rng: random.Random) -> int:
    """Index of the fittest of `size` distinct individuals drawn at random."""
    if not 1 <= size <= len(fitnesses):
        raise ValueError(f"tournament_size: must be between 1 and the population size ({len(fitnesses)}), got {size}")
    return max(rng.sample(range(len(fitnesses)), size), key=lambda index: fitnesses[index])


def crossover(first: Genome, second: Genome, rng: random.Random) -> Genome:
    """One-point crossover of the (term, alpha) sequences; each scalar and flag from either parent."""
    cut_first, cut_second = rng.randint(0, len(first.term_types)), rng.randint(0, len(second.term_types))
    terms = first.term_types[:cut_first] + second.term_types[cut_second:]
    alphas = first.alphas[:cut_first] + second.alphas[cut_second:]
    if not terms:  # both cuts at the empty side: keep the first parent's first term
        terms, alphas = first.term_types[:1], first.alphas[:1]
    terms, alphas = terms[:MAX_TERMS], alphas[:MAX_TERMS]
    mixed = {
        field.name: getattr(rng.choice((first, second)), field.name)
        for field in dataclasses.fields(Genome)
        if field.name not in ("term_types", "alphas")
    }
    return Genome(term_types=list(terms), alphas=list(alphas), **mixed)


def mutate(genome: Genome, rates: MutationRates, rng: random.Random) -> Genome:
    values = dataclasses.asdict(genome)
    terms, alphas = list(values["term_types"]), list(values["alphas"])
    alphas = [
        _clip(alpha + rng.gauss(0, ALPHA_SCALE), ALPHA_RANGE) if rng.random() < rates.numeric else alpha
        for alpha in alphas
    ]
    for name, (bounds, scale) in NUMERIC.items():
        if rng.random() < rates.numeric:
            values[name] = _clip(values[name] + rng.gauss(0, scale), bounds)
    if rng.random() < rates.numeric:
        values["wd_log10"] = (
            None if rng.random() < 0.2 else _clip((values["wd_log10"] or -4.0) + rng.gauss(0, 0.5), (-6.0, -1.0))
        )
    if rng.random() < rates.numeric:
        values["warmup_steps"] = int(_clip(round(values["warmup_steps"] * math.exp(rng.gauss(0, 0.5))), (1, 500)))
    if rng.random() < rates.structural:
        action = rng.choice(("add", "remove", "change"))
        if action == "add" and len(terms) < MAX_TERMS:
            position = rng.randint(0, len(terms))
            terms.insert(position, rng.randrange(len(TERM_TYPES)))
            alphas.insert(position, round(rng.uniform(0.2, 2.0), 4))
        elif action == "remove" and len(terms) > 1:
            position = rng.randrange(len(terms))
            del terms[position], alphas[position]
        else:
            terms[rng.randrange(len(terms))] = rng.randrange(len(TERM_TYPES))
    for flag in FLAGS:
        if rng.random() < rates.flag:
            values[flag] = not values[flag]
    values.update(term_types=terms, alphas=alphas)
    return Genome(**values)
