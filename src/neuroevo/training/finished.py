"""A finished run's result, kept in RUN_DIR/finished/KEY/ where Snakemake's cleanup cannot reach
it: Snakemake deletes a job's outputs when it reruns the job, and again when the rerun fails
(a damaged input, a killed job), so without this copy a run finished hours ago would be lost
to a rerun that could only have reproduced it.

The copy is keyed by everything that shapes the result: the run's settings, the checksum of
its prepared data, the package's source code and the versions of its dependencies. A rerun
with the same key restores the copy instead of training again (the result would be the same,
timings aside); any change, a code edit included, trains anew. Delete the folder to retrain.
`write_run` writes a run's outputs and keeps them so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from functools import cache
from pathlib import Path

import pandas as pd

from neuroevo.config.limits import read_regular_file
from neuroevo.files.atomic import own_folder, read_regular, remove_partials, set_aside, write_atomic, write_json
from neuroevo.files.tables import read_parquet_bounded
from neuroevo.files.versions import package_versions

log = logging.getLogger("neuroevo")
KEPT_DIR = "finished"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the whole neuroevo package
RUN_FILES = ("summary.json", "history.parquet", "checkpoint.pt")  # what write_run and checkpoints write
KEPT_FILES = ("summary.json", "history.parquet")
KEPT_LIMIT = 1 << 28  # a kept summary or history is far smaller; a bigger file is not one
IDENTITY = ("dataset", "optimizer", "seed", "model", "training", "hyperparameters")
BEST_SCORES = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
_MISSING = object()


class KeptResultError(ValueError):
    """A kept result that is not the result of the run at hand."""


@cache
def source_digest() -> str:
    """sha256 over the package's Python sources, so that an edited optimizer retrains."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_digests(hyperparameters: dict) -> dict[str, str]:
    """sha256 of each file a hyperparameter names (`genome_file`), so that an edited file is
    a change of settings: its checkpoint is not resumed and its kept result not restored."""
    digests = {}
    for name, value in sorted(hyperparameters.items()):
        if name.endswith("_file") and value and os.path.lexists(value):
            # A device or FIFO (/dev/zero never ends) is refused by key before it is read.
            data = read_regular_file(value, f"hyperparameters.{name}")
            digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def result_key(run_settings: dict) -> str:
    identity = {"settings": run_settings, "code": source_digest(), "versions": package_versions()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def remove_run_partials(run_dir: str | Path) -> None:
    """The partial files a killed write of this run left: of its summary, history and
    checkpoint, and of the kept copies in RUN_DIR/finished/*/ (real folders only, never below
    a link). Nothing else in the folder is touched."""
    run_dir = Path(run_dir)
    remove_partials(run_dir, RUN_FILES)
    kept = run_dir / KEPT_DIR
    if kept.is_dir() and not kept.is_symlink():
        for folder in kept.iterdir():
            if folder.is_dir() and not folder.is_symlink():
                remove_partials(folder, KEPT_FILES)


def _check_kept(summary: object, history: pd.DataFrame, key: str, expected: dict) -> None:
    """Why a kept result cannot be this run's, as a KeptResultError: its summary lacks a field
    or disagrees with the run's settings (`expected`: dataset, optimizer, seed, model,
    training, hyperparameters as the optimizer resolves them), or its history disagrees with
    its summary (seed, dataset and optimizer columns, epochs 0..n in order, the best epoch
    and its scores). This catches a copy of another run or an edited number; a forger who
    edits both files consistently is not caught (see the README: what a received run folder
    is trusted for)."""
    if not isinstance(summary, dict):
        raise KeptResultError("its summary is not a JSON object")
    missing = [name for name in (*IDENTITY, "result_key", "best_epoch", "epochs", *BEST_SCORES) if name not in summary]
    if missing:
        raise KeptResultError(f"its summary lacks {', '.join(missing)}")
    if summary["result_key"] != key:
        raise KeptResultError("its summary's result_key is not its folder's")
    for name in ("dataset", "optimizer", "seed", "model", "training"):
        if _plain(summary[name]) != _plain(expected[name]):
            raise KeptResultError(f"its summary's {name} is not this run's")
    kept_hyperparameters = summary["hyperparameters"]
    if not isinstance(kept_hyperparameters, dict):
        raise KeptResultError("its summary's hyperparameters are not a mapping")
    for name, value in expected["hyperparameters"].items():
        # None and "auto" are decided when the run starts (popsize, diagonal): the summary holds the decision.
        if value is not None and value != "auto" and not _same_setting(kept_hyperparameters.get(name, _MISSING), value):
            raise KeptResultError(f"its summary's hyperparameters.{name} is not this run's")
    for column, value in (
        ("seed", summary["seed"]),
        ("dataset", summary["dataset"]),
        ("optimizer", summary["optimizer"]),
    ):
        if column not in history or not (history[column] == value).all():
            raise KeptResultError(f"its history's {column} column is not its summary's {value!r}")
    epochs = history["epoch"].tolist() if "epoch" in history else []
    if epochs != list(range(len(epochs))) or not epochs:
        raise KeptResultError("its history's epochs are not 0, 1, 2, ... in order")
    if not isinstance(summary["epochs"], int) or not 0 <= summary["epochs"] <= epochs[-1] + 1:
        raise KeptResultError(
            f"its summary's {summary['epochs']} epochs disagree with its history's {len(epochs)} rows"
        )
    best = summary["best_epoch"]
    if not isinstance(best, int) or not 0 <= best <= epochs[-1]:
        raise KeptResultError(f"its summary's best_epoch {best!r} is not an epoch of its history")
    row = history.iloc[best]
    for name in BEST_SCORES:
        if not _same_number(row.get(name), summary[name]):
            raise KeptResultError(f"its summary's {name} {summary[name]!r} is not its history's at epoch {best}")


def _same_setting(kept: object, value: object) -> bool:
    """A summary's hyperparameter against the run's: equal, or a per-layer list of it
    (layerwise CMA-ES records `mirrored`, `diagonal`, `engine` per layer)."""
    kept, value = _plain(kept), _plain(value)
    if kept == value:
        return True
    return isinstance(kept, list) and not isinstance(value, list) and bool(kept) and all(item == value for item in kept)


def _plain(value: object) -> object:
    """JSON's view of a value (tuples as lists), so a spec and a summary read back compare."""
    return json.loads(json.dumps(value, default=str))


def _same_number(a: object, b: object) -> bool:
    """Equal scores; a non-finite score may be stored as null (strict JSON)."""
    a = math.nan if a is None else a
    b = math.nan if b is None else b
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(b, bool):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def restore(run_dir: str | Path, key: str, expected: dict) -> tuple[dict, pd.DataFrame] | None:
    """The kept result of a run of this key, or None (none kept, or one that is not this
    run's: set aside as RUN_DIR/finished/KEY.unreadable-<time> with a warning naming it, and
    the run trains anew). `expected` is what the run's summary must say of it (_check_kept).
    Nothing is read through a link or from a special file."""
    kept = Path(run_dir) / KEPT_DIR
    folder = kept / key
    if kept.is_symlink() or not os.path.lexists(folder / "summary.json"):
        return None  # keep() replaces a linked finished/ with a folder of its own
    try:
        if folder.is_symlink():
            raise KeptResultError("its folder is a symbolic link")
        summary = json.loads(read_regular(folder / "summary.json", KEPT_LIMIT))
        history = read_parquet_bounded(folder / "history.parquet", follow_links=False)
        _check_kept(summary, history, key, expected)
    except Exception as error:  # never trusted, never fatal: the run trains again
        set_aside(folder, str(error)[:300], what="kept result", restart="training again")
        return None
    log.info("restored the finished result of identical settings, data and code from %s (delete it to retrain)", folder)
    return summary, history


def keep(run_dir: str | Path, summary: dict, history: pd.DataFrame) -> None:
    """Keep this result under its key (a folder per key: a summary never meets the history
    of another), then drop the results of other keys, which no rerun can restore. Results
    set aside as not this run's stay for inspection. A link found at finished/ or at a key's
    folder is removed, never followed: nothing outside the run folder is written or deleted."""
    kept = own_folder(Path(run_dir) / KEPT_DIR)
    folder = own_folder(kept / summary["result_key"])
    write_atomic(folder / "history.parquet", lambda partial: history.to_parquet(partial, index=False))
    write_json(folder / "summary.json", summary, allow_nan=False)
    for other in kept.iterdir():
        if other == folder or ".unreadable-" in other.name:
            continue
        if other.is_symlink():
            other.unlink()  # the link, not what it points at
        elif other.is_dir():
            shutil.rmtree(other, ignore_errors=True)  # rmtree never follows the links inside


def write_run(summary: dict, history: pd.DataFrame, out_dir: str | Path) -> None:
    """History first, summary last and atomically: a summary on disk means a finished run."""
    out_dir = Path(out_dir)
    history = history.assign(dataset=summary["dataset"], optimizer=summary["optimizer"], seed=summary["seed"])
    write_atomic(out_dir / "history.parquet", lambda partial: history.to_parquet(partial, index=False))
    write_json(out_dir / "summary.json", summary, allow_nan=False)  # strict JSON: run_summary writes null
    if not summary["training"]["max_seconds"]:
        keep(out_dir, summary, history)  # where a rerun's cleanup cannot delete it
