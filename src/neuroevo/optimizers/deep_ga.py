"""A deep genetic algorithm with seed-chain genomes (Such et al. 2017), as in the deep-GA
write-up: truncation selection with elitism, mutations drawn from a gene's seed, and
self-adapting per-layer mutation scales.

A genome is a chain of genes. The network it stands for is a He initialization drawn from
the run's seed (the fixed base) plus, for each gene in order, a perturbation drawn from
the gene's seed with the gene's per-layer scales:

    theta = base + sum_k sigma_k * eps(seed_k)

A child is its parent's chain plus one gene, whose sigmas are the parent's each
multiplied by gamma, divided by gamma or kept (probability 1/3 each; gamma 1: constant).
Genomes are what a checkpoint stores; the parameter vectors of the current parents are
cached, so a child costs one perturbation instead of a replay of its whole chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.layers import Group, he_parameters
from neuroevo.models.problem import Problem
from neuroevo.optimizers.base import OptimizerSpec, setting

MUTATIONS = ("normal", "laplace", "uniform")
FITNESSES = ("cross_entropy", "accuracy", "mix")
SEED_RANGE = 2**31 - 1
REPLAY_CHUNK = 64  # genes replayed at a time: a long chain's memory stays that of 64 vectors

Gene = tuple[int, tuple[float, ...]]  # (seed, per-layer sigma)
Genome = tuple[Gene, ...]


@checkpointable
@dataclass
class Hyperparameters:
    popsize: int = setting(64, "Genomes per generation.", minimum=2)
    parents: int = setting(10, "Truncation: the best this many have the children.", minimum=1)
    elites: int = setting(1, "Best genomes kept unchanged (and re-evaluated); fewer than popsize.", minimum=0)
    sigma: float = setting(0.01, "Initial mutation scale of every layer.", exclusiveMinimum=0)
    gamma: float = setting(
        1.0, "Per-layer sigma is x gamma, / gamma or kept at each mutation; 1.0 keeps it constant.", exclusiveMinimum=0
    )
    mutation: str = setting(
        "normal", "Mutation distribution (unit variance; laplace is the write-up's exponential).", enum=list(MUTATIONS)
    )
    fitness_batch: int | str = setting(
        "minibatch",
        "Examples the fitness sees: minibatch (the loop's), full (the training set), or a sample size drawn each generation.",
        oneOf=[{"enum": ["minibatch", "full"]}, {"type": "integer", "minimum": 1}],
    )
    fitness: str = setting(
        "cross_entropy", "cross_entropy, accuracy (error rate) or mix (their sum).", enum=list(FITNESSES)
    )

    def __post_init__(self):
        def refuse(key, problem):
            raise ValueError(f"deep_ga: {key} {problem}")

        if self.popsize < 2:
            refuse("popsize", f"must be at least 2, got {self.popsize}")
        if not 1 <= self.parents <= self.popsize:
            refuse("parents", f"must be between 1 and popsize ({self.popsize}), got {self.parents}")
        if not 0 <= self.elites < self.popsize:
            refuse("elites", f"must be at least 0 and fewer than popsize ({self.popsize}), got {self.elites}")
        if not self.sigma > 0:
            refuse("sigma", f"must be positive, got {self.sigma}")
        if not self.gamma > 0:
            refuse("gamma", f"must be positive, got {self.gamma}")
        if self.mutation not in MUTATIONS:
            refuse("mutation", f"must be one of {', '.join(MUTATIONS)}, got {self.mutation!r}")
        if self.fitness not in FITNESSES:
            refuse("fitness", f"must be one of {', '.join(FITNESSES)}, got {self.fitness!r}")
        batch = self.fitness_batch
        if not (
            batch in ("minibatch", "full") or (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1)
        ):
            refuse("fitness_batch", f"must be 'minibatch', 'full' or a positive sample size, got {batch!r}")


SEARCH_SPACE = {
    "sigma": {"distribution": "log_uniform", "low": 0.002, "high": 0.1},
    "popsize": {"distribution": "int", "low": 16, "high": 128, "log": True},
}


def unit_noise(seed: int, n: int, kind: str, device) -> torch.Tensor:
    """n draws of zero mean and unit variance from `seed`: the same for a seed, always."""
    generator = torch.Generator(device=device).manual_seed(seed)
    if kind == "normal":
        return torch.randn(n, generator=generator, device=device)
    u = torch.rand(n, generator=generator, device=device)
    if kind == "uniform":
        return (2 * u - 1) * math.sqrt(3)  # U(-a, a) has variance a^2 / 3
    centered = u - 0.5  # Laplace by inverse CDF; scale 1/sqrt(2) has variance 1
    return -torch.sign(centered) * torch.log1p(-2 * centered.abs()).clamp_min(-80) / math.sqrt(2)


@checkpointable
class State:
    """The population as genomes, plus caches that never go into a checkpoint."""

    def __init__(self, hyperparameters: Hyperparameters, groups: list[Group], base_seed: int, device):
        self.hyperparameters = hyperparameters
        self.groups = groups  # the model's layers: one sigma each
        self.base_seed = base_seed
        self.device = device
        self.generator = torch.Generator().manual_seed(base_seed)  # seeds, choices, sigma moves
        self.generation = 0
        initial: Genome = ()
        self.parents: list[Genome] = [initial]  # best first
        self.elites: list[Genome] = []
        self.best: Genome = initial
        self._cache: dict | None = None

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "_cache"}

    def __setstate__(self, values: dict) -> None:
        if "spec" in values:  # a checkpoint from before models other than the MLP
            values["groups"] = values.pop("spec").groups
        self.__dict__.update(values, _cache=None)

    @property
    def cache(self) -> dict:
        """The parents' parameter vectors and the best one; rebuilt from the genomes after
        a resume (bitwise equal to what the run had cached)."""
        if self._cache is None:
            self._cache = {
                "parents": torch.stack([self.build(genome) for genome in self.parents]),
                "best": self.build(self.best),
            }
        return self._cache

    def sigmas(self, genome: Genome) -> tuple[float, ...]:
        return genome[-1][1] if genome else (self.hyperparameters.sigma,) * len(self.groups)

    def perturbations(self, genes: list[Gene], out: torch.Tensor | None = None) -> torch.Tensor:
        """The perturbations [len(genes), n] of genes (into `out` if given): each row from its
        gene's seed alone (a private generator's draws, the same whichever genes share the
        call), then each layer's columns scaled in place by all the genes' sigmas at once.
        Filling one buffer, not stacking new tensors, is what made this fast: a fresh tensor
        of this size is a fresh mapping of memory, page faults and all."""
        n, kind = self.groups[-1].stop, self.hyperparameters.mutation
        noise = torch.empty(len(genes), n, device=self.device) if out is None else out
        if not genes:
            return noise
        for row, (seed, _) in zip(noise, genes, strict=True):
            row.copy_(unit_noise(seed, n, kind, self.device))
        sigmas = torch.tensor([sigmas for _, sigmas in genes], dtype=torch.float32, device=self.device)
        for layer, group in enumerate(self.groups):
            noise[:, group.part].mul_(sigmas[:, layer : layer + 1])
        return noise

    def build(self, genome: Genome) -> torch.Tensor:
        """The network of a genome, replayed from the base along its whole chain."""
        params = he_parameters(self.groups, self.base_seed, self.device)
        for start in range(0, len(genome), REPLAY_CHUNK):  # in order: the sum is the cached one, bit for bit
            for perturbation in self.perturbations(list(genome[start : start + REPLAY_CHUNK])):
                params = params + perturbation
        return params

    def mutate(self, genomes: list[Genome]) -> list[Gene]:
        """A new gene for each genome: all their sigma moves and seeds in one draw each."""
        gamma, n_layers = self.hyperparameters.gamma, len(self.groups)
        if not genomes:
            return []
        moves = torch.randint(0, 3, (len(genomes), n_layers), generator=self.generator)
        seeds = torch.randint(0, SEED_RANGE, (len(genomes),), generator=self.generator).tolist()
        factors = torch.tensor([gamma, 1 / gamma, 1.0], dtype=torch.float64)[moves]
        parents = torch.tensor([self.sigmas(genome) for genome in genomes], dtype=torch.float64)
        return [(seed, tuple(row)) for seed, row in zip(seeds, (parents * factors).tolist(), strict=True)]


def init(params: torch.Tensor, hyperparameters: Hyperparameters, problem: Problem, seed: int) -> State:
    n_train, size = problem.x["train"].shape[0], hyperparameters.fitness_batch
    if isinstance(size, int) and size > n_train:  # a sample cannot be larger than what it is drawn from
        raise ValueError(
            f"deep_ga: fitness_batch {size} is larger than the training set ({n_train} examples); "
            f"use 'full' for all of them, or a size of at most {n_train}"
        )
    return State(hyperparameters, problem.groups, seed, params.device)


def fitness_batch(state: State, problem: Problem, batch) -> tuple[torch.Tensor, torch.Tensor]:
    size = state.hyperparameters.fitness_batch
    if size == "minibatch":
        return batch
    n_train = problem.x["train"].shape[0]
    if size == "full" or size == n_train:
        return problem.x["train"], problem.y["train"]
    indices = torch.randperm(n_train, generator=state.generator)[:size]
    return problem.batch(indices.to(problem.x["train"].device))


def step(state: State, problem: Problem, batch) -> dict:
    """One generation: children of the parents plus the elites, evaluated as one population
    on the fitness batch; the best become the next parents and elites."""
    h, cache = state.hyperparameters, state.cache
    n_children, n_parents = h.popsize - len(state.elites), min(h.parents, len(state.parents))
    choices = torch.randint(0, n_parents, (n_children,), generator=state.generator).tolist()
    genes = state.mutate([state.parents[choice] for choice in choices])
    # The cache saves replaying each parent's chain: one perturbation per child.
    n_elites = len(state.elites)
    for name, rows in (("population", n_elites + n_children), ("noise", n_children)):
        if cache.get(name) is None or cache[name].shape[0] != rows:  # the first generation has no elites
            cache[name] = torch.empty(rows, state.groups[-1].stop, device=state.device)
    population = cache["population"]  # reused: the kept parents below are copies, never views of it
    population[:n_elites] = cache["parents"][:n_elites]  # elites lead the kept list
    torch.index_select(cache["parents"], 0, torch.tensor(choices, device=state.device), out=population[n_elites:])
    population[n_elites:].add_(state.perturbations(genes, out=cache["noise"]))
    genomes = state.elites + [state.parents[choice] + (gene,) for choice, gene in zip(choices, genes, strict=True)]

    cross_entropy, accuracy = problem.population_scores(population, fitness_batch(state, problem, batch))
    fitness = {"cross_entropy": cross_entropy, "accuracy": 1 - accuracy, "mix": cross_entropy + 1 - accuracy}[h.fitness]
    # Stable sort: ties keep the elites first, so an unchanged best stays the reported one.
    order = torch.argsort(fitness, stable=True).tolist()
    n_kept = max(h.parents, h.elites)  # the parents, and the elites should they be more
    state.parents = [genomes[index] for index in order[:n_kept]]
    state.elites = state.parents[: h.elites]
    state.best = state.parents[0]
    cache["parents"] = population[order[:n_kept]]
    cache["best"] = cache["parents"][0]
    state.generation += 1
    sigmas = state.sigmas(state.best)
    return {
        # A non-finite candidate is never selected (NaN sorts last); only all of them is divergence.
        "loss": float(cross_entropy[torch.isfinite(cross_entropy)].mean()),
        "best_loss": float(fitness[order[0]]),
        "generation": state.generation,
        **{f"sigma_{layer}": sigma for layer, sigma in enumerate(sigmas)},
    }


def parameters(state: State) -> torch.Tensor:
    return state.cache["best"]


OPTIMIZER = OptimizerSpec(
    name="deep_ga",
    kind="evolution",
    description="Deep GA with seed-chain genomes, truncation selection, elitism and self-adapting per-layer sigma.",
    hyperparameters=Hyperparameters,
    search_space=SEARCH_SPACE,
    init=init,
    step=step,
    parameters=parameters,
)
