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


# glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# The largest mmap threshold glibc accepts on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
_MMAP_THRESHOLD_MAX = 32 << 20


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Have glibc keep freed memory for reuse instead of handing it back to the kernel.

    A population's activations are fresh tensors of a few MiB every evaluation. By default
    glibc serves some of them by mmap, or trims the heap after they are freed, so the next
    evaluation page-faults its memory in again: on a 2-core AMD EPYC a bf16 evaluation at
    P = 64, B = 512 took 5.6-8.2 ms with the defaults and 1.3-1.5 ms with this set, the
    difference page faults. Fixed thresholds stop both, at the cost of keeping up to
    `trim_threshold` bytes of freed heap per arena. Process-wide, so jobs call it once at
    start; results are unchanged. Returns whether glibc took the settings (False elsewhere:
    musl, macOS, Windows)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
