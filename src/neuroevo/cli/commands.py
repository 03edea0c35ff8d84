"""What each subcommand does: the `func` of its parser (neuroevo.cli.parser). Each imports
the stages it needs when it runs, so `python -m neuroevo data` never imports torch's optimizers."""

from __future__ import annotations

import argparse
import contextlib
import logging
import resource
import sys
from pathlib import Path

from neuroevo.files.atomic import UnsafePathError

log = logging.getLogger("neuroevo")


def _data(args: argparse.Namespace) -> None:
    from neuroevo.data.prepare import prepare, save_prepared

    data = prepare(args.dataset, args.data_dir, args.download, args.split_seed, args.val_fraction, args.test_fraction)
    save_prepared(data, args.out)
    sizes = ", ".join(f"{split} {len(y)}" for split, y in data.y.items())
    log.info("prepared %s: %d features, %d classes; %s", args.dataset, data.n_features, data.n_classes, sizes)


def _train(args: argparse.Namespace) -> None:
    from neuroevo.cli.budget import with_budget
    from neuroevo.config.run_spec import RunSpec
    from neuroevo.files.atomic import folder_lock
    from neuroevo.training.finished import remove_run_partials

    runs = _block_runs(args)
    spec_text = with_budget(args.spec, args.budget)  # B from the budget job's file, when the spec has the arm
    # Every run's spec is checked before any work (a block's differ only by seed).
    specs = [RunSpec.from_json(args.dataset, args.optimizer, seed, spec_text) for seed, _ in runs]
    if args.tuned:  # the tuning stage's best values replace the config's
        tuned = _tuned_values(args.tuned)
        specs = [spec.with_tuned(tuned, f"--spec with --tuned {args.tuned}") for spec in specs]
    with contextlib.ExitStack() as locks:
        for _, out_dir in runs:  # before any work: one writer per run folder, and each is writable
            locks.enter_context(folder_lock(out_dir))
            remove_run_partials(out_dir)  # a killed write's leftovers: the folder is this job's alone
        _train_block(args, specs, [out_dir for _, out_dir in runs])


def _compare(args: argparse.Namespace) -> None:
    """A discovery comparison's task: every label's block of seeds, one after another."""
    import json

    from neuroevo.config.run_spec import RunSpec
    from neuroevo.files.atomic import folder_lock
    from neuroevo.training.finished import remove_run_partials

    jobs = _json_argument(f'{{"jobs": {args.jobs_json}}}', "--jobs-json")["jobs"]
    if not isinstance(jobs, list) or not jobs:
        raise ValueError("--jobs-json: expected a non-empty JSON list of {label, optimizer, spec, tuned}")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds: each seed once, got {' '.join(map(str, args.seeds))}")
    specs, out_dirs = [], []
    for index, job in enumerate(jobs):
        if not isinstance(job, dict) or set(job) != {"label", "optimizer", "spec", "tuned"}:
            raise ValueError(f"--jobs-json[{index}]: expected the keys label, optimizer, spec, tuned")
        text = json.dumps(job["spec"])
        mine = [RunSpec.from_json(args.dataset, job["optimizer"], seed, text) for seed in args.seeds]
        if job["tuned"]:
            tuned = _tuned_values(job["tuned"])
            mine = [spec.with_tuned(tuned, f"--jobs-json[{index}] with tuned {job['tuned']}") for spec in mine]
        specs += mine
        out_dirs += [_run_folder(_run_folder(Path(args.runs_dir) / job["label"]) / str(seed)) for seed in args.seeds]
    if len(set(out_dirs)) != len(out_dirs):
        raise ValueError("--jobs-json: a label appears twice")
    with contextlib.ExitStack() as locks:
        for out_dir in out_dirs:
            locks.enter_context(folder_lock(out_dir))
            remove_run_partials(out_dir)
        _train_block(args, specs, out_dirs)


def _number(value: float | None) -> str:
    """A score for the log; a summary holds null for a non-finite one."""
    return "null (not finite)" if value is None else f"{value:.4f}"


