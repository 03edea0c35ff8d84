"""Limits the schema, the command line and the code share, written once: the largest seed,
the size of each dataset's training split (known without reading the data, so that the
workflow can check a setting against it while it builds the DAG), and the refusal of an
input file that is not a regular file of a sane size (/dev/zero, a FIFO), before it is read.

Torch-free and numpy-free: the workflow and the command line's parser import it.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from neuroevo.config.defaults import SPLIT_FRACTION
from neuroevo.files.atomic import UnsafePathError, read_regular

# torch, numpy and pycma seed from 32 bits: torch takes the low 32 bits of a larger seed (so
# 2**32 and 2**63 give seed 0's run again), numpy and pycma refuse it. Every seed is below this
# (the schemas' `maximum: 4294967295`, the command line's SEED type).
SEED_LIMIT = 2**32

# A genome JSON is a few hundred bytes; anything near this is not one (and /dev/zero never ends).
GENOME_FILE_MAX_BYTES = 1 << 20

# Each dataset's examples as its loader (neuroevo.data.datasets) returns them: (training
# examples, official test examples or None). Without an official test split the data command
# carves test and validation out of the first, as prepare() does; tests/test_input_limits.py
# checks these against the loaders that need no download (Iris, digits).
DATASET_EXAMPLES: dict[str, tuple[int, int | None]] = {
    "iris": (150, None),
    "digits": (1797, None),
    "mnist": (60000, 10000),
    "mnist14": (60000, 10000),
    "fashion_mnist": (60000, 10000),
    "fashion_mnist14": (60000, 10000),
    "cifar10": (50000, 10000),
}


def _held_out(share: float, n: int) -> int:
    """Examples scikit-learn's train_test_split holds out of n for a float test_size: ceil(share x n)."""
    return math.ceil(share * n)


def training_examples(
    dataset: str,
    val_fraction: float = SPLIT_FRACTION,
    test_fraction: float = SPLIT_FRACTION,
    subsample: int | None = None,
) -> int:
    """The training split's size of `dataset` prepared with these fractions (the config's `data`
    block), cut to `subsample` when a run draws fewer (training.subsample): the examples a run
    trains on, computed as prepare() splits, without reading a file. KeyError for an unknown
    dataset."""
    n, official_test = DATASET_EXAMPLES[dataset]
    if official_test is None:  # prepare(): test first, then validation out of the rest
        n -= _held_out(test_fraction, n)
        n -= _held_out(val_fraction / (1.0 - test_fraction), n)
    else:
        n -= _held_out(val_fraction, n)
    return min(n, subsample) if subsample else n


def special_file_problem(path: str | Path, max_bytes: int = GENOME_FILE_MAX_BYTES) -> str | None:
    """Why the file at `path` is not a regular file of at most `max_bytes` bytes (a device such as
    /dev/zero, which never ends, a FIFO, which blocks until someone writes, a directory, a
    socket, or too large), or None when it is one or does not exist. Reads nothing: a stat,
    which follows symlinks, so a link to /dev/zero is refused too."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    return _problem(info, max_bytes)


def _problem(info: os.stat_result, max_bytes: int) -> str | None:
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        kinds = (
            (stat.S_ISDIR, "a directory"),
            (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO (named pipe)"),
            (stat.S_ISSOCK, "a socket"),
        )
        kind = next((name for test, name in kinds if test(mode)), None)
        return f"not a regular file but {kind}" if kind else "not a regular file"
    if info.st_size > max_bytes:
        return f"{info.st_size:,} bytes, more than the {max_bytes:,} allowed"
    return None


def read_regular_file(path: str | Path, key: str, max_bytes: int = GENOME_FILE_MAX_BYTES) -> bytes:
    """The bytes of the regular file at `path` (a link to one is followed: a user's input),
    refused (ValueError naming `key` and the file) when it is a special file or larger than
    `max_bytes`, before anything is read: neuroevo.files.atomic.read_regular opens it without
    blocking (a FIFO would wait for a writer) and checks the descriptor it opened.
    FileNotFoundError when missing."""
    try:
        return read_regular(path, max_bytes, follow_links=True)
    except UnsafePathError:
        raise ValueError(refusal(path, key, special_file_problem(path, max_bytes) or "not a regular file")) from None


def refusal(path: str | Path, key: str, problem: str) -> str:
    return f"{key}: {path}: {problem}; give the path of a regular file (a genome JSON for genome_file)"


def check_input_file(path: str | Path, key: str, max_bytes: int = GENOME_FILE_MAX_BYTES) -> None:
    """ValueError naming `key` and the file when `path` exists and is a special file or larger
    than `max_bytes` (what special_file_problem says); nothing when it is missing (a file a rule
    makes) or fine. For any setting that names a file: genome_file, or any `*_file` value whose
    content is hashed (neuroevo.training.finished.file_digests)."""
    problem = special_file_problem(path, max_bytes)
    if problem:
        raise ValueError(refusal(path, key, problem))
