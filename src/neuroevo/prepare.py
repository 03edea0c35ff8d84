"""Split and standardize a raw dataset into the one prepared file every job reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroevo.datasets import load_raw

SPLITS = ("train", "val", "test")


@dataclass
class PreparedData:
    name: str
    n_classes: int
    x: dict[str, np.ndarray]  # split -> [N, features] float32, standardized
    y: dict[str, np.ndarray]  # split -> [N] int64

    @property
    def n_features(self) -> int:
        return self.x["train"].shape[1]


def prepare(
    name: str,
    data_dir: str | Path = "data",
    download: bool = False,
    split_seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
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
    standardize = lambda x: ((x - mean) / std).astype(np.float32)
    return PreparedData(
        name=name,
        n_classes=raw.n_classes,
        x={"train": standardize(x_train), "val": standardize(x_val), "test": standardize(x_test)},
        y={"train": y_train, "val": y_val, "test": y_test.astype(np.int64)},
    )


def save_prepared(data: PreparedData, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"x_{split}": data.x[split] for split in SPLITS}
    arrays |= {f"y_{split}": data.y[split] for split in SPLITS}
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, name=np.array(data.name), n_classes=np.array(data.n_classes), **arrays)
    os.replace(partial, path)  # a killed job never leaves a truncated file behind


def load_prepared(path: str | Path) -> PreparedData:
    with np.load(path) as archive:
        return PreparedData(
            name=str(archive["name"]),
            n_classes=int(archive["n_classes"]),
            x={split: archive[f"x_{split}"] for split in SPLITS},
            y={split: archive[f"y_{split}"] for split in SPLITS},
        )
