"""The device a job runs on, decided once before any work."""

import os

import torch


def resolve_device(device: str) -> str:
    """ "auto": CUDA when a GPU is visible (torch respects CUDA_VISIBLE_DEVICES), else CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        raise RuntimeError(
            f"device {device!r} was asked for, but no CUDA GPU is visible to torch "
            f"(CUDA_VISIBLE_DEVICES={visible}, torch {torch.__version__}); "
            "use device: auto to fall back to the CPU, or run on a GPU node"
        )
    return device


EVAL_PRECISIONS = ("auto", "fp32", "bf16")
# CPU flags (Linux /proc/cpuinfo) of hardware bf16 dot products: AMX tiles or AVX-512 BF16.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_hardware(device: str) -> str | None:
    """What runs bf16 matrix products in hardware on `device`, in words; None where nothing does."""
    if device.startswith("cuda"):
        major, minor = torch.cuda.get_device_capability(device)
        return f"CUDA compute capability {major}.{minor} (bf16 tensor cores)" if major >= 8 else None
    flags = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()]
    return f"CPU with {' and '.join(flags)}" if flags else None


def resolve_precision(setting: str, device: str) -> tuple[str, str]:
    """(precision, why) of population evaluations for training.eval_precision on `device`:
    "auto" is bf16 only where the hardware computes bf16 products, else fp32. bf16 asked for
    without such hardware runs, emulated by torch (correct, slower than fp32), and says so."""
    if setting not in EVAL_PRECISIONS:
        raise ValueError(f"training.eval_precision: unknown value {setting!r}; known: {', '.join(EVAL_PRECISIONS)}")
    hardware = bf16_hardware(device)
    if setting == "fp32":
        return "fp32", "eval_precision fp32"
    if setting == "auto":
        return ("bf16", f"auto: {hardware}") if hardware else ("fp32", f"auto: no bf16 matrix units on {device}")
    if hardware:
        return "bf16", f"eval_precision bf16 on {hardware}"
    return "bf16", f"eval_precision bf16 emulated: no bf16 matrix units on {device}, slower than fp32"