def _block_runs(args: argparse.Namespace) -> list[tuple[int, Path]]:
    """(seed, run folder) of each run: --seed with --out-dir, or --seeds with --runs-dir/SEED."""
    if args.seed is not None:
        if args.out_dir is None:
            raise ValueError("--seed needs --out-dir (a block of --seeds takes --runs-dir)")
        return [(args.seed, Path(args.out_dir))]
    if args.runs_dir is None:
        raise ValueError("--seeds needs --runs-dir, the folder of the run folders (one --seed takes --out-dir)")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds: each seed once, got {' '.join(map(str, args.seeds))}")
    return [(seed, _run_folder(Path(args.runs_dir) / str(seed))) for seed in args.seeds]


def _run_folder(path: Path) -> Path:
    """A run folder the job makes below the folder it was given (RUNS_DIR/SEED): refused when
    a link stands there (a received results tree), which would put the run's writes and its
    cleanup of older kept results outside the tree. The folders a user names are followed."""
    if path.is_symlink():
        raise UnsafePathError(
            f"{path}: a symbolic link where a run's folder belongs (a received results tree?); "
            "remove the link (rm, not rm -r: its target is not this run's) and run again"
        )
    return path


def _train_block(args: argparse.Namespace, specs: list, out_dirs: list[Path]) -> None:
    """The runs one after another in this process: torch imported and the data read and
    verified once for all of them. A run that fails does not stop the others (each finished
    one is written, and kept where a rerun restores it); the job then fails naming it."""
    import json

    from neuroevo.data.prepare import load_prepared
    from neuroevo.files.progress import Progress
    from neuroevo.training.loop import check_settings

    for spec in {(spec.optimizer, json.dumps(spec.hyperparameters, sort_keys=True)): spec for spec in specs}.values():
        check_settings(spec)  # what would fail every run of a setting fails the job once, before any work
    data = load_prepared(args.data, expected_name=args.dataset)
    progress = Progress(total=len(specs))
    failed = []
    labelled = len({out_dir.parent for out_dir in out_dirs}) > 1  # a comparison's job: runs of several labels
    for index, (spec, out_dir) in enumerate(zip(specs, out_dirs, strict=True)):
        run = f"{out_dir.parent.name} seed {spec.seed}" if labelled else f"seed {spec.seed}"
        progress.begin(index, f"seed {spec.seed}")
        if len(specs) > 1:
            log.info(
                "run %d of %d: %s/%s/seed %d in %s",
                index + 1,
                len(specs),
                spec.dataset,
                spec.optimizer,
                spec.seed,
                out_dir,
            )
        try:
            _run_training(args, spec, out_dir, data, progress)
        except Exception as error:
            if len(specs) == 1:
                raise
            log.exception("%s/%s, %s, failed; going on with the block's other runs", spec.dataset, spec.optimizer, run)
            failed.append(f"{run} ({error})")
    if failed:
        raise RuntimeError(
            f"{len(failed)} of the block's {len(specs)} runs failed: {'; '.join(failed)}. The others are written; "
            "rerunning the job restores them and retries these (the log above has the tracebacks)"
        )


def _tuned_values(path: str) -> dict:
    """The tune command's best values; a file that is not one is refused by name."""
    from neuroevo.config.checks import load_json

    try:
        tuned = load_json(Path(path).read_text(), f"--tuned {path}")["tuned_values"]
        if not isinstance(tuned, dict):
            raise TypeError("tuned_values is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--tuned {path}: not a tuning result ({error!r}); delete it and rerun its tune job") from None
    return tuned


