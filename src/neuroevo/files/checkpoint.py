"""Checkpoints that let a killed job (preempted by the scheduler, or stopped by the user)
resume where it was instead of starting over, with the same result as an uninterrupted run.

A checkpoint is data, never code: the run's state is encoded into tensors, numbers, strings,
lists and tuples, saved with torch.save and read back with `torch.load(weights_only=True)`,
which refuses anything else, so a crafted file (a run folder received from someone else)
cannot run a payload. Objects are rebuilt only for the classes registered here
(`checkpointable`), without calling their constructors. The file carries a fingerprint of
the job's settings, compared before any object is rebuilt: a checkpoint of other settings
is never resumed from, only replaced. An unreadable or malformed one is ignored, with a
warning, and set aside beside itself.

A class is stored under its module's last name and its qualified name (`cmaes.State`,
`loop.EarlyStopping`), not its import path, so that moving a module to another package
keeps the checkpoints written from then on. One naming a class this program does not know (a
renamed class, or a checkpoint whose fingerprint was forged) is malformed: set aside, and the
run starts over. (A checkpoint from before the stage layout never gets that far: its
fingerprint, of the settings in their old layout, differs, so it is ignored and replaced.)
"""

from __future__ import annotations

import collections
import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroevo.files.atomic import UnsafePathError, read_regular, set_aside, write_atomic

log = logging.getLogger("neuroevo")

FORMAT = "neuroevo-checkpoint-2"
TAG = "__checkpoint_type__"  # marks an encoded object; plain dicts are encoded too, so never ambiguous

# Classes whose instances a checkpoint may hold: stored name -> class. Rebuilt with cls.__new__
# and their __setstate__ (or __dict__), never their constructor.
SAFE_CLASSES: dict[str, type] = {}


def _import_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def stored_name(cls: type) -> str:
    """The name a checkpoint stores `cls` under: its module's last name and its qualified name
    (`neuroevo.optimizers.cmaes.State` -> `cmaes.State`), not its whole import path."""
    return f"{cls.__module__.rpartition('.')[2]}.{cls.__qualname__}"


def checkpointable(cls: type) -> type:
    """Class decorator: instances of `cls` may be stored in (and rebuilt from) checkpoints.
    Two classes of one stored name are refused: a checkpoint could not tell them apart."""
    name = stored_name(cls)
    known = SAFE_CLASSES.get(name)
    # The same import path again is the same class re-imported (importlib.reload), not a clash.
    if known is not None and _import_path(known) != _import_path(cls):
        raise ValueError(
            f"checkpointable: {_import_path(cls)} and {_import_path(known)} would both be stored in checkpoints as {name!r}; "
            "rename one of the classes or its module"
        )
    SAFE_CLASSES[name] = cls
    return cls


