"""How the cost of a CMA-ES generation grows with the dimension n, per mode (issue 8): a figure
of the optimizer's own time per generation (ask + tell) against n from 100 to 100,000.

Modes, each at the default population 4 + 3 ln n and sigma0 0.05:

* pycma full:     `PycmaEngine(diagonal=False)`, full covariance: O(n^2) per candidate and an
                  O(n^3) eigendecomposition every `lazy_update_gap` generations (20 at
                  n = 3000), timed once on the engine's covariance and added amortized.
                  Up to 10,000 parameters: n^2 doubles are 7 GB at 30,000.
* pycma VkD:      pycma's limited-memory VkD-CMA sampler (Akimoto & Hansen 2016), the
                  limited-memory alternative; measured here, not offered as a mode (see below).
* pycma diagonal: `PycmaEngine(diagonal=True)`, the separable CMA-ES as pycma does it.
* torch sep:      our `SepCMA` (the pipeline's choice above 1000 parameters, `diagonal: auto`).
* torch mirrored: `SepCMA(mirrored=True)`: half the normals drawn.

The fitness is the sphere function (microseconds), so the time is the engine's own work: the
median over 10 generations after a warm-up one. A mode stops growing n once a generation
takes more than --max-seconds. Printed: the table,
and at each n the ratio of pycma diagonal (pycma used naively for large n) to torch sep.
Written: cmaes_scaling.png and cmaes_scaling.csv in --out (docs/benchmarks by default).
One torch thread, as training jobs run. Timings are noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from machine import describe

from neuroevo.evolution import PycmaEngine, SepCMA

SIGMA0 = 0.05


class VkDEngine(PycmaEngine):
    """pycma with its VkD-CMA sampler (limited memory: a diagonal plus k vectors)."""

    def __init__(self, x0: torch.Tensor, seed: int):
        import cma
        from cma.restricted_gaussian_sampler import GaussVkDSampler

        super().__init__(x0, SIGMA0, None, True, seed)  # diagonal: never an n x n matrix
        options = GaussVkDSampler.extend_cma_options(
            {"seed": seed + 1, "verbose": -9, "verb_log": 0, "verb_disp": 0, "CMA_diagonal": False}
        )
        self.es = cma.CMAEvolutionStrategy(x0.double().numpy(), SIGMA0, options)


MAX_N = {"pycma full": 10_000}  # memory: pycma keeps several n x n float64 matrices
MODES = {
    "pycma full": lambda x0: PycmaEngine(x0, SIGMA0, None, False, 0),
    "pycma VkD": lambda x0: VkDEngine(x0, 0),
    "pycma diagonal": lambda x0: PycmaEngine(x0, SIGMA0, None, True, 0),
    "torch sep": lambda x0: SepCMA(x0, SIGMA0, None, 0),
    "torch mirrored": lambda x0: SepCMA(x0, SIGMA0, None, 0, mirrored=True),
}


def seconds_per_generation(engine, generations: int) -> float:
    """Median seconds of ask + tell over `generations` after a warm-up one; for pycma's full
    covariance plus its eigendecomposition, amortized over the generations between two."""
    sphere = lambda population: population.square().sum(dim=1)  # noqa: E731
    engine.tell(sphere(engine.ask()))
    samples = []
    for _ in range(generations):
        start = time.perf_counter()
        engine.tell(sphere(engine.ask()))
        samples.append(time.perf_counter() - start)
    seconds = statistics.median(samples)
    if type(engine) is PycmaEngine and not engine.diagonal:  # VkDEngine has no full C
        start = time.perf_counter()
        np.linalg.eigh(engine.es.sm.C)
        seconds += (time.perf_counter() - start) / max(1.0, engine.es.sm.lazy_update_gap)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="n up to 3000, a few generations (a smoke test)")
    parser.add_argument(
        "--max-seconds", type=float, default=5.0, help="stop growing n for a mode past this per generation"
    )
    parser.add_argument("--out", default="docs/benchmarks", help="folder for the figure and the table")
    args = parser.parse_args()
    print(describe())
    torch.set_num_threads(1)
    sizes = [100, 300, 1000, 3000] if args.quick else [100, 300, 1000, 3000, 10_000, 30_000, 100_000]
    print(f"torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f}")
    rows, stopped = [], set()
    for n in sizes:
        x0 = torch.zeros(n)
        for mode, make in MODES.items():
            if mode in stopped:
                continue
            if n > MAX_N.get(mode, n):
                continue
            engine = make(x0)
            seconds = seconds_per_generation(engine, 3 if args.quick else 10)
            rows.append({"n": n, "mode": mode, "popsize": engine.popsize, "ms_per_generation": seconds * 1e3})
            print(f"n = {n:>7,}  {mode:<15} popsize {engine.popsize:>3}: {seconds * 1e3:>10.2f} ms per generation")
            if seconds > args.max_seconds:
                stopped.add(mode)
    table = pd.DataFrame(rows)
    wide = table.pivot(index="n", columns="mode", values="ms_per_generation")
    print()
    print(
        "pycma diagonal / torch sep, per n: "
        + ", ".join(f"{n:,}: {ratio:.1f}x" for n, ratio in (wide["pycma diagonal"] / wide["torch sep"]).items())
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "cmaes_scaling.csv", index=False)
    plot(wide, out / "cmaes_scaling.png")
    print(f"wrote {out / 'cmaes_scaling.png'} and {out / 'cmaes_scaling.csv'}")


def plot(wide: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    for mode in MODES:
        if mode in wide:
            series = wide[mode].dropna()
            axes.plot(series.index, series.values, marker="o", label=mode)
    axes.axvline(1000, color="grey", linestyle=":", linewidth=1)
    axes.text(1050, wide.min().min(), "diagonal: auto\nswitches here", fontsize=8, color="grey", va="bottom")
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="parameters n",
        ylabel="ms per generation (ask + tell)",
        title="CMA-ES engine cost per generation, default population 4 + 3 ln n",
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
