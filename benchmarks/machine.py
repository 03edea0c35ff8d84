"""What a benchmark's figures were measured on: the CPU, its vector and matrix units, the
cores, and torch's view of them (speed figures are ratios taken in one run on one machine).
Describing the machine also sets its allocator as the pipeline's jobs do (keep_freed_memory),
so that benchmarks time what jobs run."""

from __future__ import annotations

import os
import platform
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def describe() -> str:
    model, flags = platform.processor() or "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name") and model in ("unknown CPU", platform.machine()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    try:
        import torch

        from neuroevo.models.device import keep_freed_memory

        capability = f"torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}"
        capability += ", freed memory kept" if keep_freed_memory() else ", freed memory returned (no glibc)"
    except ImportError:
        capability = "torch not importable"
    units = ", ".join(flag for flag in FLAGS if flag in flags) or "none of " + ", ".join(FLAGS)
    return f"machine: {model}; {os.cpu_count()} cores; {units}; {capability}"
