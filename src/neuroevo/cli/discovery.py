"""The discovery stage's subcommands (neuroevo.cli.parser): the GA, a baseline's tuning on
its terms and the discovery's report section. Each imports what it needs when it runs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from neuroevo.cli.commands import _json_argument

log = logging.getLogger("neuroevo")


def _task_data(entries: list[str], tasks) -> dict[str, str]:
    """--data's DATASET=PATH entries, one for each dataset of `tasks`."""
    if not all("=" in entry for entry in entries):
        raise ValueError(f"--data: expected DATASET=PATH entries, got {' '.join(entries)}")
    paths = dict(entry.split("=", 1) for entry in entries)
    missing = sorted({task.dataset for task in tasks} - set(paths))
    if missing:
        raise ValueError(f"no --data given for dataset(s) {', '.join(missing)} of the study's tasks")
    return paths


def _discover(args: argparse.Namespace) -> None:
    import torch

    from neuroevo.data.prepare import load_prepared
    from neuroevo.discovery.ga import discover
    from neuroevo.discovery.study import parse_study, write_outputs
    from neuroevo.files.atomic import folder_lock, remove_partials

    torch.set_num_threads(args.threads)
    tasks, settings = parse_study(_json_argument(args.study_json, "--study-json"))
    paths = _task_data(args.data, tasks)
    out_dir = Path(args.out_dir)
    with folder_lock(out_dir):  # one writer per study folder, and it is writable
        remove_partials(
            out_dir, ("checkpoint.json", "best_genome.json", "summary.json", "history.parquet", "fitness.png")
        )
        data = {name: load_prepared(path, expected_name=name) for name, path in paths.items()}
        # The checkpoint is kept after the study ends: rerunning an ended study rewrites its outputs at no cost.
        state = discover(
            tasks,
            data,
            settings,
            out_dir / "checkpoint.json",
            on_evaluated=lambda member: log.info("genome fitness %.4f %s", member["fitness"], member["per_task"]),
        )
        write_outputs(state, out_dir)
    log.info(
        "best fitness %.4f after %d generations: %s",
        state["best"]["fitness"],
        len(state["history"]),
        state["best"]["genome"],
    )


def _tune_baseline(args: argparse.Namespace) -> None:
    import dataclasses

    import torch

    from neuroevo.config.search_space import check_search_space
    from neuroevo.data.prepare import load_prepared
    from neuroevo.discovery.baselines import tune_baseline
    from neuroevo.discovery.study import parse_study
    from neuroevo.files.atomic import folder_lock, remove_partials, write_atomic, write_json
    from neuroevo.optimizers import get_optimizer
    from neuroevo.training.tune import journal_partials

    torch.set_num_threads(args.threads)
    tasks, settings = parse_study(_json_argument(args.study_json, "--study-json"))
    tuning = _json_argument(args.tuning_json, "--tuning-json")
    unknown = sorted(set(tuning) - {"hyperparameters", "space", "trials", "startup_trials"})
    if unknown or "space" not in tuning:
        raise ValueError(
            f"--tuning-json: unknown key(s) {', '.join(unknown)}" if unknown else "--tuning-json: no space"
        )
    fields = [field.name for field in dataclasses.fields(get_optimizer(args.optimizer).hyperparameters)]
    check_search_space(args.optimizer, tuning["space"], fields)
    paths = _task_data(args.data, tasks)
    storage = Path(args.storage)
    with folder_lock(storage.parent, f"{storage.name}.writer.lock"):
        remove_partials(storage.parent, journal_partials(storage, args.out, args.trials_out))
        data = {name: load_prepared(path, expected_name=name) for name, path in paths.items()}
        result, trials = tune_baseline(
            args.optimizer,
            tasks,
            data,
            settings,
            tuning.get("hyperparameters", {}),
            tuning["space"],
            storage,
            tuning.get("trials"),
            tuning.get("startup_trials", 4),
        )
        write_atomic(args.trials_out, lambda partial: trials.to_parquet(partial, index=False))
        write_json(args.out, result)  # last: its presence means the tuning job finished
    log.info(
        "baseline %s: best %s, fitness %.4f after %d trials",
        args.optimizer,
        result["tuned_values"],
        result["objective"],
        result["n_trials"],
    )


def _discovery_report(args: argparse.Namespace) -> None:
    from neuroevo.report.discovery_section import write_section

    write_section(
        args.name,
        _json_argument(args.study_json, "--study-json"),
        args.discovery_dir,
        args.summaries,
        args.out,
        args.alpha,
        args.margin,
        args.tuning,
    )
