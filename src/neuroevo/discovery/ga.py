"""The genetic algorithm over update rules (write-up section 2.2), checkpointed after every
evaluated genome and every generation, so that a study killed at any point and rerun ends
with the same best genome as an uninterrupted one, losing at most the evaluation in flight.
A checkpoint that cannot be read, or whose content is not a study's state, is set aside
(checkpoint.json.unreadable-<time>, never deleted) with a warning, and the study starts over.

Fitness is deterministic for a genome (every task run seeds its own generators), so elites
carry their fitness into the next generation instead of being trained again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from neuroevo.data.prepare import PreparedData
from neuroevo.discovery.fitness import data_on_device, evaluate_on_task
from neuroevo.discovery.operators import MutationRates, crossover, mutate, random_genome, tournament
from neuroevo.discovery.tasks import Task
from neuroevo.files.atomic import read_regular, set_aside, write_json
from neuroevo.files.progress import Progress
from neuroevo.models.device import resolve_device
from neuroevo.update_rules import Genome

log = logging.getLogger("neuroevo")


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
            raise ValueError(
                f"tournament_size: must be between 1 and population ({self.population}), got {self.tournament_size}"
            )
        if not 0 <= self.elites < self.population:
            raise ValueError(
                f"elites: must be at least 0 and fewer than population ({self.population}), got {self.elites}"
            )
        if self.generations < 1 or self.max_steps < 1 or not self.seeds:
            raise ValueError("generations and max_steps must be at least 1, and seeds not empty")


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: list) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


class CheckpointContentError(ValueError):
    """Valid JSON that is not a discovery study's state; the message names the key."""


def _expect(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise CheckpointContentError(f"{where}: {what}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_member(member: object, where: str, evaluated: bool | None = None) -> None:
    """A population member or the best one: a genome that parses and, once evaluated, its
    fitness, per-task fitness and divergence count."""
    _expect(isinstance(member, dict), where, "must be an object")
    _expect(isinstance(member.get("genome"), dict), f"{where}.genome", "must be an object")
    try:
        Genome.from_dict(member["genome"])
    except (ValueError, TypeError) as error:
        raise CheckpointContentError(f"{where}.genome: {error}") from None
    if evaluated is None:
        evaluated = member.get("fitness") is not None
    if not evaluated:
        _expect(member.get("fitness") is None, f"{where}.fitness", "must be null before evaluation")
        return
    _expect(_is_number(member.get("fitness")), f"{where}.fitness", "must be a number")
    per_task = member.get("per_task")
    _expect(
        isinstance(per_task, dict) and all(_is_number(value) for value in per_task.values()),
        f"{where}.per_task",
        "must map each task to a number",
    )
    _expect(
        isinstance(member.get("diverged"), int) and not isinstance(member.get("diverged"), bool),
        f"{where}.diverged",
        "must be a whole number",
    )


STATE_KEYS = {"fingerprint", "generation", "population", "history", "best", "done", "rng"}


def check_state(state: dict, settings: DiscoverySettings) -> None:
    """Raises CheckpointContentError, naming the key, unless `state` (a checkpoint of these
    settings) has the structure `discover` writes: it resumes from it key by key, and would
    otherwise fail far from the cause."""
    _expect(set(state) == STATE_KEYS, "checkpoint", f"has keys {sorted(state)}, expected {sorted(STATE_KEYS)}")
    generation = state["generation"]
    _expect(
        isinstance(generation, int) and not isinstance(generation, bool) and 0 <= generation < settings.generations,
        "generation",
        f"must be a whole number in [0, {settings.generations})",
    )
    _expect(isinstance(state["done"], bool), "done", "must be true or false")
    population = state["population"]
    _expect(
        isinstance(population, list) and len(population) == settings.population,
        "population",
        f"must be a list of {settings.population} members",
    )
    for index, member in enumerate(population):
        _check_member(member, f"population[{index}]")
    history = state["history"]
    finished = generation + 1 if state["done"] else generation
    _expect(
        isinstance(history, list) and len(history) == finished,
        "history",
        f"must be a list of one entry per finished generation ({finished})",
    )
    columns = {"generation", "best_fitness", "mean_fitness", "diverged_genomes", "best_so_far", "best_genome"}
    for index, entry in enumerate(history):
        _expect(
            isinstance(entry, dict) and set(entry) == columns,
            f"history[{index}]",
            f"must have the keys {sorted(columns)}",
        )
        _expect(
            all(_is_number(entry[key]) for key in columns - {"best_genome"}) and isinstance(entry["best_genome"], str),
            f"history[{index}]",
            "must hold numbers and the best genome as a JSON string",
        )
    if state["best"] is None:
        _expect(not history, "best", "must be set once a generation has finished")
    else:
        _expect(bool(history), "best", "must be null before the first generation has finished")
        _check_member(state["best"], "best", evaluated=True)
    rng = state["rng"]
    _expect(
        isinstance(rng, list) and len(rng) == 3 and isinstance(rng[1], list),
        "rng",
        "must be [version, internal state, gauss]",
    )
    try:
        _set_rng_state(random.Random(), rng)
    except (TypeError, ValueError, OverflowError) as error:
        raise CheckpointContentError(f"rng: not a random generator state ({error})") from None


def _set_aside(path: Path, reason: str) -> None:
    set_aside(path, reason, "discovery checkpoint", "the study starts over")


def load_state(path: Path, settings: DiscoverySettings, fingerprint: str) -> dict | None:
    """The state saved at `path` by this study, or None: no file, another study's (replaced
    at the first save), or one set aside as unreadable (torn, not JSON, or not a study's
    state)."""
    if not os.path.lexists(path):
        return None
    try:
        state = json.loads(read_regular(path))  # never through a link, nor from a device or FIFO
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        _set_aside(path, f"unreadable: {str(error)[:200]}")
        return None
    if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), str):
        _set_aside(path, "not a discovery study's state: no fingerprint")
        return None
    if state["fingerprint"] != fingerprint:
        log.info("discovery checkpoint %s was written by a study of other settings; starting over", path)
        return None
    try:
        check_state(state, settings)
    except CheckpointContentError as error:
        _set_aside(path, f"not a discovery study's state: {error}")
        return None
    return state


