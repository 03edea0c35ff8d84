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

import math
import statistics
import time

import torch
from budget_runs import parse_arguments, prepared, run_budgeted

from neuroevo.evolution import make_engine
from neuroevo.models import init_parameters
from neuroevo.problem import Problem

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
    args = parse_arguments(__doc__)
    with prepared(args) as (data, problem):
        results = {name: summary for name, (summary, _) in run_budgeted(RUNS, args, data).items()}
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
