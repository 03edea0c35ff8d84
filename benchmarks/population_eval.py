"""Population evaluation throughput: logits + cross-entropy of P candidate MLPs on one batch.

The MLP is 196-32-10 (Fashion-MNIST at 14x14, n = 6634 parameters) on random data. For
each (P, B) it times the median per call over interleaved rounds, after a warm-up:

* fp32 / bf16: `population_logits` (in that precision) + `population_cross_entropy`, no
  Python loop over P; bf16 runs the candidates' deviations from their mean in bf16;
* loop:  a Python loop over candidates, two `F.linear` + `F.cross_entropy` each;
* mm:    a plain-GEMM yardstick with the same FLOPs: one [B, 196] x [196, P*32] GEMM plus
         one [B, P*32] x [P*32, 10] GEMM, in fp32;
* best GEMM: the fastest this machine offers, measured once on [2048, 2048] x [2048, 2048]
  in fp32 and in bf16 (bf16 is emulated where the CPU has no avx512_bf16 / amx_bf16).

FLOPs of the forward: 2*B*P*(196*32 + 32*10). Target: at P=64, B=512 the faster of fp32 and
bf16 reaches at least 60% of the best GEMM's GFLOP/s. torch uses all cores by default
(--threads 1: as training jobs run). Timings are noisy on a shared 2-core machine, so only
ratios within one run are meaningful.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from machine import describe

from neuroevo.models.device import bf16_hardware
from neuroevo.models.mlp import MLPSpec, init_parameters, population_cross_entropy, population_logits

SPEC = MLPSpec(n_features=196, hidden=32, n_classes=10, activation="relu")
TARGET_POINT = (64, 512)
TARGET_EFFICIENCY = 0.60


def median_ms(fns: dict[str, Callable[[], object]], rounds: int, min_seconds: float) -> dict[str, float]:
    """Median per-call time of each fn. The fns are interleaved round by round, so load from
    other processes hits all of them alike, and each call is timed alone, so the median
    skips calls that were preempted."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(rounds):
        for name, fn in fns.items():
            round_start = time.perf_counter()
            while time.perf_counter() - round_start < min_seconds or len(times[name]) == 0:
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(samples) for name, samples in times.items()}


def flops(p: int, b: int) -> float:
    return 2.0 * b * p * (SPEC.n_features * SPEC.hidden + SPEC.hidden * SPEC.n_classes)


def measure(p: int, b: int, rounds: int, min_seconds: float) -> dict[str, float]:
    generator = torch.Generator().manual_seed(p * 10_000 + b)
    x = torch.randn(b, SPEC.n_features, generator=generator)
    y = torch.randint(0, SPEC.n_classes, (b,), generator=generator)
    population = init_parameters(SPEC, 0) + 0.05 * torch.randn(p, SPEC.n_parameters, generator=generator)
    weights = [
        (population[i, part][: o * f].view(o, f), population[i, part][o * f :])
        for i in range(p)
        for (o, f), part in zip(SPEC.layer_shapes, SPEC.layer_slices, strict=True)
    ]
    w1 = torch.randn(SPEC.n_features, p * SPEC.hidden, generator=generator)
    w2 = torch.randn(p * SPEC.hidden, SPEC.n_classes, generator=generator)

    def batched(precision: str) -> Callable[[], torch.Tensor]:
        return lambda: population_cross_entropy(population_logits(SPEC, population, x, precision), y)

    def loop() -> torch.Tensor:
        losses = []
        for i in range(p):
            (wa, ba), (wb, bb) = weights[2 * i], weights[2 * i + 1]
            losses.append(F.cross_entropy(F.linear(torch.relu(F.linear(x, wa, ba)), wb, bb), y))
        return torch.stack(losses)

    def matmul() -> torch.Tensor:
        return (x @ w1) @ w2

    with torch.no_grad():
        reference = loop()
        assert torch.allclose(batched("fp32")(), reference, rtol=1e-4, atol=1e-5), "fp32 != loop"
        assert torch.allclose(batched("bf16")(), reference, rtol=1e-2, atol=1e-2), "bf16 far from loop"
        fns = {"fp32": batched("fp32"), "bf16": batched("bf16"), "loop": loop, "mm": matmul}
        return median_ms(fns, rounds, min_seconds)


def best_gemm(rounds: int, min_seconds: float, size: int = 2048) -> dict[str, float]:
    """GFLOP/s of a square GEMM in fp32 and in bf16: the machine's best at these FLOPs."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator) for _ in range(2))
    low = a.bfloat16(), b.bfloat16()
    ms = median_ms({"fp32": lambda: a @ b, "bf16": lambda: low[0] @ low[1]}, rounds, min_seconds)
    return {name: 2.0 * size**3 / (t * 1e-3) / 1e9 for name, t in ms.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer points and repeats (< 20 s)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    args = parser.parse_args()
    print(describe())
    torch.set_num_threads(args.threads)
    if args.quick:
        points, rounds, min_seconds = [(16, 256), TARGET_POINT], 3, 0.05
    else:
        points = [(p, b) for p in (16, 64, 256) for b in (256, 1024)] + [TARGET_POINT]
        rounds, min_seconds = 5, 0.1

    hardware = bf16_hardware("cpu") or "no bf16 matrix units: bf16 is emulated"
    print(
        f"MLP {SPEC.n_features}-{SPEC.hidden}-{SPEC.n_classes}, n = {SPEC.n_parameters}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16: {hardware}, "
        f"load average {os.getloadavg()[0]:.1f}, median per call over {rounds} interleaved rounds"
    )
    gemm = best_gemm(rounds, min_seconds)
    best = max(gemm.values())
    print(f"best GEMM (2048^3): fp32 {gemm['fp32']:.0f} GFLOP/s, bf16 {gemm['bf16']:.0f} GFLOP/s\n")
    header = (
        f"{'P':>4} {'B':>5} | {'ms fp32':>8} {'ms bf16':>8} {'ms loop':>8} {'ms mm':>7} | "
        f"{'GF/s fp32':>9} {'GF/s bf16':>9} {'GF/s mm':>8} | {'fp32/mm':>7} {'best/GEMM':>9} {'vs loop':>8}"
    )
    print(header)
    print("-" * len(header))
    efficiency_at_target = float("nan")
    for p, b in points:
        ms = measure(p, b, rounds, min_seconds)
        gflops = {name: flops(p, b) / (t * 1e-3) / 1e9 for name, t in ms.items()}
        ours = max(gflops["fp32"], gflops["bf16"])
        if (p, b) == TARGET_POINT:
            efficiency_at_target = ours / best
        print(
            f"{p:>4} {b:>5} | {ms['fp32']:>8.3f} {ms['bf16']:>8.3f} {ms['loop']:>8.3f} {ms['mm']:>7.3f} | "
            f"{gflops['fp32']:>9.1f} {gflops['bf16']:>9.1f} {gflops['mm']:>8.1f} | "
            f"{gflops['fp32'] / gflops['mm']:>7.0%} {ours / best:>9.0%} {ms['loop'] / min(ms['fp32'], ms['bf16']):>7.1f}x"
        )
    met = efficiency_at_target >= TARGET_EFFICIENCY
    print(
        f"\ntarget: the faster of fp32 and bf16 >= {TARGET_EFFICIENCY:.0%} of the best GEMM's GFLOP/s at "
        f"P={TARGET_POINT[0]}, B={TARGET_POINT[1]}: {efficiency_at_target:.0%} -> {'MET' if met else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
