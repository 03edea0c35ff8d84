"""Split and standardize a raw dataset into the one prepared file every job reads."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroevo.config.defaults import SPLIT_FRACTION
from neuroevo.data.datasets import load_raw
from neuroevo.files.atomic import write_atomic
from neuroevo.files.errors import CorruptFileError

SPLITS = ("train", "val", "test")
ARRAYS = tuple(f"{kind}_{split}" for kind in ("x", "y") for split in SPLITS)


@dataclass
class PreparedData:
    name: str
    n_classes: int
    x: dict[str, np.ndarray]  # split -> [N, features] float32, standardized
    y: dict[str, np.ndarray]  # split -> [N] int64
    # sha256 of the saved file's contents (prepared_checksum): set by load_prepared, returned
    # by save_prepared; "" for data not read from a file (prepare(), subsets, tensors).
    checksum: str = ""

    @property
    def n_features(self) -> int:
        return self.x["train"].shape[1]


def prepare(
    name: str,
    data_dir: str | Path = "data",
    download: bool = False,
    split_seed: int = 0,
    val_fraction: float = SPLIT_FRACTION,  # the pipeline's (config.schema.yaml's data block)
    test_fraction: float = SPLIT_FRACTION,
) -> PreparedData:
    """Fixed stratified split from `split_seed`; standardization fitted on train only.

    Datasets with an official test split keep it and carve validation out of train;
    the others get a stratified train/val/test split.
    """
    from sklearn.model_selection import train_test_split  # slow import, only this job needs it

    raw = load_raw(name, data_dir, download)
    x_rest, y_rest = raw.x_train, raw.y_train
    if raw.x_test is None:
        x_rest, x_test, y_rest, y_test = train_test_split(
            x_rest, y_rest, test_size=test_fraction, stratify=y_rest, random_state=split_seed
        )
        val_share = val_fraction / (1.0 - test_fraction)
    else:
        x_test, y_test = raw.x_test, raw.y_test
        val_share = val_fraction
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, stratify=y_rest, random_state=split_seed
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std < 1e-8] = 1.0  # constant features (MNIST's border pixels) stay at zero

    def standardize(x):
        return ((x - mean) / std).astype(np.float32)

    return PreparedData(
        name=name,
        n_classes=raw.n_classes,
        x={"train": standardize(x_train), "val": standardize(x_val), "test": standardize(x_test)},
        y={"train": y_train, "val": y_val, "test": y_test.astype(np.int64)},
    )


def prepared_checksum(name: str, n_classes: int, arrays: dict[str, np.ndarray]) -> str:
    """sha256 hex over the dataset's name, class count and each array's dtype, shape and bytes
    (in ARRAYS order): a file of another dataset, or with any array changed, differs."""
    digest = hashlib.sha256()
    header = {
        "name": name,
        "n_classes": int(n_classes),
        "arrays": {key: [arrays[key].dtype.str, list(arrays[key].shape)] for key in ARRAYS},
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for key in ARRAYS:
        digest.update(np.ascontiguousarray(arrays[key]).data)
    return digest.hexdigest()


def _arrays(data: PreparedData) -> dict[str, np.ndarray]:
    return {f"x_{split}": data.x[split] for split in SPLITS} | {f"y_{split}": data.y[split] for split in SPLITS}


def save_prepared(data: PreparedData, path: str | Path) -> str:
    """Write the prepared file with its checksum; returns the checksum."""
    arrays = _arrays(data)
    checksum = prepared_checksum(data.name, data.n_classes, arrays)

    def write(partial: Path) -> None:
        with open(partial, "wb") as handle:  # a handle: np.savez would append .npz to the name
            np.savez(
                handle,
                name=np.array(data.name),
                n_classes=np.array(data.n_classes),
                checksum=np.array(checksum),
                **arrays,
            )

    write_atomic(path, write)  # a killed job never leaves a truncated file behind
    return checksum


def load_prepared(path: str | Path, expected_name: str | None = None) -> PreparedData:
    """The prepared file at `path`, verified against its checksum (CorruptFileError if it is
    damaged, made before checksums, or not a prepared file at all); with `expected_name`,
    ValueError if it holds another dataset. Verifying costs one sha256 pass over the arrays."""
    path = Path(path)

    def corrupt(problem: str) -> CorruptFileError:
        return CorruptFileError(
            f"{path}: corrupt prepared dataset ({problem}); delete it or run snakemake --forcerun data"
        )

    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
        # Sniffed first so that random bytes or a pickle never reach numpy's advice to allow pickles.
        if start != b"PK\x03\x04":
            raise corrupt("empty file" if not start else "not an .npz archive: it does not start as a zip file does")
        # No pickles: a prepared file holds plain arrays, and one from elsewhere must not run code.
        with np.load(path, allow_pickle=False) as archive:
            if "checksum" not in archive.files:
                raise corrupt("no checksum: written by an older version, or not by neuroevo")
            name, n_classes, stored = str(archive["name"]), int(archive["n_classes"]), str(archive["checksum"])
            arrays = {key: archive[key] for key in ARRAYS}
    except OSError:
        raise  # missing or unreadable (permissions, I/O), not corrupt: the error already names the path
    except CorruptFileError:
        raise
    except (zipfile.BadZipFile, EOFError) as error:
        raise corrupt(f"truncated or damaged archive, {type(error).__name__}: {error}") from error
    except KeyError as error:
        raise corrupt(f"an array is missing, {error}") from error
    except (ValueError, TypeError) as error:  # e.g. an object array, or a name that is not text
        raise corrupt(f"{type(error).__name__}: {error}") from error
    if prepared_checksum(name, n_classes, arrays) != stored:
        raise corrupt("checksum mismatch: its contents changed after it was written")
    problem = _labels_problem(n_classes, arrays)
    if problem:
        raise corrupt(problem)
    if expected_name is not None and name != expected_name:
        raise ValueError(
            f"{path}: prepared dataset is {name!r}, not the expected {expected_name!r}; pass the file prepared for "
            f"{expected_name} (resources/data/{expected_name}.npz), or delete this one and run snakemake --forcerun data"
        )
    return PreparedData(
        name=name,
        n_classes=n_classes,
        x={split: arrays[f"x_{split}"] for split in SPLITS},
        y={split: arrays[f"y_{split}"] for split in SPLITS},
        checksum=stored,
    )


def _labels_problem(n_classes: int, arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with a prepared file's labels, or None: each split's labels are integers, one
    per example, each a class in [0, n_classes) (a checksum is no proof: a file written by
    save_prepared with a bad label has a valid one, and training would fail on "Target 7 is out
    of bounds" without naming the file)."""
    if n_classes < 1:
        return f"n_classes is {n_classes}; a dataset has at least one class"
    for split in SPLITS:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.dtype.kind not in "iu" or y.ndim != 1:
            return f"y_{split} is not a vector of integer labels (dtype {y.dtype}, shape {y.shape})"
        if x.ndim != 2 or len(x) != len(y):
            return f"x_{split} of shape {x.shape} does not give one row of features per label of y_{split} ({len(y)})"
        outside = y[(y < 0) | (y >= n_classes)]
        if outside.size:
            return (
                f"y_{split} holds label {int(outside[0])} ({outside.size} label(s) in all) outside the "
                f"{n_classes} classes 0..{n_classes - 1}"
            )
    return None


def subsample_train(data: PreparedData, n: int, seed: int) -> PreparedData:
    """The training split cut to `n` examples drawn by `seed` (the draw of the discovery
    fitness, so its task runs and these see the same examples); val and test unchanged."""
    import torch  # here: the data stage is torch-free until a run subsamples

    keep = torch.randperm(len(data.y["train"]), generator=torch.Generator().manual_seed(seed))[:n].numpy()
    return PreparedData(
        data.name, data.n_classes, data.x | {"train": data.x["train"][keep]}, data.y | {"train": data.y["train"][keep]}
    )
