"""Command line: every Snakemake rule calls one of these, and so can a user by hand.

python -m neuroevo data --dataset iris --out resources/data/iris.npz
python -m neuroevo train --data resources/data/iris.npz --dataset iris --optimizer adam --seed 0 --spec '{...}' --out-dir DIR
python -m neuroevo tune --data resources/data/iris.npz --dataset iris --optimizer adam --trials 10 --search-space '{...}' ...
python -m neuroevo aggregate --out-dir results/summary SUMMARY.json ...
python -m neuroevo report-figures --summary-dir results/summary --out-dir results/report/figures
python -m neuroevo report --summary-dir results/summary --template T --config-json '{...}' --out report.md
python -m neuroevo study-alignment --data resources/data/iris.npz --settings '{...}' --out alignment.parquet
python -m neuroevo study-report --name NAME --study-json '{...}' --out results/studies/NAME/study.md SUMMARY.json ...
python -m neuroevo discover --study-json '{...}' --data digits=resources/data/digits.npz --out-dir results/discovery/NAME
python -m neuroevo discovery-report --name NAME --study-json '{...}' --discovery-dir DIR --out section.md SUMMARY.json ...
python -m neuroevo schema [--check]    # workflow/schemas/optimizers.schema.yaml from the optimizer registry
"""

from __future__ import annotations

import argparse
import logging
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from neuroevo.config import defaults
from neuroevo.config.checks import OPTIMIZERS_SCHEMA_PATH

log = logging.getLogger("neuroevo")


def _data(args: argparse.Namespace) -> None:
    from neuroevo.data.prepare import prepare, save_prepared

    data = prepare(args.dataset, args.data_dir, args.download, args.split_seed, args.val_fraction, args.test_fraction)
    save_prepared(data, args.out)
    sizes = ", ".join(f"{split} {len(y)}" for split, y in data.y.items())
    log.info("prepared %s: %d features, %d classes; %s", args.dataset, data.n_features, data.n_classes, sizes)


def _train(args: argparse.Namespace) -> None:
    from neuroevo.config.run_spec import RunSpec
    from neuroevo.files.atomic import folder_lock, remove_partials

    spec = RunSpec.from_json(args.dataset, args.optimizer, args.seed, args.spec)
    if args.tuned:  # the tuning stage's best values replace the config's
        spec = spec.with_tuned(_tuned_values(args.tuned), f"--spec with --tuned {args.tuned}")
    with folder_lock(args.out_dir):  # before any work: one writer per run folder, and it is writable
        remove_partials(args.out_dir, recursive=True)  # a killed write's leftovers: the folder is this job's alone
        _run_training(args, spec)


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


def _run_training(args: argparse.Namespace, spec) -> None:
    from neuroevo.training.loop import train, write_run
    from neuroevo.training.tracking import make_tracker

    checkpoint = Path(args.out_dir) / "checkpoint.pt"
    tracker = make_tracker(
        args.tracking,
        args.tracking_project,
        f"{spec.dataset}/{spec.optimizer}/{spec.seed}",
        f"{spec.dataset}/{spec.optimizer}",
        spec.to_dict(),
        Path(args.out_dir) / "tracking",
    )
    summary, history = train(spec, args.data, checkpoint, args.checkpoint_seconds, on_epoch=tracker.on_epoch)
    tracker.finish(summary)
    write_run(summary, history, args.out_dir)
    checkpoint.unlink(missing_ok=True)  # the run is finished: its summary replaces it
    if summary["status"] == "diverged":
        log.warning("%s/%s/seed %d DIVERGED: %s", spec.dataset, spec.optimizer, spec.seed, summary["message"])
    log.info(
        "%s/%s/seed %d: %s after %d epochs, test_acc %.4f, test_loss %.4f, %.1f s",
        spec.dataset,
        spec.optimizer,
        spec.seed,
        summary["status"],
        summary["epochs"],
        summary["test_acc"],
        summary["test_loss"],
        summary["wall_time_s"],
    )


