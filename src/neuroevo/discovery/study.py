"""A discovery study as data (tasks + GA settings, from a config block), and what it
writes: the best genome (JSON), the per-generation history (Parquet), a figure of fitness
over generations and a summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from neuroevo.data.datasets import DATASETS
from neuroevo.discovery.ga import DiscoverySettings
from neuroevo.discovery.tasks import Task
from neuroevo.files.atomic import write_atomic, write_json
from neuroevo.update_rules import Genome


def parse_study(block: dict) -> tuple[list[Task], DiscoverySettings]:
    """Tasks and GA settings from a study block {"tasks": [...], "settings": {...},
    "comparison": {...}} (the comparison: neuroevo.config.discovery); an unknown key or
    dataset is refused with the field named."""
    unknown = sorted(set(block) - {"tasks", "settings", "comparison"})
    if unknown:
        raise ValueError(f"discovery study: unknown key(s) {', '.join(unknown)}; known: comparison, settings, tasks")
    return _tasks(block.get("tasks", []), "tasks"), _settings(block)


def held_out_tasks(block: dict) -> list[Task]:
    """The comparison's held-out tasks (comparison.held_out): tasks the GA never saw."""
    return _tasks(block.get("comparison", {}).get("held_out", []), "comparison.held_out", required=False)


def _tasks(entries: list[dict], where: str, required: bool = True) -> list[Task]:
    task_fields = {field.name for field in dataclasses.fields(Task)}
    tasks = []
    for index, entry in enumerate(entries):
        extra = sorted(set(entry) - task_fields)
        if extra:
            raise ValueError(
                f"{where}[{index}]: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(task_fields))}"
            )
        if entry.get("dataset") not in DATASETS:
            raise ValueError(
                f"{where}[{index}].dataset: unknown dataset {entry.get('dataset')!r}; known: {', '.join(DATASETS)}"
            )
        tasks.append(Task(**entry))
    if required and not tasks:
        raise ValueError(f"{where}: a discovery study needs at least one task")
    names = [task.name for task in tasks]
    if len(set(names)) < len(names):
        raise ValueError(
            f"{where}: a name appears twice ({', '.join(names)}); name a task (`name`) to train a dataset twice"
        )
    return tasks


def _settings(block: dict) -> DiscoverySettings:
    settings_fields = {field.name for field in dataclasses.fields(DiscoverySettings)}
    extra = sorted(set(block.get("settings", {})) - settings_fields)
    if extra:
        raise ValueError(f"settings: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(settings_fields))}")
    return DiscoverySettings(**block.get("settings", {}))


def write_outputs(state: dict, out_dir: str | Path) -> None:
    """best_genome.json, history.parquet, fitness.png and summary.json (written last)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    Genome.from_dict(state["best"]["genome"]).save(out_dir / "best_genome.json")
    history = pd.DataFrame(state["history"])
    # Through write_atomic (a new file renamed into place): a link planted at these names is replaced, never followed.
    write_atomic(out_dir / "history.parquet", lambda partial: history.to_parquet(partial, index=False))
    figure, axes = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for column, label in (
        ("best_fitness", "best of generation"),
        ("mean_fitness", "mean of generation"),
        ("best_so_far", "best so far"),
    ):
        axes.plot(history["generation"], history[column], marker="o", markersize=3, label=label)
    axes.set(xlabel="generation", ylabel="fitness", title="Optimizer discovery: fitness by generation")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    write_atomic(out_dir / "fitness.png", lambda partial: figure.savefig(partial, dpi=120, format="png"))
    plt.close(figure)
    write_json(
        out_dir / "summary.json",
        {
            "best_fitness": state["best"]["fitness"],
            "best_per_task": state["best"]["per_task"],
            "generations": len(state["history"]),
            "best_genome": state["best"]["genome"],
        },
    )