def _run_training(args: argparse.Namespace, spec, out_dir: Path, data, progress) -> None:
    from neuroevo.training.finished import write_run
    from neuroevo.training.loop import train
    from neuroevo.training.tracking import make_tracker

    checkpoint = out_dir / "checkpoint.pt"
    tracker = make_tracker(
        args.tracking,
        args.tracking_project,
        f"{spec.dataset}/{spec.optimizer}/{spec.seed}",
        f"{spec.dataset}/{spec.optimizer}",
        spec.to_dict(),
        out_dir / "tracking",
    )
    summary, history = train(spec, data, checkpoint, args.checkpoint_seconds, tracker.on_epoch, progress)
    tracker.finish(summary)
    write_run(summary, history, out_dir)
    checkpoint.unlink(missing_ok=True)  # the run is finished: its summary replaces it
    if summary["status"] == "diverged":
        log.warning("%s/%s/seed %d DIVERGED: %s", spec.dataset, spec.optimizer, spec.seed, summary["message"])
    log.info(
        "%s/%s/seed %d: %s after %d epochs, test_acc %s, test_loss %s, %.1f s; peak RSS of the job so far %.0f MB",
        spec.dataset,
        spec.optimizer,
        spec.seed,
        summary["status"],
        summary["epochs"],
        _number(summary["test_acc"]),
        _number(summary["test_loss"]),
        summary["wall_time_s"],
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024),
    )


def _tune(args: argparse.Namespace) -> None:
    import dataclasses

    from neuroevo.config.run_spec import RunSpec
    from neuroevo.config.search_space import check_search_space
    from neuroevo.files.atomic import folder_lock, remove_partials, write_atomic, write_json
    from neuroevo.optimizers import get_optimizer
    from neuroevo.training.tune import journal_partials, tune

    spec = RunSpec.from_json(args.dataset, args.optimizer, 0, args.spec)
    space = _json_argument(args.search_space, "--search-space")
    fields = [field.name for field in dataclasses.fields(get_optimizer(args.optimizer).hyperparameters)]
    check_search_space(args.optimizer, space, fields)
    seeds = _seed_list(args.seeds, "--seeds")
    storage = Path(args.storage)
    # One writer per journal (not Optuna's own NAME.lock, which it makes and breaks itself).
    with folder_lock(storage.parent, f"{storage.name}.writer.lock"):
        remove_partials(storage.parent, journal_partials(storage, args.out, args.trials_out))
        result, trials = tune(
            spec,
            args.data,
            space,
            seeds,
            args.trials,
            args.storage,
            args.study_seed,
            args.startup_trials,
            args.pruning == "on",
        )
        write_atomic(args.trials_out, lambda partial: trials.to_parquet(partial, index=False))
        write_json(args.out, result)  # last: its presence means the tuning job finished
    log.info(
        "%s/%s: best %s, objective %.4f after %d trials",
        args.dataset,
        args.optimizer,
        result["tuned_values"],
        result["objective"],
        result["n_trials"],
    )


def _json_argument(text: str, flag: str) -> dict:
    """A JSON object given on the command line; anything else is refused naming the flag."""
    from neuroevo.config.checks import load_json

    value = load_json(text, flag)
    if not isinstance(value, dict):
        raise ValueError(f"{flag}: expected a JSON object, got {type(value).__name__}")
    return value


def _seed_list(text: str, flag: str) -> list[int]:
    try:
        seeds = [int(seed) for seed in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated non-negative integers, got {text!r}") from None
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"{flag}: seeds must be distinct non-negative integers, got {text!r}")
    return seeds


def _aggregate(args: argparse.Namespace) -> None:
    from neuroevo.analysis.aggregate import aggregate

    aggregate(args.summaries, args.out_dir, alpha=args.alpha, test=args.test)


def _report(args: argparse.Namespace) -> None:
    from neuroevo.report.render import render_report

    render_report(
        args.summary_dir,
        args.template,
        _json_argument(args.config_json, "--config-json"),
        args.out,
        args.source_dir,
        args.tuning,
        args.studies,
        args.figures_dir,
        args.command,
        budget_paths=args.budgets,
    )


def _report_figures(args: argparse.Namespace) -> None:
    from neuroevo.cli.budget import load_budgets
    from neuroevo.report.figures import write_report_figures

    write_report_figures(
        args.summary_dir,
        args.out_dir,
        args.alpha,
        args.target_fraction,
        _json_argument(args.targets, "--targets"),
        args.margin,
        args.runtime_targets,
        budgets=load_budgets(args.budgets),
    )


