"""Cost of one CMA-ES generation at n = 6634, split into ask, evaluation and tell.

The problem is the 196-32-10 MLP (Fashion-MNIST at 14x14, n = 6634 parameters); the fitness
is the mean cross-entropy of every candidate on one random batch of 512 examples
(`population_logits` + `population_cross_entropy`). Modes, each at the default population
size 4 + 3 ln n (= 30) and at 100:

* pycma full:  `PycmaEngine(diagonal=False)`, full covariance. Only 3 generations (each
               costs O(n^2) per candidate); pycma's O(n^3) eigendecomposition runs lazily,
               once every `lazy gap` generations (printed), and is not among them.
* pycma naive: `cma.CMAEvolutionStrategy(x0, sigma0, {'CMA_diagonal': True, 'popsize': P,
               'verb_log': 0})` used as a user would: ask -> stack into a tensor, evaluate,
               .tolist() -> tell (its console output is swallowed but still paid for).
* pycma diag:  our `PycmaEngine(diagonal=True)` wrapper.
* sep-CMA:     our torch `SepCMA`.

The others: the median of ~20 generations after one warm-up generation. Printed per mode: ms of
ask, evaluation and tell, and the optimizer share (ask + tell) / generation; and the ratio
of a sep-CMA generation to a naive pycma one. Target: the share of sep-CMA (our engine for
the diagonal case) is under 25% (naive pycma: ~70%). Its floor is torch.randn (the CPU
generator is serial), printed as a share too. One torch thread by default, as training jobs
run (config `threads: 1`); --threads to change it. Timings are noisy on a shared 2-core
machine; compare ratios within one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from machine import describe

from neuroevo.evolution import PycmaEngine, SepCMA
from neuroevo.models.mlp import MLPSpec, init_parameters, population_cross_entropy, population_logits

SPEC = MLPSpec(n_features=196, hidden=32, n_classes=10, activation="relu")
SIGMA0, BATCH, TARGET_SHARE = 0.05, 512, 0.25
# (ask, evaluate, tell): ask() -> asked, evaluate(asked) -> fitness, tell(asked, fitness)
Loop = tuple[Callable[[], Any], Callable[[Any], Any], Callable[[Any, Any], None]]


def make_fitness() -> Callable[[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, SPEC.n_features, generator=generator)
    y = torch.randint(0, SPEC.n_classes, (BATCH,), generator=generator)

    @torch.no_grad()
    def fitness(population: torch.Tensor) -> torch.Tensor:
        return population_cross_entropy(population_logits(SPEC, population, x), y)

    return fitness


def engine_loop(engine: PycmaEngine | SepCMA, fitness: Callable[[torch.Tensor], torch.Tensor]) -> Loop:
    return engine.ask, fitness, lambda _, values: engine.tell(values)


def naive_pycma_loop(x0: torch.Tensor, popsize: int, fitness: Callable[[torch.Tensor], torch.Tensor]) -> Loop:
    import cma

    options = {"CMA_diagonal": True, "popsize": popsize, "verb_log": 0, "seed": 1}
    with contextlib.redirect_stdout(io.StringIO()):
        es = cma.CMAEvolutionStrategy(x0.double().numpy(), SIGMA0, options)

    def evaluate(solutions: list) -> list[float]:
        return fitness(torch.as_tensor(np.stack(solutions), dtype=torch.float32)).tolist()

    def tell(solutions: list, values: list[float]) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # pycma prints its progress table
            es.tell(solutions, values)

    return es.ask, evaluate, tell


def time_generations(loop: Loop, generations: int) -> tuple[float, float, float]:
    """Median ms of (ask, evaluate, tell) over `generations`, after one warm-up generation;
    the median rather than the mean, as other processes on the machine preempt some."""
    ask, evaluate, tell = loop
    phases: list[list[float]] = [[], [], []]
    for generation in range(generations + 1):
        t0 = time.perf_counter()
        asked = ask()
        t1 = time.perf_counter()
        values = evaluate(asked)
        t2 = time.perf_counter()
        tell(asked, values)
        t3 = time.perf_counter()
        if generation > 0:
            for phase, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                phase.append(seconds * 1e3)
    ask_ms, eval_ms, tell_ms = (statistics.median(phase) for phase in phases)
    return ask_ms, eval_ms, tell_ms


def randn_ms(popsize: int, repeats: int = 20) -> float:
    """Median ms of sep-CMA's sampling alone (torch's CPU generator is serial): the floor of its ask."""
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        torch.randn(popsize, SPEC.n_parameters, generator=generator)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="popsize 30 only, fewer generations (< 20 s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (training jobs use 1)")
    args = parser.parse_args()
    print(describe())
    torch.set_num_threads(args.threads)
    popsizes, generations, full_generations = ([30], 5, 1) if args.quick else ([30, 100], 20, 3)
    fitness = make_fitness()
    x0 = init_parameters(SPEC, 0)
    print(
        f"n = {SPEC.n_parameters}, batch {BATCH}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'popsize':>7}  {'mode':<12} {'gens':>4} | {'ms ask':>8} {'ms eval':>8} {'ms tell':>8} "
        f"{'ms total':>9} | {'opt share':>9}"
    )
    print(header)
    print("-" * len(header))
    verdicts = []
    for popsize in popsizes:
        lazy_gap: list[float] = []

        def full_loop(popsize: int = popsize, lazy_gap: list[float] = lazy_gap) -> Loop:
            engine = PycmaEngine(x0, SIGMA0, popsize, diagonal=False, seed=0)
            lazy_gap.append(engine.es.sm.lazy_update_gap)
            return engine_loop(engine, fitness)

        modes: list[tuple[str, Callable[[], Loop], int]] = [
            ("pycma full", full_loop, full_generations),
            ("pycma naive", lambda popsize=popsize: naive_pycma_loop(x0, popsize, fitness), generations),
            (
                "pycma diag",
                lambda popsize=popsize: engine_loop(PycmaEngine(x0, SIGMA0, popsize, True, 0), fitness),
                generations,
            ),
            ("sep-CMA", lambda popsize=popsize: engine_loop(SepCMA(x0, SIGMA0, popsize, 0), fitness), generations),
        ]
        totals: dict[str, float] = {}
        for name, make_loop, gens in modes:
            ask_ms, eval_ms, tell_ms = time_generations(make_loop(), gens)
            totals[name] = total = ask_ms + eval_ms + tell_ms
            share = (ask_ms + tell_ms) / total
            print(
                f"{popsize:>7}  {name:<12} {gens:>4} | {ask_ms:>8.2f} {eval_ms:>8.2f} {tell_ms:>8.2f} "
                f"{total:>9.2f} | {share:>9.1%}"
            )
            if name == "sep-CMA":
                floor = randn_ms(popsize) / total
                verdicts.append((popsize, share, totals["sep-CMA"] / totals["pycma naive"], floor))
        print(f"{'':>7}  (pycma full: eigendecomposition every {lazy_gap[0]:.0f} generations, not timed)")
    print()
    for popsize, share, ratio, floor in verdicts:
        met = "MET" if share < TARGET_SHARE else "NOT MET"
        print(
            f"popsize {popsize}: sep-CMA generation = {ratio:.2f}x naive pycma diagonal; optimizer share "
            f"{share:.1%} (target < {TARGET_SHARE:.0%}) -> {met}; torch.randn alone: {floor:.1%}"
        )


if __name__ == "__main__":
    main()
