"""What the wall-time-budget benchmarks share (evolution_budget.py, cmaes_budget.py,
cnn_budget.py): the command line, the prepared data and problem, and runs of the ordinary
training loop under a budget, printed as accuracy at a quarter, half and all of the budget."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd
import torch
from machine import describe

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.data.prepare import load_prepared, prepare, save_prepared
from neuroevo.models.problem import Problem
from neuroevo.training.loop import train


def parse_arguments(
    description: str,
    full: tuple = ("fashion_mnist14", 32),
    model: str = "mlp",
    budget: float = 120.0,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The command line; `full` is the (dataset, hidden) of a full run, `model` the model kind,
    `extra` adds a benchmark's own flags."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if extra:
        extra(parser)
    parser.add_argument("--quick", action="store_true", help="digits, 3 s budgets (a smoke test)")
    parser.add_argument("--budget", type=float, default=budget, help="seconds per evolutionary run")
    parser.add_argument("--data-dir", default="data", help="raw Fashion-MNIST (also found in Debian's path)")
    args = parser.parse_args()
    print(describe())
    args.dataset, args.hidden = ("digits", 16) if args.quick else full
    args.model = model
    args.budget = 3.0 if args.quick else args.budget
    return args


@contextmanager
def prepared(args: argparse.Namespace):
    """(data path, problem) of the benchmark's dataset in a temporary folder; prints the setup."""
    with TemporaryDirectory() as folder:
        data = Path(folder) / f"{args.dataset}.npz"
        save_prepared(prepare(args.dataset, args.data_dir, val_fraction=0.2, test_fraction=0.2), data)
        problem = Problem.from_data(load_prepared(data), args.hidden, "relu", model=args.model)
        sizes = [problem.spec.n_features, *problem.spec.widths, problem.spec.n_classes]
        model = "the small CNN" if args.model == "cnn" else f"MLP {'-'.join(map(str, sizes))}"
        print(
            f"{args.dataset}, {model} (n = {problem.n_parameters}), "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
        )
        yield data, problem


def accuracy_at(history: pd.DataFrame, seconds: float) -> float:
    """Test accuracy of the best-validation-loss model among the epochs ended by `seconds`."""
    seen = history[history["wall_s"] <= seconds]
    return float(seen.loc[seen["val_loss"].idxmin(), "test_acc"]) if len(seen) else float("nan")


def run_budgeted(
    runs: dict[str, tuple], args: argparse.Namespace, data: Path, precisions: dict[str, str] | None = None
) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Each run (name -> (optimizer, hyperparameters, batch size, ...)) through `train` under
    the budget (Adam, the yardstick, a sixth of it), its population evaluations in
    precisions[name] (default fp32); prints the accuracy table."""
    marks = [args.budget / 4, args.budget / 2, args.budget]
    width = max(map(len, runs))
    header = f"{'run':<{width}} {'budget s':>8} | " + " ".join(f"{f'acc@{mark:g}s':>9}" for mark in marks) + " | work"
    print(header)
    print("-" * len(header))
    results = {}
    for name, (optimizer, hyperparameters, batch_size, *_) in runs.items():
        seconds = args.budget / 6 if name == "adam" else args.budget
        settings = TrainingSettings(
            batch_size=batch_size,
            max_epochs=100_000,
            patience=100_000,
            max_seconds=seconds,
            threads=torch.get_num_threads(),
            eval_precision=(precisions or {}).get(name, "fp32"),
        )
        summary, history = train(
            RunSpec(
                args.dataset,
                optimizer,
                0,
                model=args.model,
                hidden=args.hidden,
                training=settings,
                hyperparameters=hyperparameters,
            ),
            data,
        )
        results[name] = (summary, history)
        # One generation per minibatch step for every evolutionary optimizer.
        generations = int(summary["steps"])
        work = (
            f"{generations} generations ({generations / summary['run_wall_time_s']:.1f}/s, {summary['eval_precision']})"
            if summary["optimizer_kind"] == "evolution"
            else f"{summary['epochs']} epochs"
        )
        print(
            f"{name:<{width}} {seconds:>8g} | "
            + " ".join(f"{accuracy_at(history, mark):>9.4f}" for mark in marks)
            + f" | {work}"
        )
    print()
    return results
