"""CNN population evaluation: logits + cross-entropy of P candidate small CNNs (Fashion-MNIST
28x28: conv 16, pool, conv 32, pool, linear; n = 20,490 parameters) on one batch.

For each (P, B) it times the median per call over interleaved rounds, after a warm-up:

* batched: `FlatCNN.population_logits` (the first convolution with the candidates' filters
  stacked, the second grouped by candidate, the classifier a batched matmul; in chunks of
  candidates that bound the memory) + `population_cross_entropy`;
* vmap:    torch.func.vmap over functional_call of the module (the other batched option);
* loop:    a Python loop over candidates, the module through functional_call each;
* one batch: the throughput yardstick - one network's forward on P*B examples, the same
  FLOPs as a population evaluation (a convolution's best case: one filter bank, a big batch),
  channels-last (oneDNN's faster layout here).

Target: batched at least 2x the loop at P = 64, B = 256. Also printed: the peak resident
memory an evaluation adds at P = 64, B = 256 (Linux: VmHWM after resetting it). Only ratios
within one run mean anything on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
from machine import describe
from population_eval import median_ms
from torch.func import functional_call, vmap

from neuroevo.models import cnn as cnn_module
from neuroevo.models.cnn import FlatCNN
from neuroevo.models.mlp import population_cross_entropy
from neuroevo.models.problem import counted_flops

MODEL = FlatCNN(784, 10)
TARGET_POINT = (64, 256)
TARGET_RATIO = 2.0


def inputs(p: int, b: int):
    generator = torch.Generator().manual_seed(0)
    mean = MODEL.initial_parameters(0)
    population = mean + 0.01 * torch.randn(p, MODEL.n_parameters, generator=generator)
    return population, torch.randn(b, 784, generator=generator), torch.randint(0, 10, (b,), generator=generator)


def measure(p: int, b: int, rounds: int, min_seconds: float, with_loop: bool) -> dict[str, float]:
    population, x, y = inputs(p, b)
    images = x.view(-1, *MODEL.input_shape)
    big = torch.randn(p * b, *MODEL.input_shape).contiguous(memory_format=torch.channels_last)
    module = copy.deepcopy(MODEL.module).to(memory_format=torch.channels_last)  # the faster layout here

    def batched() -> torch.Tensor:
        return population_cross_entropy(MODEL.population_logits(population, x), y)

    def vmapped() -> torch.Tensor:
        logits = vmap(lambda flat: functional_call(MODEL.module, MODEL._named(flat), (images,)))(population)
        return population_cross_entropy(logits, y)

    def loop() -> torch.Tensor:
        return torch.stack([torch.nn.functional.cross_entropy(MODEL.network_logits(flat, x), y) for flat in population])

    def one_batch() -> torch.Tensor:
        return module(big)

    fns = {"batched": batched, "vmap": vmapped, "one batch": one_batch}
    if with_loop:
        fns["loop"] = loop
    with torch.no_grad():
        torch.testing.assert_close(batched(), loop(), rtol=1e-4, atol=1e-4)
        return median_ms(fns, rounds, min_seconds)


def peak_memory_mib(p: int, b: int) -> float | None:
    """Resident memory one evaluation adds at its peak (Linux), or None where unknown."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None

    def high_water() -> int:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    population, x, y = inputs(p, b)
    with torch.no_grad():  # measured first, before other evaluations leave freed memory behind
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = high_water()
        population_cross_entropy(MODEL.population_logits(population, x), y)
    return (high_water() - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small point, few rounds (a smoke test)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(describe())
    forward = counted_flops(MODEL.population_logits, MODEL.initial_parameters(0).unsqueeze(0), torch.zeros(1, 784))
    print(
        f"small CNN for 28x28: n = {MODEL.n_parameters}, {forward / 1e6:.2f} MFLOP per example, "
        f"chunks of {cnn_module.CNN_CHUNK_ELEMENTS:,} activations, {torch.get_num_threads()} threads\n"
    )
    points = [(4, 64)] if args.quick else [(16, 256), (16, 1024), (64, 256), (64, 1024)]
    rounds, min_seconds = (1, 0.0) if args.quick else (3, 0.5)
    columns = ["batched ms", "GFLOP/s", "vmap ms", "loop ms", "1 batch ms", "x loop", "x vmap", "of 1 batch"]
    header = f"{'P':>4} {'B':>5} " + " ".join(f"{column:>10}" for column in columns)
    print(header)
    print("-" * len(header))
    point = TARGET_POINT if TARGET_POINT in points else points[0]
    peak = peak_memory_mib(*point)
    ratios = {}
    for p, b in points:
        times = measure(p, b, rounds, min_seconds, with_loop=True)
        gflops = forward * p * b / times["batched"] / 1e6
        ratios[(p, b)] = times["loop"] / times["batched"]
        row = [
            f"{times['batched']:.1f}",
            f"{gflops:.1f}",
            f"{times['vmap']:.1f}",
            f"{times['loop']:.1f}",
            f"{times['one batch']:.1f}",
            f"{ratios[(p, b)]:.2f}x",
            f"{times['vmap'] / times['batched']:.2f}x",
            f"{times['one batch'] / times['batched']:.0%}",
        ]
        print(f"{p:>4} {b:>5} " + " ".join(f"{cell:>10}" for cell in row))
    if peak is not None:
        print(f"\npeak memory added by one evaluation at P = {point[0]}, B = {point[1]}: {peak:.0f} MiB")
    verdict = "MET" if ratios[point] >= TARGET_RATIO else "NOT MET"
    print(
        f"target: batched >= {TARGET_RATIO:.0f}x the loop at P = {point[0]}, B = {point[1]}: "
        f"{ratios[point]:.2f}x, {verdict}"
    )


if __name__ == "__main__":
    main()
