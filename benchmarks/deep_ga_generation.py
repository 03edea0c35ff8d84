"""One deep-GA generation at population 64: making the children, before and after, and the
whole `step` in fp32 and bf16.

The MLP is 196-32-10 (n = 6634) on random data, fitness on minibatches of 512. "before" is
the per-child loop the GA had (each child's sigma moves and seed drawn on their own, its
per-layer scale built with torch.full + cat); "after" is `State.mutate` + `State.perturbations`:
one draw of all moves and seeds, one repeat_interleave of all sigmas, and each gene's noise
from its own seeded generator (the seed chain stays replayable bit for bit). A counter-based
generator keyed by the gene seed, in tensor integer ops, was measured too: 16x slower than
the per-gene generators on this CPU (25 ms against 1.6 ms for 63 children), so it is not used.

Timings are noisy on a shared 2-core machine: compare figures within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from machine import describe

from neuroevo.models.mlp import MLPSpec
from neuroevo.models.problem import Problem
from neuroevo.optimizers import deep_ga

SPEC = MLPSpec(n_features=196, hidden=32, n_classes=10)


def children_before(state: deep_ga.State, parents: torch.Tensor, choices: list[int]) -> torch.Tensor:
    """The per-child loop: one gene at a time, as deep_ga.step did."""
    gamma, rows = state.hyperparameters.gamma, []
    for _ in choices:
        moves = torch.randint(0, 3, (len(SPEC.layer_slices),), generator=state.generator).tolist()
        sigmas = tuple(
            sigma * (gamma, 1 / gamma, 1.0)[move] for sigma, move in zip(state.sigmas(()), moves, strict=True)
        )
        seed = int(torch.randint(0, deep_ga.SEED_RANGE, (1,), generator=state.generator))
        noise = deep_ga.unit_noise(seed, SPEC.n_parameters, "normal", "cpu")
        scale = torch.cat(
            [
                torch.full((part.stop - part.start,), sigma)
                for part, sigma in zip(SPEC.layer_slices, sigmas, strict=True)
            ]
        )
        rows.append(noise * scale)
    return parents[choices] + torch.stack(rows)


def children_after(state: deep_ga.State, parents: torch.Tensor, choices: list[int]) -> torch.Tensor:
    return parents[choices] + state.perturbations(state.mutate([()] * len(choices)))


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: as training jobs run)")
    args = parser.parse_args()
    print(describe())
    torch.set_num_threads(args.threads)
    repeats = 5 if args.quick else 40
    generator = torch.Generator().manual_seed(0)
    x = {"train": torch.randn(4096, SPEC.n_features, generator=generator)}
    y = {"train": torch.randint(0, SPEC.n_classes, (4096,), generator=generator)}
    hyperparameters = deep_ga.Hyperparameters(popsize=64, parents=10, gamma=1.05)
    state = deep_ga.State(hyperparameters, SPEC.groups, 0, "cpu")
    parents = torch.randn(10, SPEC.n_parameters, generator=generator)
    choices = torch.randint(0, 10, (63,), generator=generator).tolist()
    before = median_ms(lambda: children_before(state, parents, choices), repeats)
    after = median_ms(lambda: children_after(state, parents, choices), repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; population 64 (63 children, 1 elite)")
    print(f"children of a generation: before {before:.2f} ms, after {after:.2f} ms -> {before / after:.1f}x faster")
    for precision in ("fp32", "bf16"):
        problem = Problem(SPEC, x, y, precision=precision)
        run = deep_ga.State(hyperparameters, SPEC.groups, 0, "cpu")
        batch = problem.batch(torch.arange(512))
        step = median_ms(lambda run=run, problem=problem, batch=batch: deep_ga.step(run, problem, batch), repeats)
        print(f"whole generation (step, fitness on 512 examples), {precision}: {step:.2f} ms")


if __name__ == "__main__":
    main()