for _optimizer in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop):
    checkpointable(_optimizer)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be a checkpoint of this program."""


class _Encoder:
    def __init__(self) -> None:
        self.tensors: list[torch.Tensor] = []
        self._tensor_ids: dict[int, int] = {}  # shared tensors (a parameter and its optimizer's key) stay shared
        self._seen: list[torch.Tensor] = []  # keeps encoded tensors alive, so that no id is reused

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, torch.Tensor):
            index = self._tensor_ids.get(id(value))
            if index is None:
                index = self._tensor_ids[id(value)] = len(self.tensors)
                self._seen.append(value)
                self.tensors.append(
                    value.detach().requires_grad_(value.requires_grad) if value.is_leaf else value.detach()
                )
            return {TAG: "tensor", "index": index}
        if isinstance(value, list):
            return [self.encode(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.encode(item) for item in value)
        if isinstance(value, collections.defaultdict) and value.default_factory is dict:
            return {TAG: "defaultdict", "items": [(self.encode(k), self.encode(v)) for k, v in value.items()]}
        if isinstance(value, dict):
            return {TAG: "dict", "items": [(self.encode(k), self.encode(v)) for k, v in value.items()]}
        if isinstance(value, collections.deque):
            return {TAG: "deque", "maxlen": value.maxlen, "items": [self.encode(item) for item in value]}
        if isinstance(value, torch.Generator):
            return {TAG: "generator", "device": str(value.device), "state": value.get_state()}
        if isinstance(value, np.ndarray):
            return {
                TAG: "ndarray",
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "data": torch.from_numpy(value.view(np.uint8).copy()).flatten(),
            }
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, torch.dtype):
            return {TAG: "dtype", "name": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {TAG: "device", "name": str(value)}
        if isinstance(value, slice):
            return {TAG: "slice", "bounds": (value.start, value.stop, value.step)}
        name = stored_name(type(value))
        if SAFE_CLASSES.get(name) is type(value):
            return {TAG: "object", "class": name, "state": self.encode(value.__getstate__())}
        raise TypeError(
            f"checkpoint: cannot store a {_import_path(type(value))} (register its class with neuroevo.files.checkpoint.checkpointable)"
        )


class _Decoder:
    def __init__(self, tensors: list) -> None:
        if not isinstance(tensors, list) or not all(isinstance(t, torch.Tensor) for t in tensors):
            raise CheckpointError("its tensor table is not a list of tensors")
        self.tensors = tensors

    def decode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.decode(item) for item in value)
        if not isinstance(value, dict) or TAG not in value:
            raise CheckpointError(f"unexpected {type(value).__name__} in its state")
        kind = value[TAG]
        if kind == "tensor":
            return self.tensors[value["index"]]
        if kind in ("dict", "defaultdict"):
            pairs = [(self.decode(k), self.decode(v)) for k, v in value["items"]]
            return collections.defaultdict(dict, pairs) if kind == "defaultdict" else dict(pairs)
        if kind == "deque":
            return collections.deque((self.decode(item) for item in value["items"]), maxlen=value["maxlen"])
        if kind == "generator":
            generator = torch.Generator(device=value["device"])
            generator.set_state(value["state"])
            return generator
        if kind == "ndarray":
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biufc":  # numbers only: never object arrays
                raise CheckpointError(f"an array of dtype {dtype} is not allowed")
            return value["data"].numpy().view(dtype).reshape(value["shape"]).copy()
        if kind == "dtype":
            dtype = getattr(torch, value["name"], None)
            if not isinstance(dtype, torch.dtype):
                raise CheckpointError(f"unknown dtype {value['name']!r}")
            return dtype
        if kind == "device":
            return torch.device(value["name"])
        if kind == "slice":
            return slice(*value["bounds"])
        if kind == "object":
            cls = SAFE_CLASSES.get(value["class"])
            if cls is None:  # never imported by name: only registered classes are rebuilt
                raise CheckpointError(
                    f"it holds a {value['class']!r}, a class this version of neuroevo does not store in checkpoints "
                    "(written by another version, or not by neuroevo)"
                )
            state = self.decode(value["state"])
            instance = cls.__new__(cls)
            if hasattr(cls, "__setstate__"):
                instance.__setstate__(state)
            elif isinstance(state, dict):
                instance.__dict__.update(state)
            return instance
        raise CheckpointError(f"unknown entry type {kind!r}")


TRANSIENT = (OSError, MemoryError, torch.OutOfMemoryError)


def fingerprint(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


MAX_CHECKPOINT_BYTES = 1 << 34  # 16 GiB: far above any model here


def _checked_bytes(path: Path) -> bytes:
    """The checkpoint file's bytes, read only from a regular file (not through a link, a device
    or a FIFO) and only when its zip archive stores what it holds uncompressed, as torch.save
    does: a small crafted file cannot then inflate to gigabytes inside torch.load."""
    data = read_regular(path, MAX_CHECKPOINT_BYTES)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if any(entry.compress_type != zipfile.ZIP_STORED for entry in entries):
            raise CheckpointError("it holds compressed entries, which torch.save never writes")
        if sum(entry.file_size for entry in entries) > len(data):
            raise CheckpointError("its entries claim more bytes than the file holds")
    return data


def save_checkpoint(path: str | Path, settings: dict, payload: dict) -> None:
    encoder = _Encoder()
    # pycma samples from numpy's global generator, so its state is part of the run's state.
    state = encoder.encode({"numpy_random_state": np.random.get_state(), **payload})
    record = {"format": FORMAT, "fingerprint": fingerprint(settings), "tensors": encoder.tensors, "state": state}
    write_atomic(path, lambda partial: torch.save(record, partial))


def load_checkpoint(path: str | Path, settings: dict, required: tuple[str, ...] = ()) -> dict | None:
    """The payload of a matching checkpoint (numpy's global RNG restored), else None; one
    lacking a `required` key is malformed."""
    path = Path(path)
    if not os.path.lexists(path):
        return None
    try:
        data = _checked_bytes(path)
    except (UnsafePathError, CheckpointError, zipfile.BadZipFile) as error:
        set_aside(path, f"not a checkpoint of this program: {error}")
        return None
    try:
        # weights_only: tensors and plain data only; a pickled payload is refused, not run.
        record = torch.load(io.BytesIO(data), weights_only=True)
    except TRANSIENT:
        raise  # a read error or a full GPU says nothing about the file: never set a good checkpoint aside
    except Exception as error:
        set_aside(path, f"unreadable, or not a checkpoint of this program: {str(error).splitlines()[0][:200]}")
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("fingerprint"), str):
        set_aside(path, "not a checkpoint of this program")
        return None
    if record["fingerprint"] != fingerprint(settings):  # before any object is rebuilt
        log.warning(
            "ignoring checkpoint %s: it was written with other settings (or by another version of neuroevo); "
            "the run starts over and replaces it",
            path,
        )
        return None
    try:
        payload = _Decoder(record.get("tensors")).decode(record.get("state"))
        if not isinstance(payload, dict):
            raise CheckpointError("its state is not a mapping")
        missing = [key for key in ("numpy_random_state", *required) if key not in payload]
        if missing:
            raise CheckpointError(f"its state lacks {', '.join(missing)}")
        numpy_state = payload.pop("numpy_random_state")
        np.random.set_state(numpy_state)
    except TRANSIENT:
        raise
    except Exception as error:
        set_aside(path, f"malformed: {error}")
        return None
    log.info("resuming from checkpoint %s", path)
    return payload