def _study_alignment(args: argparse.Namespace) -> None:
    import torch

    from neuroevo.analysis.gradient_alignment import measure
    from neuroevo.data.prepare import load_prepared

    torch.set_num_threads(args.threads)
    settings = _json_argument(args.settings, "--settings")
    alignment = measure(load_prepared(args.data), **settings)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    alignment.to_parquet(args.out, index=False)
    medians = alignment.groupby(["n_parameters", "pairs"])["cosine_similarity"].median()
    log.info("median cosine similarity by (parameters, pairs):\n%s", medians.unstack().round(3).to_string())


def _study_report(args: argparse.Namespace) -> None:
    from neuroevo.report.study_section import write_study_section

    figures_dir = args.figures_dir or Path(args.out).parent / "figures"
    if not args.summaries and not args.missing_data:
        raise SystemExit(
            "study-report: no summary.json given (only a study that ran nothing, --missing-data, has none)"
        )
    write_study_section(
        args.name,
        _json_argument(args.study_json, "--study-json"),
        args.summaries,
        args.out,
        figures_dir,
        args.alignment,
        missing_data=args.missing_data,
        margin=args.margin,
        alpha=args.alpha,
    )


def _audit(args: argparse.Namespace) -> None:
    import glob

    import pandas as pd
    import yaml

    from neuroevo.analysis.audit import Evidence, audit
    from neuroevo.analysis.runs import load_history, load_runs, read_table
    from neuroevo.report.audit_section import write_audit_section

    try:
        claims = yaml.safe_load(Path(args.claims).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"--claims {args.claims}: not a readable claims file ({error})") from None
    if not isinstance(claims, list):
        raise ValueError(f"--claims {args.claims}: expected a YAML list of claims")

    def named(entries: list[str], flag: str) -> dict[str, str]:
        if not all("=" in entry for entry in entries):
            raise ValueError(f"{flag}: expected NAME=PATH entries, got {' '.join(entries)}")
        return dict(entry.split("=", 1) for entry in entries)

    studies, histories = {}, {}
    for name, folder in named(args.study, "--study").items():
        paths = sorted(glob.glob(str(Path(glob.escape(folder)) / "*" / "*" / "summary.json")))
        if not paths:
            raise ValueError(f"--study {name}={folder}: no runs there (FOLDER/VARIANT/SEED/summary.json)")
        runs = load_runs(paths)
        runs.insert(0, "variant", [Path(path).parents[1].name for path in paths])
        studies[name] = runs
        # Each run's history, named by its folder (the deep-GA claims compare at equal generations).
        histories[name] = pd.concat(
            [
                load_history(path).assign(variant=Path(path).parents[1].name, seed=int(Path(path).parent.name))
                for path in paths
            ],
            ignore_index=True,
        )
    evidence = Evidence(
        runs=read_table(args.runs) if args.runs else pd.DataFrame(),
        studies=studies,
        study_histories=histories,
        comparisons={name: read_table(path) for name, path in named(args.discovery, "--discovery").items()},
        alignment=pd.read_parquet(args.alignment) if args.alignment else None,
        stand_ins=_json_argument(args.stand_ins, "--stand-ins"),
    )
    table = audit(claims, evidence, args.alpha)
    write_audit_section(table, args.out, args.alpha, evidence.stand_ins, args.protocol)
    log.info("audit: %s", table["verdict"].value_counts().to_dict())


def _schema(args: argparse.Namespace) -> None:
    from neuroevo.optimizers.schema import stale, write

    out = Path(args.out)
    if args.check:
        if stale(out):
            raise ValueError(
                f"{out} is stale (or missing): it differs from the optimizer registry; run `python -m neuroevo schema`"
            )
        log.info("%s is up to date", out)
        return
    log.info("%s %s", "wrote" if write(out) else "unchanged:", out)
