"""What a resumed checkpoint's state must say beyond its fingerprint (which can be copied),
checked by the training loop before it resumes: its rungs are the ladder's first ones, and
the torch optimizers it holds are of the model's parameters, buffer by buffer."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

import torch

from neuroevo.config.run_spec import TrainingSettings
from neuroevo.files.checkpoint import CheckpointError


def check_rungs(rungs, budget, settings: TrainingSettings) -> None:
    """A CheckpointError unless `rungs` is a list of dicts, one per mark of the settings'
    ladder from the first, no more than the marks, each of its multiple and mark, and the
    end of the budget (`budget`) is recorded exactly when the last one is."""
    marks = settings.budget_marks
    if not isinstance(rungs, list) or not all(isinstance(rung, dict) for rung in rungs):
        raise CheckpointError("its rungs are not a list of the budget ladder's rungs")
    if len(rungs) > len(marks):
        raise CheckpointError(f"it has {len(rungs)} rungs, more than the ladder's {len(marks)} marks")
    ladder = list(zip(settings.budget_multiples, marks, strict=False))[: len(rungs)]
    if [(rung.get("multiple"), rung.get("mark_flops")) for rung in rungs] != ladder:
        raise CheckpointError("its rungs' multiples and marks are not the ladder's in order")
    if (budget is not None) != (bool(marks) and len(rungs) == len(marks)):
        raise CheckpointError("its end of the budget disagrees with its rungs")


def torch_optimizers(value, depth: int = 0):
    """The torch.optim optimizers an optimizer's state holds (Adam's, ES's inner one)."""
    if isinstance(value, torch.optim.Optimizer):
        yield value
    elif depth < 4:
        if is_dataclass(value) and not isinstance(value, type):
            children = [getattr(value, item.name) for item in fields(value)]
        else:
            children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        for child in children:
            yield from torch_optimizers(child, depth + 1)


def check_torch_optimizer(optimizer: torch.optim.Optimizer, shape: tuple[int, ...]) -> None:
    """Its parameters are the model's, and each per-parameter buffer (Adam's moments) has its
    parameter's shape and dtype: a fused kernel handed a shorter buffer would write past it."""
    params = [param for group in optimizer.param_groups for param in group["params"]]
    if not params or any(not isinstance(param, torch.Tensor) or tuple(param.shape) != shape for param in params):
        raise CheckpointError(f"its {type(optimizer).__name__}'s parameters are not the model's {shape[0]}")
    for param, buffers in optimizer.state.items():
        if not any(param is known for known in params) or not isinstance(buffers, dict):
            raise CheckpointError(f"its {type(optimizer).__name__}'s state is not of its parameters")
        for name, buffer in buffers.items():
            if isinstance(buffer, torch.Tensor) and buffer.numel() != 1:
                if buffer.shape != param.shape or buffer.dtype != param.dtype or buffer.device != param.device:
                    raise CheckpointError(f"its {type(optimizer).__name__}'s {name} is not of its parameters' shape")