def _tune(args: argparse.Namespace) -> None:
    import dataclasses

    from neuroevo.config.run_spec import RunSpec
    from neuroevo.config.search_space import check_search_space
    from neuroevo.files.atomic import folder_lock, remove_partials, write_atomic, write_json
    from neuroevo.optimizers import get_optimizer
    from neuroevo.training.tune import tune

    spec = RunSpec.from_json(args.dataset, args.optimizer, 0, args.spec)
    space = _json_argument(args.search_space, "--search-space")
    fields = [field.name for field in dataclasses.fields(get_optimizer(args.optimizer).hyperparameters)]
    check_search_space(args.optimizer, space, fields)
    seeds = _seed_list(args.seeds, "--seeds")
    storage = Path(args.storage)
    # One writer per journal (not Optuna's own NAME.lock, which it makes and breaks itself).
    with folder_lock(storage.parent, f"{storage.name}.writer.lock"):
        remove_partials(
            storage.parent, tuple(Path(path).name + "." for path in (args.out, args.trials_out, args.storage))
        )
        result, trials = tune(
            spec, args.data, space, seeds, args.trials, args.storage, args.study_seed, args.startup_trials
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
    )


def _report_figures(args: argparse.Namespace) -> None:
    from neuroevo.report.figures import write_report_figures

    write_report_figures(
        args.summary_dir, args.out_dir, args.alpha, args.target_fraction, _json_argument(args.targets, "--targets")
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
    write_study_section(
        args.name,
        _json_argument(args.study_json, "--study-json"),
        args.summaries,
        args.out,
        figures_dir,
        args.alignment,
    )


def _discover(args: argparse.Namespace) -> None:
    import torch

    from neuroevo.data.prepare import load_prepared
    from neuroevo.discovery.ga import discover
    from neuroevo.discovery.study import parse_study, write_outputs
    from neuroevo.files.atomic import folder_lock, remove_partials

    torch.set_num_threads(args.threads)
    tasks, settings = parse_study(_json_argument(args.study_json, "--study-json"))
    if not all("=" in entry for entry in args.data):
        raise ValueError(f"--data: expected DATASET=PATH entries, got {' '.join(args.data)}")
    paths = dict(entry.split("=", 1) for entry in args.data)
    missing = sorted({task.dataset for task in tasks} - set(paths))
    if missing:
        raise ValueError(f"no --data given for dataset(s) {', '.join(missing)} of the study's tasks")
    out_dir = Path(args.out_dir)
    with folder_lock(out_dir):  # one writer per study folder, and it is writable
        remove_partials(
            out_dir, ("checkpoint.json.", "best_genome.json.", "summary.json.", "history.parquet.", "fitness.png.")
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


def _discovery_report(args: argparse.Namespace) -> None:
    from neuroevo.report.discovery_section import write_section

    write_section(
        args.name,
        _json_argument(args.study_json, "--study-json"),
        args.discovery_dir,
        args.summaries,
        args.out,
        args.alpha,
        args.test,
    )


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


def _number(kind: type, name: str, accept: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a finite number of `kind` that `accept` takes, else an error naming the flag."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}")
        return value

    return parse


NON_NEGATIVE_INT = _number(int, "a non-negative integer", lambda value: value >= 0)
POSITIVE_INT = _number(int, "a positive integer", lambda value: value >= 1)
NON_NEGATIVE_FLOAT = _number(float, "a non-negative number", lambda value: value >= 0)
SPLIT_FRACTION = _number(float, "a fraction above 0 and below 0.5", lambda value: 0 < value < 0.5)  # as the schema
PROBABILITY = _number(float, "a number above 0 and at most 1", lambda value: 0 < value <= 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuroevo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="prepare one dataset (split, standardize) into an .npz file")
    data.add_argument("--dataset", required=True)
    data.add_argument("--out", required=True)
    data.add_argument("--data-dir", default="data", help="raw data in torchvision's layout")
    data.add_argument("--download", action="store_true", help="let torchvision download missing files")
    data.add_argument("--split-seed", type=NON_NEGATIVE_INT, default=0)
    data.add_argument("--val-fraction", type=SPLIT_FRACTION, default=defaults.SPLIT_FRACTION)
    data.add_argument("--test-fraction", type=SPLIT_FRACTION, default=defaults.SPLIT_FRACTION)
    data.set_defaults(func=_data)

    train = commands.add_parser("train", help="train one (dataset, optimizer, seed)")
    train.add_argument("--data", required=True, help="prepared .npz from the data command")
    train.add_argument("--dataset", required=True)
    train.add_argument("--optimizer", required=True)
    train.add_argument("--seed", type=NON_NEGATIVE_INT, required=True)
    train.add_argument("--spec", default="{}", help="JSON: {model: {...}, training: {...}, hyperparameters: {...}}")
    train.add_argument("--out-dir", required=True)
    train.add_argument("--tuned", help="JSON written by the tune command; its tuned values override --spec's")
    train.add_argument(
        "--checkpoint-seconds",
        type=NON_NEGATIVE_FLOAT,
        default=60.0,
        help="save the run's state to OUT_DIR/checkpoint.pt this often (at epoch ends); a rerun resumes from it",
    )
    train.add_argument(
        "--tracking", choices=["none", "wandb"], default="none", help="log epochs and summary to Weights & Biases"
    )
    train.add_argument("--tracking-project", default="neuroevo")
    train.set_defaults(func=_train)

    tune = commands.add_parser("tune", help="Optuna study of one (dataset, optimizer) over tuning seeds")
    tune.add_argument("--data", required=True)
    tune.add_argument("--dataset", required=True)
    tune.add_argument("--optimizer", required=True)
    tune.add_argument("--spec", default="{}", help="as for train: the base settings the trials vary")
    tune.add_argument(
        "--search-space", required=True, help='JSON: {"lr": {"distribution": "log_uniform", "low": 1e-4, "high": 1}}'
    )
    tune.add_argument("--seeds", default="1000,1001", help="tuning seeds, comma-separated (never the evaluation seeds)")
    tune.add_argument(
        "--trials",
        type=POSITIVE_INT,
        default=10,
        help="trials the study runs, failed ones included (a rerun runs only the missing ones)",
    )
    tune.add_argument(
        "--startup-trials", type=NON_NEGATIVE_INT, default=4, help="random trials before TPE, and before pruning starts"
    )
    tune.add_argument("--study-seed", type=NON_NEGATIVE_INT, default=0)
    tune.add_argument("--storage", required=True, help="Optuna journal file; a rerun resumes the study stored there")
    tune.add_argument("--out", required=True, help="best values as JSON")
    tune.add_argument("--trials-out", required=True, help="all trials as Parquet")
    tune.set_defaults(func=_tune)

    aggregate = commands.add_parser("aggregate", help="tables and tests over finished runs")
    aggregate.add_argument("summaries", nargs="+", help="summary.json files of the runs to include")
    aggregate.add_argument("--out-dir", required=True)
    aggregate.add_argument("--alpha", type=PROBABILITY, default=0.05)
    aggregate.add_argument(
        "--test",
        choices=["wilcoxon", "mann_whitney"],
        default="wilcoxon",
        help="the test that decides the highlighting",
    )
    aggregate.set_defaults(func=_aggregate)

    report = commands.add_parser("report", help="render the Markdown report")
    report.add_argument("--summary-dir", required=True)
    report.add_argument("--template", required=True)
    report.add_argument("--config-json", default="{}")
    report.add_argument("--tuning", nargs="*", default=[], help="JSON files written by the tune command")
    report.add_argument("--source-dir", default=".", help="checkout whose git commit the report names")
    report.add_argument("--studies", nargs="*", default=[], help="study.md files to include as sections")
    report.add_argument("--figures-dir", help="the report's figures (report-figures); linked where present")
    report.add_argument("--command", default="", help="the command that regenerates the report, for its header")
    report.add_argument("--out", required=True)
    report.set_defaults(func=_report)

    figures = commands.add_parser(
        "report-figures", help="cost curves, boxplots, cost-to-target and rank tests over the aggregate's tables"
    )
    figures.add_argument(
        "--summary-dir", required=True, help="the aggregate's folder; cost_to_target.parquet and ranks.parquet go there"
    )
    figures.add_argument("--out-dir", required=True, help="folder of the PNG figures")
    figures.add_argument("--alpha", type=PROBABILITY, default=0.05)
    figures.add_argument(
        "--target-fraction",
        type=PROBABILITY,
        default=0.95,
        help="target val accuracy: this fraction of the best median",
    )
    figures.add_argument("--targets", default="{}", help='JSON: per dataset, a target val accuracy, e.g. {"iris": 0.9}')
    figures.set_defaults(func=_report_figures)

    alignment = commands.add_parser(
        "study-alignment", help="cosine similarity of ES gradient estimates to the true gradient"
    )
    alignment.add_argument("--data", required=True)
    alignment.add_argument(
        "--settings",
        required=True,
        help=f'JSON: {{"hidden": [8, 32], "pairs": [1, 16], "seeds": [0, 1], "sigma": {defaults.ALIGNMENT_SIGMA}, "rank_shaping": true, '
        '"batches": 4, "batch_size": 256, "activation": "relu"}',  # sigma: the study schema's default
    )
    alignment.add_argument("--threads", type=POSITIVE_INT, default=1)
    alignment.add_argument("--out", required=True, help="Parquet: one row per hidden x seed x minibatch x pairs")
    alignment.set_defaults(func=_study_alignment)

    study = commands.add_parser("study-report", help="one study's figures and Markdown section")
    study.add_argument(
        "summaries", nargs="+", help="the study's summary.json files (STUDY_DIR/VARIANT/SEED/summary.json)"
    )
    study.add_argument("--name", required=True)
    study.add_argument("--study-json", required=True, help="the study file's content as JSON")
    study.add_argument("--alignment", help="Parquet written by study-alignment")
    study.add_argument("--figures-dir", help="default: figures/ beside --out")
    study.add_argument("--out", required=True)
    study.set_defaults(func=_study_report)

    discover = commands.add_parser("discover", help="GA over optimizer update rules (resumes from its checkpoint)")
    discover.add_argument(
        "--study-json", required=True, help='JSON: {"tasks": [{"dataset": ..., "model": "mlp"}], "settings": {...}}'
    )
    discover.add_argument("--data", nargs="+", required=True, help="DATASET=PATH of each task's prepared .npz")
    discover.add_argument("--threads", type=POSITIVE_INT, default=1)
    discover.add_argument("--out-dir", required=True)
    discover.set_defaults(func=_discover)

    section = commands.add_parser(
        "discovery-report", help="a discovery study's report section: the GA's result and the comparison"
    )
    section.add_argument(
        "summaries", nargs="+", help="comparison runs' summary.json (.../comparison/TASK/OPTIMIZER/SEED/summary.json)"
    )
    section.add_argument("--name", required=True)
    section.add_argument("--study-json", required=True, help="the study's config block as JSON")
    section.add_argument(
        "--discovery-dir", required=True, help="folder of the study's best_genome.json, summary.json, fitness.png"
    )
    section.add_argument("--alpha", type=PROBABILITY, default=0.05)
    section.add_argument(
        "--test",
        choices=["wilcoxon", "mann_whitney"],
        default="wilcoxon",
        help="the test that decides the highlighting",
    )
    section.add_argument("--out", required=True, help="section.md; comparison.parquet is written beside it")
    section.set_defaults(func=_discovery_report)

    schema = commands.add_parser("schema", help="write the optimizer part of the config schema from the registry")
    schema.add_argument(
        "--out",
        default=str(OPTIMIZERS_SCHEMA_PATH),  # the checkout's, from any working directory
        help="the file config.schema.yaml refers to",
    )
    schema.add_argument("--check", action="store_true", help="write nothing; fail, naming the file, when it is stale")
    schema.set_defaults(func=_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    # First in every job's log: the command that reruns the job by hand, quoted for a shell.
    log.info("command: %s", shlex.join(["python", "-m", "neuroevo", *argv]))
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except Exception as error:  # one clear line naming the problem, then the traceback in the log
        log.exception("neuroevo %s failed", args.command)
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
