"""CMA-ES and layerwise CMA-ES against Adam under a wall-time budget (issue 8), through the
ordinary training loop (`neuroevo.train.train`, the optimizers the report uses).

Fashion-MNIST at 14x14, the MLP 196-32-10 (n = 6634), the pipeline's split (val 0.2), seed 0,
torch on all cores (2 here). Each run stops at the first epoch end past its budget (120 s;
Adam 20 s) and reports the model with the best validation loss. Printed: test accuracy at
30/60/120 s against the targets (cmaes and layerwise_cmaes >= 0.83; the best evolutionary
run >= 0.85), and for each CMA-ES engine the share of a generation spent in its own ask and
tell (target < 25%) next to the population's evaluation, and the ratio to pycma's diagonal
mode (the naive use: default population) measured in the same run.

Timings are noisy on a shared 2-core machine: compare figures within one run.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from neuroevo.evolution import make_engine
from neuroevo.models import init_parameters
from neuroevo.prepare import load_prepared, prepare, save_prepared
from neuroevo.problem import Problem
from neuroevo.train import RunSpec, TrainingSettings, train

TARGET = 0.83  # cmaes and layerwise_cmaes, each
BEST_TARGET = 0.85  # the best evolutionary run (Adam's level)

# name: (optimizer, hyperparameters, batch size)
# The default population (4 + 3 ln n = 30 at n = 6634) stalls near 0.77-0.78 on minibatch
# fitness, with batch 512 as with 2048; 100 per distribution keeps improving (issue 8 note).
RUNS = {
    "adam": ("adam", {"lr": 1e-3}, 128),
    "cmaes (torch sep)": ("cmaes", {"sigma0": 0.05, "popsize": 100, "diagonal": True, "engine": "torch"}, 512),
    "layerwise (torch sep)": ("layerwise_cmaes", {"sigma0": 0.05, "popsize": 100, "diagonal": True, "engine": "torch"}, 512),
    "cmaes (torch, pop 30)": ("cmaes", {"sigma0": 0.05, "diagonal": True, "engine": "torch"}, 512),
    "cmaes (pycma diag)": ("cmaes", {"sigma0": 0.05, "diagonal": True, "engine": "pycma"}, 512),
}
EVOLUTIONARY_TARGETS = {"cmaes (torch sep)": TARGET, "layerwise (torch sep)": TARGET}


def accuracy_at(history, seconds: float) -> float:
    """Test accuracy of the best-validation-loss model among the epochs ended by `seconds`."""
    seen = history[history["wall_s"] <= seconds]
    return float(seen.loc[seen["val_loss"].idxmin(), "test_acc"]) if len(seen) else float("nan")


def generation_split(problem: Problem, engine_name: str, batch_size: int, generations: int) -> tuple[float, float]:
    """Median ms per generation in the engine's ask + tell, and in the population's evaluation."""
    engine = make_engine(init_parameters(problem.spec, 0), 0.05, None, True, engine_name, 0)
    generator = torch.Generator().manual_seed(0)
    own, evaluation = [], []
    for _ in range(generations):
        batch = problem.batch(torch.randint(0, problem.x["train"].shape[0], (batch_size,), generator=generator))
        start = time.perf_counter()
        population = engine.ask()
        asked = time.perf_counter()
        fitness = problem.population_loss(population, batch)
        evaluated = time.perf_counter()
        engine.tell(fitness)
        told = time.perf_counter()
        own.append((asked - start + told - evaluated) * 1e3)
        evaluation.append((evaluated - asked) * 1e3)
    return statistics.median(own), statistics.median(evaluation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="digits, 3 s budgets (a smoke test)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per evolutionary run")
    parser.add_argument("--data-dir", default="data", help="raw Fashion-MNIST (also found in Debian's path)")
    args = parser.parse_args()
    dataset, hidden = ("digits", 16) if args.quick else ("fashion_mnist14", 32)
    budget = 3.0 if args.quick else args.budget
    marks = [budget / 4, budget / 2, budget]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / f"{dataset}.npz"
        save_prepared(prepare(dataset, args.data_dir, val_fraction=0.2, test_fraction=0.2), data)
        problem = Problem.from_data(load_prepared(data), hidden, "relu")
        print(f"{dataset}, MLP {problem.spec.n_features}-{hidden}-{problem.spec.n_classes} (n = {problem.n_parameters}), "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
        header = f"{'run':<22} {'budget s':>8} | " + " ".join(f"{f'acc@{mark:g}s':>9}" for mark in marks) + " | generations or steps"
        print(header)
        print("-" * len(header))
        results = {}
        for name, (optimizer, hyperparameters, batch_size) in RUNS.items():
            seconds = budget / 6 if name == "adam" else budget
            settings = TrainingSettings(batch_size=batch_size, max_epochs=100_000, patience=100_000,
                                        max_seconds=seconds, threads=torch.get_num_threads())
            summary, history = train(RunSpec(dataset, optimizer, 0, hidden=hidden, training=settings,
                                             hyperparameters=hyperparameters), data)
            results[name] = summary
            print(f"{name:<22} {seconds:>8g} | " + " ".join(f"{accuracy_at(history, mark):>9.4f}" for mark in marks)
                  + f" | {summary['model_evals'] if optimizer == 'adam' else summary['epochs']} "
                  + ("steps" if optimizer == "adam" else "epochs"))
        print()
        adam = results["adam"]["test_acc"]
        for name, target in EVOLUTIONARY_TARGETS.items():
            accuracy = results[name]["test_acc"]
            print(f"{name}: test accuracy {accuracy:.4f} = {accuracy / target:.3f} of its target {target} -> "
                  f"{'MET' if accuracy >= target else 'NOT MET'}; {accuracy / adam:.3f} of Adam's {adam:.4f}")
        best = max((name for name in RUNS if name != "adam"), key=lambda name: results[name]["test_acc"])
        accuracy = results[best]["test_acc"]
        print(f"best evolutionary run: {best}, {accuracy:.4f} = {accuracy / BEST_TARGET:.3f} of the target {BEST_TARGET} -> "
              f"{'MET' if accuracy >= BEST_TARGET else 'NOT MET'}")
        print()
        generations = 5 if args.quick else 40
        splits = {engine: generation_split(problem, engine, 512, generations) for engine in ("torch", "pycma")}
        for engine, (own, evaluation) in splits.items():
            share = own / (own + evaluation)
            print(f"engine {engine}: ask + tell {own:.2f} ms, evaluation {evaluation:.2f} ms per generation of "
                  f"{4 + int(3 * math.log(problem.n_parameters))} -> own share {share:.0%} "
                  f"(target < 25%: {'MET' if share < 0.25 else 'NOT MET'})")
        print(f"ask + tell, pycma diagonal / torch sep-CMA: {splits['pycma'][0] / splits['torch'][0]:.1f}x")


if __name__ == "__main__":
    main()