def task_identity(task: Task) -> dict:
    """A task's fields as its study's fingerprint holds them: its name only when it is not its
    dataset's (checkpoints from before task names stay valid)."""
    fields = dataclasses.asdict(task)
    if fields["name"] == task.dataset:
        del fields["name"]
    return fields


def genome_evaluations(settings: DiscoverySettings) -> int:
    """How many genomes a study evaluates: the first generation, then each later one's children
    (elites keep their fitness)."""
    return settings.population + (settings.generations - 1) * (settings.population - settings.elites)


def genome_fitness(
    genome: Genome,
    tasks: list[Task],
    data: dict[str, PreparedData],
    settings: DiscoverySettings,
    on_step: Callable[[str, float], None] | None = None,
) -> dict:
    """The genome's fitness over the tasks and seeds; `on_step` sees the task run being done
    and the share of the genome's task runs done, after every step."""
    runs = [(task, seed) for task in tasks for seed in settings.seeds]
    results = {}
    for index, (task, seed) in enumerate(runs):

        def step_done(step: int, index: int = index, where: str = f"{task.name} seed {seed}") -> None:
            if on_step:
                on_step(f"{where} step {step} of {settings.max_steps}", (index + step / settings.max_steps) / len(runs))

        results[f"{task.name}/{seed}"] = evaluate_on_task(
            genome, task, data[task.dataset], seed, settings.max_steps, on_step=step_done
        )
    per_task = {
        task.name: sum(results[f"{task.name}/{seed}"].fitness for seed in settings.seeds) / len(settings.seeds)
        for task in tasks
    }
    return {
        "fitness": sum(per_task.values()) / len(per_task),
        "per_task": per_task,
        "diverged": sum(result.diverged for result in results.values()),
    }


def next_population(
    population: list[dict], settings: DiscoverySettings, generation: int, rng: random.Random
) -> list[dict]:
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


def _genome_progress(progress: Progress, state: dict, number: int, pending: int) -> Callable[[str, float], None]:
    """The progress of the generation's `number`-th genome of `pending` to evaluate: `on_step`
    of its fitness."""

    def text(where: str) -> str:
        scores = [member["fitness"] for member in state["population"] if member["fitness"] is not None]
        scores += [state["best"]["fitness"]] if state["best"] else []
        best = f"{max(scores):.4f}" if scores else "none yet"
        return f"genome {number + 1} of {pending} to evaluate, {where}; best fitness so far {best}"

    def on_step(where: str, share: float) -> None:
        progress.tick(lambda: (text(where), (number + share) / pending))

    return on_step


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
    # The data's checksums too: re-prepared data must not be answered by an ended study's checkpoint.
    checksums = {name: prepared.checksum for name, prepared in sorted(data.items())}
    data = {name: data_on_device(prepared, device) for name, prepared in data.items()}
    fingerprint = json.dumps(
        {
            "tasks": [task_identity(task) for task in tasks],
            "settings": dataclasses.asdict(settings),
            "data": checksums,
        },
        sort_keys=True,
    )
    rng = random.Random(settings.study_seed)
    state = load_state(checkpoint_path, settings, fingerprint)
    if state is None:
        population = [{"genome": random_genome(rng).to_dict(), "fitness": None} for _ in range(settings.population)]
        state = {
            "fingerprint": fingerprint,
            "generation": 0,
            "population": population,
            "history": [],
            "best": None,
            "done": False,
        }
        state["rng"] = _rng_state(rng)
    _set_rng_state(rng, state["rng"])

    progress = Progress(total=settings.generations, unit="generation")
    while not state["done"]:
        progress.begin(state["generation"])
        pending = [member for member in state["population"] if member["fitness"] is None]
        for number, member in enumerate(pending):
            on_step = _genome_progress(progress, state, number, len(pending))
            member.update(genome_fitness(Genome.from_dict(member["genome"]), tasks, data, settings, on_step))
            write_json(checkpoint_path, state)  # after every evaluated genome
            if on_evaluated:
                on_evaluated(member)
        fitnesses = [member["fitness"] for member in state["population"]]
        best = max(state["population"], key=lambda member: member["fitness"])
        if state["best"] is None or best["fitness"] > state["best"]["fitness"]:
            state["best"] = dict(best)
        state["history"].append(
            {
                "generation": state["generation"],
                "best_fitness": best["fitness"],
                "mean_fitness": sum(fitnesses) / len(fitnesses),
                "diverged_genomes": sum(member["diverged"] > 0 for member in state["population"]),
                "best_so_far": state["best"]["fitness"],
                "best_genome": json.dumps(best["genome"], sort_keys=True),
            }
        )
        if state["generation"] + 1 >= settings.generations:
            state["done"] = True
        else:
            state["population"] = next_population(state["population"], settings, state["generation"] + 1, rng)
            state["generation"] += 1
        state["rng"] = _rng_state(rng)
        write_json(checkpoint_path, state)  # after every generation
    return state
