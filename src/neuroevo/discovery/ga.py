"""The genetic algorithm over update rules (write-up section 2.2), checkpointed after every
evaluated genome and every generation, so that a study killed at any point and rerun ends
with the same best genome as an uninterrupted one, losing at most the evaluation in flight.

Fitness is deterministic for a genome (every task run seeds its own generators), so elites
carry their fitness into the next generation instead of being trained again.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from neuroevo.atomic import write_json
from neuroevo.discovery.fitness import data_on_device, evaluate_on_task
from neuroevo.discovery.operators import MutationRates, crossover, mutate, random_genome, tournament
from neuroevo.discovery.tasks import Task
from neuroevo.prepare import PreparedData
from neuroevo.train import resolve_device
from neuroevo.update_rules import Genome


@dataclass
class DiscoverySettings:
    population: int = 8
    generations: int = 4
    elites: int = 1
    tournament_size: int = 3
    crossover_rate: float = 0.7
    max_steps: int = 200  # minibatches per task run
    seeds: list[int] = field(default_factory=lambda: [0])
    study_seed: int = 0
    device: str = "cpu"  # "cpu", "cuda" or "auto": where every task run trains
    rates: MutationRates = field(default_factory=MutationRates)

    def __post_init__(self):
        if isinstance(self.rates, dict):
            self.rates = MutationRates(**self.rates)
        if self.population < 2:
            raise ValueError(f"population: must be at least 2, got {self.population}")
        if not 1 <= self.tournament_size <= self.population:
            raise ValueError(f"tournament_size: must be between 1 and population ({self.population}), got {self.tournament_size}")
        if not 0 <= self.elites < self.population:
            raise ValueError(f"elites: must be at least 0 and fewer than population ({self.population}), got {self.elites}")
        if self.generations < 1 or self.max_steps < 1 or not self.seeds:
            raise ValueError("generations and max_steps must be at least 1, and seeds not empty")


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: list) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


def genome_fitness(genome: Genome, tasks: list[Task], data: dict[str, PreparedData], settings: DiscoverySettings) -> dict:
    results = {
        f"{task.dataset}/{seed}": evaluate_on_task(genome, task, data[task.dataset], seed, settings.max_steps)
        for task in tasks
        for seed in settings.seeds
    }
    per_task = {task.dataset: sum(results[f"{task.dataset}/{seed}"].fitness for seed in settings.seeds) / len(settings.seeds) for task in tasks}
    return {
        "fitness": sum(per_task.values()) / len(per_task),
        "per_task": per_task,
        "diverged": sum(result.diverged for result in results.values()),
    }


def next_population(population: list[dict], settings: DiscoverySettings, generation: int, rng: random.Random) -> list[dict]:
    """Elites (with their fitness) then children: tournament parents, crossover or a copy, mutation."""
    fitnesses = [member["fitness"] for member in population]
    ranked = sorted(range(len(population)), key=lambda index: -fitnesses[index])
    members = [dict(population[index]) for index in ranked[: settings.elites]]
    rates = settings.rates.at(generation, settings.generations)
    while len(members) < settings.population:
        first = Genome.from_dict(population[tournament(fitnesses, settings.tournament_size, rng)]["genome"])
        if rng.random() < settings.crossover_rate:
            second = Genome.from_dict(population[tournament(fitnesses, settings.tournament_size, rng)]["genome"])
            first = crossover(first, second, rng)
        members.append({"genome": mutate(first, rates, rng).to_dict(), "fitness": None})
    return members


def discover(
    tasks: list[Task],
    data: dict[str, PreparedData],
    settings: DiscoverySettings,
    checkpoint_path: str | Path,
    on_evaluated: Callable[[dict], None] | None = None,
) -> dict:
    """Runs (or resumes) a discovery study; returns its final state: the best genome, its
    fitness and the per-generation history."""
    checkpoint_path = Path(checkpoint_path)
    device = resolve_device(settings.device)  # fails here, before any work, if CUDA is missing
    data = {name: data_on_device(prepared, device) for name, prepared in data.items()}
    fingerprint = json.dumps({"tasks": [dataclasses.asdict(task) for task in tasks], "settings": dataclasses.asdict(settings)}, sort_keys=True)
    rng = random.Random(settings.study_seed)
    state = json.loads(checkpoint_path.read_text()) if checkpoint_path.exists() else None
    if state is not None and state["fingerprint"] != fingerprint:
        state = None  # another study's checkpoint: start over (it is replaced at the first save)
    if state is None:
        population = [{"genome": random_genome(rng).to_dict(), "fitness": None} for _ in range(settings.population)]
        state = {"fingerprint": fingerprint, "generation": 0, "population": population, "history": [], "best": None, "done": False}
        state["rng"] = _rng_state(rng)
    _set_rng_state(rng, state["rng"])

    while not state["done"]:
        for member in state["population"]:
            if member["fitness"] is None:
                member.update(genome_fitness(Genome.from_dict(member["genome"]), tasks, data, settings))
                write_json(checkpoint_path, state)  # after every evaluated genome
                if on_evaluated:
                    on_evaluated(member)
        fitnesses = [member["fitness"] for member in state["population"]]
        best = max(state["population"], key=lambda member: member["fitness"])
        if state["best"] is None or best["fitness"] > state["best"]["fitness"]:
            state["best"] = dict(best)
        state["history"].append({
            "generation": state["generation"],
            "best_fitness": best["fitness"],
            "mean_fitness": sum(fitnesses) / len(fitnesses),
            "diverged_genomes": sum(member["diverged"] > 0 for member in state["population"]),
            "best_so_far": state["best"]["fitness"],
            "best_genome": json.dumps(best["genome"], sort_keys=True),
        })
        if state["generation"] + 1 >= settings.generations:
            state["done"] = True
        else:
            state["population"] = next_population(state["population"], settings, state["generation"] + 1, rng)
            state["generation"] += 1
        state["rng"] = _rng_state(rng)
        write_json(checkpoint_path, state)  # after every generation
    return state
