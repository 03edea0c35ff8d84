"""The command line's arguments: one subparser per command, typed flags that refuse a bad
value naming the flag, each command's `func` from neuroevo.cli.commands."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable

from neuroevo.cli.budget import _budget
from neuroevo.cli.commands import (
    _aggregate,
    _audit,
    _compare,
    _data,
    _report,
    _report_figures,
    _schema,
    _study_alignment,
    _study_report,
    _train,
    _tune,
)
from neuroevo.cli.discovery import _discover, _discovery_report, _tune_baseline
from neuroevo.config import defaults
from neuroevo.config.checks import OPTIMIZERS_SCHEMA_PATH
from neuroevo.config.limits import SEED_LIMIT


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


def _seed(text: str) -> int:
    """A seed: a non-negative integer below 2**32. torch takes the low 32 bits of a larger one
    (2**32 would be seed 0's run again), numpy and pycma refuse it."""
    value = NON_NEGATIVE_INT(text)
    if value >= SEED_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{value} is not below 2**32 (= {SEED_LIMIT}): seeds are 32-bit in torch, numpy and pycma, "
            "so a larger one would repeat a smaller one's run; give a seed below 2**32"
        )
    return value


def _seed_list(text: str) -> str:
    """Comma-separated seeds (the tune command's --seeds), as given: each that is an integer must
    be below 2**32 (the command refuses the rest: negative, repeated or not numbers)."""
    for part in text.split(","):
        try:
            value = int(part)
        except ValueError:
            continue
        if value >= SEED_LIMIT:
            raise argparse.ArgumentTypeError(
                f"{value} is not below 2**32 (= {SEED_LIMIT}): seeds are 32-bit in torch, numpy and pycma; "
                "give seeds below 2**32"
            )
    return text


def _seed_values(value: object, where: str = "") -> list[tuple[str, object]]:
    """(key, value) of every integer under a key that names seeds (seed, seeds, study_seed, ...)
    in a JSON value, list items by index."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and "seed" in key:
            seeds = enumerate(item) if isinstance(item, list) else [(None, item)]
            found += [(name if index is None else f"{name}.{index}", seed) for index, seed in seeds]
        found += _seed_values(item, name)
    return found


def _json_seeds(text: str) -> str:
    """A JSON argument (--study-json, --settings) as given, once every seed in it is below 2**32
    (what is not JSON, or a seed of another type, the command refuses, naming the flag)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    for key, seed in _seed_values(value):
        if isinstance(seed, int) and not isinstance(seed, bool) and seed >= SEED_LIMIT:
            raise argparse.ArgumentTypeError(
                f"{key}: {seed} is not below 2**32 (= {SEED_LIMIT}): seeds are 32-bit in torch, numpy and pycma; "
                "give seeds below 2**32"
            )
    return text


SEED = _seed  # the argparse types of seeds, named as the others
SEED_CSV = _seed_list
JSON_SEEDS = _json_seeds


