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
