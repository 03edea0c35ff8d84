"""Reading the JSON files finished jobs leave behind (run summaries, a GA's summary, tuning
results). One damaged or incomplete file is refused by name with the way to redo its job,
instead of a bare JSON error from the middle of an aggregate over hundreds of runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from neuroevo.files.errors import CorruptFileError


def read_json_object(path: str | Path, required: Iterable[str] = (), what: str = "JSON file", remedy: str = "") -> dict:
    """The JSON object in `path`, with every key of `required`; CorruptFileError otherwise.

    `what` names the file's kind and `remedy` says how to remake it, both in the message.
    A missing file is left to raise FileNotFoundError: it is not corrupt, and its job is
    simply not done yet.
    """
    path = Path(path)
    remedy = remedy or f"delete it and rerun snakemake, or run snakemake --forcerun {path}"
    try:
        value = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:  # a truncated or overwritten file
        raise CorruptFileError(f"{path}: corrupt {what} ({error}); {remedy}") from error
    if not isinstance(value, dict):
        raise CorruptFileError(f"{path}: corrupt {what} (a JSON {type(value).__name__}, not an object); {remedy}")
    missing = [key for key in required if key not in value]
    if missing:
        raise CorruptFileError(f"{path}: corrupt {what} (missing {', '.join(missing)}); {remedy}")
    return value


def load_summary(path: str | Path, required: Iterable[str] = ()) -> dict:
    """A run's summary.json (the `train` command's), refused by name if it is not a JSON
    object with the `required` keys. Deleting the run's folder, or forcing its summary, makes
    Snakemake redo just that run."""
    path = Path(path)
    remedy = f"delete its run folder {path.parent} and rerun snakemake, or run snakemake --forcerun {path}"
    return read_json_object(path, required, "run summary", remedy)


def load_history(summary_path: str | Path):
    """The per-epoch history.parquet beside a run's summary, refused by name like the summary."""
    import pandas as pd
    import pyarrow

    path = Path(summary_path).with_name("history.parquet")
    try:
        return pd.read_parquet(path)
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise CorruptFileError(
            f"{path}: corrupt run history ({error}); delete its run folder {path.parent} and rerun snakemake, "
            f"or run snakemake --forcerun {Path(summary_path)}"
        ) from error
