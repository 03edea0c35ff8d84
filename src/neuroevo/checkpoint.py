"""Checkpoints that let a killed job (preempted by the scheduler, or stopped by the user)
resume where it was instead of starting over, with the same result as an uninterrupted run.

A checkpoint is one pickled dict (torch.save) written atomically. It carries a fingerprint
of the job's settings: a checkpoint of other settings is never resumed from, only replaced.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("neuroevo")


def fingerprint(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def save_checkpoint(path: str | Path, settings: dict, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # pycma samples from numpy's global generator, so its state is part of the run's state.
    record = {"fingerprint": fingerprint(settings), "numpy_random_state": np.random.get_state(), **payload}
    torch.save(record, partial)
    os.replace(partial, path)


def load_checkpoint(path: str | Path, settings: dict) -> dict | None:
    """The payload of a matching checkpoint (numpy's global RNG restored), else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = torch.load(path, weights_only=False)
    except Exception as error:  # a truncated file cannot exist (atomic writes), but be safe
        log.warning("ignoring unreadable checkpoint %s: %s", path, error)
        return None
    if record.pop("fingerprint") != fingerprint(settings):
        log.warning("ignoring checkpoint %s: it was written with other settings", path)
        return None
    np.random.set_state(record.pop("numpy_random_state"))
    log.info("resuming from checkpoint %s", path)
    return record