def _add_significance(parser: argparse.ArgumentParser) -> None:
    """--alpha and --test: how the tables' highlighting decides (config `report`)."""
    parser.add_argument("--alpha", type=PROBABILITY, default=0.05)
    parser.add_argument(
        "--test",
        choices=["wilcoxon", "mann_whitney"],
        default="wilcoxon",
        help="the test that decides the highlighting",
    )


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
    data.add_argument("--split-seed", type=SEED, default=0)
    data.add_argument("--val-fraction", type=SPLIT_FRACTION, default=defaults.SPLIT_FRACTION)
    data.add_argument("--test-fraction", type=SPLIT_FRACTION, default=defaults.SPLIT_FRACTION)
    data.set_defaults(func=_data)

    train = commands.add_parser(
        "train",
        help="train one (dataset, optimizer, seed), or a block of seeds in one process (--seeds, --runs-dir)",
    )
    train.add_argument("--data", required=True, help="prepared .npz from the data command")
    train.add_argument("--dataset", required=True)
    train.add_argument("--optimizer", required=True)
    seeds = train.add_mutually_exclusive_group(required=True)
    seeds.add_argument("--seed", type=SEED, help="one run, written to --out-dir (below 2**32)")
    seeds.add_argument(
        "--seeds", type=SEED, nargs="+", help="a block of runs, one after another, each in RUNS_DIR/SEED"
    )
    train.add_argument("--spec", default="{}", help="JSON: {model: {...}, training: {...}, hyperparameters: {...}}")
    folders = train.add_mutually_exclusive_group(required=True)
    folders.add_argument("--out-dir", help="the run's folder (with --seed)")
    folders.add_argument("--runs-dir", help="the folder of the block's run folders, RUNS_DIR/SEED (with --seeds)")
    train.add_argument("--tuned", help="JSON written by the tune command; its tuned values override --spec's")
    train.add_argument(
        "--budget",
        help="the budget command's JSON (results/budget/DATASET.json): B, which replaces --spec's training.budget_flops",
    )
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

    compare = commands.add_parser(
        "compare", help="a discovery comparison's task: several optimizers' blocks of seeds in one process"
    )
    compare.add_argument("--data", required=True, help="prepared .npz of the task's dataset")
    compare.add_argument("--dataset", required=True)
    compare.add_argument("--seeds", type=SEED, nargs="+", required=True)
    compare.add_argument(
        "--jobs-json",
        required=True,
        help='JSON list: [{"label": ..., "optimizer": ..., "spec": {...}, "tuned": PATH or null}, ...]',
    )
    compare.add_argument("--runs-dir", required=True, help="the task's folder: each run in RUNS_DIR/LABEL/SEED")
    compare.add_argument("--checkpoint-seconds", type=NON_NEGATIVE_FLOAT, default=60.0)
    compare.set_defaults(func=_compare, tracking="none", tracking_project="neuroevo")

    tune = commands.add_parser("tune", help="Optuna study of one (dataset, optimizer) over tuning seeds")
    tune.add_argument("--data", required=True)
    tune.add_argument("--dataset", required=True)
    tune.add_argument("--optimizer", required=True)
    tune.add_argument("--spec", default="{}", help="as for train: the base settings the trials vary")
    tune.add_argument(
        "--search-space", required=True, help='JSON: {"lr": {"distribution": "log_uniform", "low": 1e-4, "high": 1}}'
    )
    tune.add_argument(
        "--seeds",
        type=SEED_CSV,
        default="1000,1001",
        help="tuning seeds, comma-separated, each below 2**32 (never the evaluation seeds)",
    )
    tune.add_argument(
        "--trials",
        type=POSITIVE_INT,
        default=10,
        help="completed trials the study needs (pruned and failed ones do not count; at most 3x as many end; a rerun "
        "runs only the missing ones)",
    )
    tune.add_argument(
        "--startup-trials", type=NON_NEGATIVE_INT, default=4, help="random trials before TPE, and before pruning starts"
    )
    tune.add_argument("--study-seed", type=SEED, default=0)
    tune.add_argument(
        "--pruning", choices=("on", "off"), default="off", help="median pruning on per-epoch validation loss"
    )
    tune.add_argument("--storage", required=True, help="Optuna journal file; a rerun resumes the study stored there")
    tune.add_argument("--out", required=True, help="best values as JSON")
    tune.add_argument("--trials-out", required=True, help="all trials as Parquet")
    tune.set_defaults(func=_tune)

    aggregate = commands.add_parser("aggregate", help="tables and tests over finished runs")
    aggregate.add_argument("summaries", nargs="+", help="summary.json files of the runs to include")
    aggregate.add_argument("--out-dir", required=True)
    _add_significance(aggregate)
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
    report.add_argument(
        "--budgets", nargs="*", default=[], help="the budget command's JSON files (how each dataset's B was set)"
    )
    report.add_argument("--out", required=True)
    report.set_defaults(func=_report)

    figures = commands.add_parser(
        "report-figures", help="figures, cost-to-target, verdicts and rank tests over the aggregate's tables"
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
    figures.add_argument(
        "--margin", type=PROBABILITY, default=0.01, help="the verdicts' equivalence margin delta, in test accuracy"
    )
    figures.add_argument(
        "--runtime-targets",
        type=PROBABILITY,
        nargs="+",
        default=[0.8, 0.9, 0.95, 0.98],
        help="the runtime ECDF's and aRT table's targets: fractions of the best median final val accuracy",
    )
    figures.add_argument(
        "--budgets",
        nargs="*",
        default=[],
        help="the budget command's JSON files (B and the rule's numbers per dataset)",
    )
    figures.set_defaults(func=_report_figures)

    budget = commands.add_parser(
        "budget", help="a dataset's base budget B from its pilot runs (the rule's, or the hand-set one beside it)"
    )
    budget.add_argument("--dataset", required=True)
    budget.add_argument("--pilot", nargs="+", required=True, help="summary.json files of the pilot runs")
    budget.add_argument(
        "--settings",
        required=True,
        help='JSON: {"fraction": 0.5, "margin": 0.01, "multiples": [0.25, 1, 4], "hand_flops": null, "run_minutes": 10}',
    )
    budget.add_argument("--out", required=True, help="the budget file (JSON)")
    budget.set_defaults(func=_budget)

    alignment = commands.add_parser(
        "study-alignment", help="cosine similarity of ES gradient estimates to the true gradient"
    )
    alignment.add_argument("--data", required=True)
    alignment.add_argument(
        "--settings",
        required=True,
        type=JSON_SEEDS,
        help=f'JSON: {{"hidden": [8, 32], "pairs": [1, 16], "seeds": [0, 1], "sigma": {defaults.ALIGNMENT_SIGMA}, "rank_shaping": true, '
        '"batches": 4, "batch_size": 256, "activation": "relu"}',  # sigma: the study schema's default
    )
    alignment.add_argument("--threads", type=POSITIVE_INT, default=1)
    alignment.add_argument("--out", required=True, help="Parquet: one row per hidden x seed x minibatch x pairs")
    alignment.set_defaults(func=_study_alignment)

    study = commands.add_parser("study-report", help="one study's figures and Markdown section")
    study.add_argument(
        "summaries", nargs="*", help="the study's summary.json files (STUDY_DIR/VARIANT/SEED/summary.json)"
    )
    study.add_argument("--name", required=True)
    study.add_argument("--study-json", required=True, help="the study file's content as JSON")
    study.add_argument("--alignment", help="Parquet written by study-alignment")
    study.add_argument(
        "--missing-data", help="why the study ran nothing (its raw data are missing): the section says it"
    )
    study.add_argument("--alpha", type=PROBABILITY, default=0.05, help="the verdict table's significance level")
    study.add_argument(
        "--margin", type=PROBABILITY, default=0.01, help="the verdicts' equivalence margin delta, in test accuracy"
    )
    study.add_argument("--figures-dir", help="default: figures/ beside --out")
    study.add_argument("--out", required=True)
    study.set_defaults(func=_study_report)

    discover = commands.add_parser("discover", help="GA over optimizer update rules (resumes from its checkpoint)")
    discover.add_argument(
        "--study-json",
        required=True,
        type=JSON_SEEDS,
        help='JSON: {"tasks": [{"dataset": ..., "model": "mlp"}], "settings": {...}}',
    )
    discover.add_argument("--data", nargs="+", required=True, help="DATASET=PATH of each task's prepared .npz")
    discover.add_argument("--threads", type=POSITIVE_INT, default=1)
    discover.add_argument("--out-dir", required=True)
    discover.set_defaults(func=_discover)

    baseline = commands.add_parser(
        "tune-baseline", help="tune a baseline on a discovery study's tasks and GA seeds (resumes from its journal)"
    )
    baseline.add_argument(
        "--study-json", required=True, type=JSON_SEEDS, help="the study's tasks and settings, as for discover"
    )
    baseline.add_argument("--optimizer", required=True)
    baseline.add_argument(
        "--tuning-json",
        required=True,
        help='JSON: {"hyperparameters": {...}, "space": {...}, "trials": N or null, "startup_trials": N}',
    )
    baseline.add_argument("--data", nargs="+", required=True, help="DATASET=PATH of each task's prepared .npz")
    baseline.add_argument("--threads", type=POSITIVE_INT, default=1)
    baseline.add_argument(
        "--storage", required=True, help="Optuna journal file; a rerun resumes the study stored there"
    )
    baseline.add_argument("--out", required=True, help="best values as JSON (the train command's --tuned)")
    baseline.add_argument("--trials-out", required=True, help="all trials as Parquet")
    baseline.set_defaults(func=_tune_baseline)

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
        "--margin", type=PROBABILITY, default=0.01, help="the verdicts' equivalence margin delta, in test accuracy"
    )
    section.add_argument("--tuning", nargs="*", default=[], help="the tuned baselines' results (tune-baseline)")
    section.add_argument("--out", required=True, help="section.md; comparison.parquet is written beside it")
    section.set_defaults(func=_discovery_report)

    audit = commands.add_parser("audit", help="the prior-work audit: each claim of the write-ups tested on the runs")
    audit.add_argument("--claims", required=True, help="YAML list of claims (config/audit/prior-work-claims.yaml)")
    audit.add_argument("--runs", help="runs.parquet of the aggregate command (the main runs)")
    audit.add_argument("--study", nargs="*", default=[], help="NAME=DIR of each study's runs (DIR/VARIANT/SEED)")
    audit.add_argument("--discovery", nargs="*", default=[], help="NAME=PATH of each discovery's comparison.parquet")
    audit.add_argument("--alignment", help="alignment.parquet of the es_gradient study")
    audit.add_argument("--stand-ins", default="{}", help='JSON: {"mnist14": "fashion_mnist14"} where one stood in')
    audit.add_argument("--protocol", default="", help="a paragraph on the protocol the runs followed")
    audit.add_argument("--alpha", type=PROBABILITY, default=0.05)
    audit.add_argument("--out", required=True, help="section.md; audit.parquet and audit.csv are written beside it")
    audit.set_defaults(func=_audit)

    schema = commands.add_parser("schema", help="write the optimizer part of the config schema from the registry")
    schema.add_argument(
        "--out",
        default=str(OPTIMIZERS_SCHEMA_PATH),  # the checkout's, from any working directory
        help="the file config.schema.yaml refers to",
    )
    schema.add_argument("--check", action="store_true", help="write nothing; fail, naming the file, when it is stale")
    schema.set_defaults(func=_schema)
    return parser
