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
import shutil
from functools import cache
from pathlib import Path

import pandas as pd

from neuroevo.files.atomic import write_atomic, write_json
from neuroevo.files.versions import package_versions

log = logging.getLogger("neuroevo")
KEPT_DIR = "finished"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the whole neuroevo package


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
        if name.endswith("_file") and value and Path(value).is_file():
            digests[name] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
    return digests


def result_key(run_settings: dict) -> str:
    identity = {"settings": run_settings, "code": source_digest(), "versions": package_versions()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def restore(run_dir: str | Path, key: str) -> tuple[dict, pd.DataFrame] | None:
    """The kept result of a run of this key, or None (none kept, another key, or unreadable)."""
    folder = Path(run_dir) / KEPT_DIR / key
    if not (folder / "summary.json").exists():
        return None
    try:
        summary = json.loads((folder / "summary.json").read_text())
        if summary.get("result_key") != key:
            return None
        history = pd.read_parquet(folder / "history.parquet")
    except Exception as error:  # a damaged copy is only a missed shortcut: train again
        log.warning("ignoring the kept result in %s (%s); training again", folder, error)
        return None
    log.info("restored the finished result of identical settings, data and code from %s (delete it to retrain)", folder)
    return summary, history


def keep(run_dir: str | Path, summary: dict, history: pd.DataFrame) -> None:
    """Keep this result under its key (a folder per key: a summary never meets the history
    of another), then drop the results of other keys, which no rerun can restore."""
    kept = Path(run_dir) / KEPT_DIR
    folder = kept / summary["result_key"]
    write_atomic(folder / "history.parquet", lambda partial: history.to_parquet(partial, index=False))
    write_json(folder / "summary.json", summary)
    for other in kept.iterdir():
        if other != folder and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def write_run(summary: dict, history: pd.DataFrame, out_dir: str | Path) -> None:
    """History first, summary last and atomically: a summary on disk means a finished run."""
    out_dir = Path(out_dir)
    history = history.assign(dataset=summary["dataset"], optimizer=summary["optimizer"], seed=summary["seed"])
    write_atomic(out_dir / "history.parquet", lambda partial: history.to_parquet(partial, index=False))
    write_json(out_dir / "summary.json", summary)
    if not summary["training"]["max_seconds"]:
        keep(out_dir, summary, history)  # where a rerun's cleanup cannot delete it
