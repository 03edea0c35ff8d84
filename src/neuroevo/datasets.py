"""Dataset registry: name -> loader of the raw arrays.

Iris and digits ship with scikit-learn. MNIST, Fashion-MNIST and CIFAR-10 are read from a
data directory in torchvision's layout (so torchvision's downloader can fill it when the
config allows downloads); Fashion-MNIST is also found where Debian's
`dataset-fashion-mnist` installs it.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DatasetNotFoundError(RuntimeError):
    """A dataset's files are missing; the message says which files, where, and how to get them."""


@dataclass
class RawDataset:
    """Features as float32 in [0, 1] (images) or raw units (tabular); labels as int64.

    `x_test` is None when the dataset has no official test split (Iris, digits): the
    preparation step then carves one out with a stratified split.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    n_classes: int


def _load_iris(data_dir: Path, download: bool) -> RawDataset:
    from sklearn.datasets import load_iris

    bunch = load_iris()
    return RawDataset(bunch.data.astype(np.float32), bunch.target.astype(np.int64), None, None, 3)


def _load_digits(data_dir: Path, download: bool) -> RawDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return RawDataset(bunch.data.astype(np.float32), bunch.target.astype(np.int64), None, None, 10)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte, the only type MNIST-like files use
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    n_dims = magic & 0xFF
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def _find_idx_dir(candidates: list[Path]) -> Path | None:
    for folder in candidates:
        if all(_idx_path(folder, stem) is not None for stem in IDX_FILES.values()):
            return folder
    return None


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_loader(torchvision_name: str, extra_dirs: tuple[Path, ...] = ()) -> Callable:
    def load(data_dir: Path, download: bool) -> RawDataset:
        candidates = [data_dir / torchvision_name / "raw", data_dir / torchvision_name.lower()]
        candidates += list(extra_dirs)
        folder = _find_idx_dir(candidates)
        if folder is None and download:
            import torchvision.datasets

            getattr(torchvision.datasets, torchvision_name)(root=str(data_dir), download=True)
            folder = _find_idx_dir(candidates)
        if folder is None:
            wanted = ", ".join(f"{stem}[.gz]" for stem in IDX_FILES.values())
            where = ", ".join(str(path) for path in candidates)
            raise DatasetNotFoundError(
                f"{torchvision_name} not found: expected the IDX files {wanted} in one of: "
                f"{where}. Set data.download: true in the config to let torchvision fetch "
                f"them into {data_dir / torchvision_name / 'raw'} (needs internet), or copy "
                "them there by hand."
                + (" On Debian: apt-get install dataset-fashion-mnist." if extra_dirs else "")
            )
        arrays = {key: read_idx(_idx_path(folder, stem)) for key, stem in IDX_FILES.items()}
        flatten = lambda images: images.reshape(len(images), -1).astype(np.float32) / 255.0
        return RawDataset(
            flatten(arrays["train_images"]),
            arrays["train_labels"].astype(np.int64),
            flatten(arrays["test_images"]),
            arrays["test_labels"].astype(np.int64),
            10,
        )

    return load


CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def _load_cifar10(data_dir: Path, download: bool) -> RawDataset:
    folder = data_dir / CIFAR10_FOLDER
    names = CIFAR10_TRAIN + ["test_batch"]
    if not all((folder / name).is_file() for name in names) and download:
        import torchvision.datasets

        torchvision.datasets.CIFAR10(root=str(data_dir), download=True)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"CIFAR10 not found: expected {', '.join(missing)} in {folder} (the python "
            "version of CIFAR-10). Set data.download: true in the config to let torchvision "
            "fetch it (needs internet), or unpack cifar-10-python.tar.gz into "
            f"{data_dir} by hand."
        )

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        with open(folder / name, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
        return np.asarray(batch["data"], dtype=np.float32) / 255.0, np.asarray(batch["labels"])

    train = [read(name) for name in CIFAR10_TRAIN]
    x_test, y_test = read("test_batch")
    return RawDataset(
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]).astype(np.int64),
        x_test,
        y_test.astype(np.int64),
        10,
    )


def _downscaled(loader: Callable) -> Callable:
    """28x28 images -> 14x14 by 2x2 average pooling, as the prior CMA-ES study did."""

    def pool(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(images), 196)

    def load(data_dir: Path, download: bool) -> RawDataset:
        raw = loader(data_dir, download)
        return RawDataset(pool(raw.x_train), raw.y_train, pool(raw.x_test), raw.y_test, raw.n_classes)

    return load


_mnist = _idx_loader("MNIST")
_fashion_mnist = _idx_loader("FashionMNIST", extra_dirs=(DEBIAN_FASHION_MNIST,))

DATASETS: dict[str, Callable[[Path, bool], RawDataset]] = {
    "iris": _load_iris,
    "digits": _load_digits,
    "mnist": _mnist,
    "mnist14": _downscaled(_mnist),
    "fashion_mnist": _fashion_mnist,
    "fashion_mnist14": _downscaled(_fashion_mnist),
    "cifar10": _load_cifar10,
}


def load_raw(name: str, data_dir: str | Path, download: bool = False) -> RawDataset:
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](Path(data_dir), download)
