"""Dataset registry: name -> loader of the raw arrays.

Iris and digits ship with scikit-learn. MNIST, Fashion-MNIST and CIFAR-10 are read from a
data directory in torchvision's layout (so torchvision's downloader can fill it when the
config allows downloads); Fashion-MNIST is also found where Debian's
`dataset-fashion-mnist` installs it.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroevo.files.errors import CorruptFileError

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


def _refetch(path: Path) -> str:
    """How to replace a damaged raw file: Debian's package, or a fresh copy."""
    if path.parent == DEBIAN_FASHION_MNIST:
        return "reinstall Debian's package: apt-get install --reinstall dataset-fashion-mnist"
    # Deleting comes first: torchvision's downloader skips files that are already there.
    return "delete it and download it again (data.download: true in the config), or copy it again from the original"


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not; a truncated or damaged file is
    refused by name with the size its header promises."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # a cut-off download, or not gzip
        raise CorruptFileError(f"{path}: truncated or corrupt gzip file ({error}); {_refetch(path)}") from error
    magic = int.from_bytes(raw[:4], "big")
    if len(raw) < 4 or magic >> 8 != 0x08:  # 0x08 = unsigned byte, the only type MNIST-like files use
        raise CorruptFileError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x}); {_refetch(path)}")
    n_dims = magic & 0xFF
    offset = 4 + 4 * n_dims
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    expected = offset + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        unpacked = " once decompressed" if path.suffix == ".gz" else ""
        problem = "truncated IDX file" if len(raw) < expected else "IDX file longer than its header says"
        raise CorruptFileError(
            f"{path}: {problem} ({len(raw):,} bytes{unpacked}; the header's shape {tuple(shape)} needs "
            f"{expected:,}); {_refetch(path)}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


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
                "them there by hand." + (" On Debian: apt-get install dataset-fashion-mnist." if extra_dirs else "")
            )
        arrays = {key: read_idx(_idx_path(folder, stem)) for key, stem in IDX_FILES.items()}

        def flatten(images):
            return images.reshape(len(images), -1).astype(np.float32) / 255.0

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


def _official_cifar10_md5() -> dict[str, str]:
    """File name -> md5 of the official batches, as torchvision's CIFAR10 lists them."""
    import torchvision.datasets

    cifar = torchvision.datasets.CIFAR10
    return {name: md5 for name, md5 in getattr(cifar, "train_list", []) + getattr(cifar, "test_list", [])}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _array_reconstructor() -> Callable:
    try:  # numpy >= 2 (where numpy.core is a deprecated alias)
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch without running anything else: a pickle can call any
    importable function, so only numpy's array reconstruction is let through. The names are
    those the official files (numpy 1) and numpy 2's pickles use; lists, dicts, strings and
    numbers need no lookup at all."""

    def __init__(self, handle, path: Path):
        super().__init__(handle, encoding="latin1")  # the batches were pickled by Python 2
        self.path = path
        reconstruct = _array_reconstructor()
        self.allowed = {
            ("numpy.core.multiarray", "_reconstruct"): reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.allowed:
            raise CorruptFileError(
                f"{self.path}: refused to unpickle {module}.{name}: a CIFAR-10 batch holds only arrays, lists and "
                "strings, so this file is not one and may run code when loaded; delete it and unpack the official "
                "cifar-10-python.tar.gz again"
            )
        return self.allowed[(module, name)]


def read_cifar10_batch(path: Path, official_md5: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images ([N, 3072] float32 in [0, 1]) and labels of one python-version CIFAR-10 batch.

    A file whose md5 is not `official_md5` is read with a warning (it may be a test's or a
    subset's); what protects the reader is the restricted unpickler, for every file.
    """
    if official_md5 and _md5(path) != official_md5:
        warnings.warn(
            f"{path}: not the official CIFAR-10 file (md5 differs from {official_md5}); reading it as arrays only",
            stacklevel=2,
        )
    remedy = "delete it and unpack the official cifar-10-python.tar.gz again (data.download: true fetches it)"
    try:
        with open(path, "rb") as handle:
            batch = _ArrayUnpickler(handle, path).load()
    except CorruptFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise CorruptFileError(
            f"{path}: truncated or corrupt CIFAR-10 batch ({type(error).__name__}: {error}); {remedy}"
        ) from error
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise CorruptFileError(f"{path}: not a CIFAR-10 batch (expected a dict with 'data' and 'labels'); {remedy}")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise CorruptFileError(
            f"{path}: not a CIFAR-10 batch (data of shape {data.shape} and {labels.size} labels; expected [N, 3072] and N); {remedy}"
        )
    if (
        data.dtype != np.uint8
        or labels.dtype.kind not in "iu"
        or (labels.size and not 0 <= labels.min() <= labels.max() < 10)
    ):
        raise CorruptFileError(
            f"{path}: not a CIFAR-10 batch (data of dtype {data.dtype}, labels of dtype {labels.dtype}; expected uint8 pixels "
            f"and labels 0-9); {remedy}"
        )
    return data.astype(np.float32) / 255.0, labels


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
    official = _official_cifar10_md5()
    train = [read_cifar10_batch(folder / name, official.get(name)) for name in CIFAR10_TRAIN]
    x_test, y_test = read_cifar10_batch(folder / "test_batch", official.get("test_batch"))
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


def raw_files_present(name: str, data_dir: str | Path) -> bool:
    """Whether `name`'s raw files are where its loader looks (scikit-learn's always are), without
    reading them: what decides if a stand-in runs in its place (the prior-work audit)."""
    data_dir = Path(data_dir)
    family = name.removesuffix("14")
    if family in ("iris", "digits"):
        return True
    if family == "cifar10":
        return all((data_dir / CIFAR10_FOLDER / batch).is_file() for batch in CIFAR10_TRAIN + ["test_batch"])
    folder = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[family]
    extra = [DEBIAN_FASHION_MNIST] if family == "fashion_mnist" else []
    return _find_idx_dir([data_dir / folder / "raw", data_dir / folder.lower(), *extra]) is not None


def load_raw(name: str, data_dir: str | Path, download: bool = False) -> RawDataset:
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](Path(data_dir), download)
