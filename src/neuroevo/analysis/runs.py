"""Reading what finished jobs leave behind (run summaries and histories, a GA's summary,
tuning results), and the one table of runs every reader builds from summaries.

One damaged or incomplete file is refused by name with the way to redo its job, instead of
a bare JSON error from the middle of an aggregate over hundreds of runs. In a table of runs,
a summary's nested settings are columns GROUP.KEY (see SETTING_GROUPS), written to and read
from Parquet by write_table and read_table so that every value comes back as it was."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.parquet

from neuroevo.files.atomic import UnsafePathError, read_regular
from neuroevo.files.errors import CorruptFileError
from neuroevo.files.tables import read_parquet_bounded

JSON_LIMIT = 1 << 28  # a summary or tuning result is kilobytes


def read_json_object(path: str | Path, required: Iterable[str] = (), what: str = "JSON file", remedy: str = "") -> dict:
    """The JSON object in `path`, with every key of `required`; CorruptFileError otherwise.

    `what` names the file's kind and `remedy` says how to remake it, both in the message.
    A missing file is left to raise FileNotFoundError: it is not corrupt, and its job is
    simply not done yet.
    """
    path = Path(path)
    remedy = remedy or f"delete it and rerun snakemake, or run snakemake --forcerun {path}"
    try:
        # A regular file of a sane size: a summary linked to /dev/zero (a received tree) never ends.
        value = json.loads(read_regular(path, JSON_LIMIT, follow_links=True))
    except (json.JSONDecodeError, UnicodeDecodeError, UnsafePathError, RecursionError) as error:
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
    path = Path(summary_path).with_name("history.parquet")
    try:
        return read_parquet_bounded(path)  # a regular file whose metadata promise a sane size
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise CorruptFileError(
            f"{path}: corrupt run history ({error}); delete its run folder {path.parent} and rerun snakemake, "
            f"or run snakemake --forcerun {Path(summary_path)}"
        ) from error


# --- Tables of runs: one loader for the aggregate, the study and the discovery sections ---------

# A summary's nested settings; in a table each entry is a column GROUP.KEY (pandas.json_normalize's
# names, one level deep), so `runs["hyperparameters.lr"]` is a plain column.
SETTING_GROUPS = ("hyperparameters", "model", "training", "versions")
# A summary's entries that are tables of their own, not a run's values: the ladder's rungs
# (a list of dicts, one per rung: neuroevo.analysis.ladder.rung_table) stay out of the runs table.
NESTED_TABLES = ("rungs",)
# Per row, the GROUP.KEY names that run's summary has, in its order. Optimizers have different
# keys and a setting may be null (cmaes popsize: null): both leave the cell null, this tells them apart.
SETTING_KEYS = "setting_keys"
# A settings column whose values share no Arrow type (cmaes's popsize is a number, layerwise_cmaes's
# a list per layer; an int lr among floats would come back a float) is stored as JSON text, named so.
JSON_SUFFIX = ".json"


def is_setting(column: str) -> bool:
    return column.split(".", 1)[0] in SETTING_GROUPS and "." in column


def settings_frame(rows: list[dict]) -> pd.DataFrame:
    """A table of flat rows: plain columns first (as pandas makes them), then the GROUP.KEY
    columns as Python objects, None where a row lacks the key (never NaN, which would turn an
    int into a float), then SETTING_KEYS."""
    plain = pd.DataFrame(
        [{key: value for key, value in row.items() if not is_setting(key) and key != SETTING_KEYS} for row in rows]
    )
    names = list(dict.fromkeys(key for row in rows for key in row if is_setting(key)))
    names.sort(key=lambda name: SETTING_GROUPS.index(name.split(".", 1)[0]))  # stable: first seen within a group
    columns = {name: pd.Series([row.get(name) for row in rows], dtype=object, index=plain.index) for name in names}
    if any(SETTING_KEYS in row for row in rows):
        columns[SETTING_KEYS] = pd.Series(
            [list(row.get(SETTING_KEYS, [])) for row in rows], dtype=object, index=plain.index
        )
    return pd.concat([plain, pd.DataFrame(columns, index=plain.index)], axis=1)


def flat_row(summary: dict) -> dict:
    """A summary with its settings groups spread into GROUP.KEY entries, and SETTING_KEYS; its
    nested tables (NESTED_TABLES) left out."""
    row, names = {}, []
    for key, value in summary.items():
        if key in NESTED_TABLES:
            continue
        if key in SETTING_GROUPS:
            for name, setting in (value or {}).items():
                row[f"{key}.{name}"] = setting
                names.append(f"{key}.{name}")
        else:
            row[key] = value
    return row | {SETTING_KEYS: names}


def runs_table(summaries: list[dict]) -> pd.DataFrame:
    """One row per run summary, its settings as GROUP.KEY columns (settings_frame)."""
    return settings_frame([flat_row(summary) for summary in summaries])


def settings(row, group: str) -> dict:
    """One run's settings group (e.g. "hyperparameters") from its table row, the keys the
    run's summary had, in its order, a null value kept as None."""
    prefix = f"{group}."
    return {name[len(prefix) :]: row[name] for name in row[SETTING_KEYS] if name.startswith(prefix)}


def run_summary(row) -> dict:
    """A table row (a dict, e.g. of frame.to_dict("records")) as a summary again: plain
    columns as they are, each settings group nested (every group: an empty one, or one the
    summary lacked, is {})."""
    summary = {key: value for key, value in row.items() if not is_setting(key) and key != SETTING_KEYS}
    return summary | {group: settings(row, group) for group in SETTING_GROUPS}


def only_groups(frame: pd.DataFrame, groups: Iterable[str]) -> pd.DataFrame:
    """The table without the settings columns of other groups, and SETTING_KEYS to match."""
    groups = tuple(groups)
    keep = [column for column in frame.columns if not is_setting(column) or column.split(".", 1)[0] in groups]
    frame = frame[keep].copy()
    frame[SETTING_KEYS] = [[name for name in names if name.split(".", 1)[0] in groups] for names in frame[SETTING_KEYS]]
    return frame


def load_runs(summary_paths: Iterable[str | Path], required: Iterable[str] = ()) -> pd.DataFrame:
    """The runs of these summaries (load_summary: a damaged one is refused by name), one row
    each, in the order given (runs_table)."""
    required = tuple(required)
    return runs_table([load_summary(path, required) for path in summary_paths])


def load_histories(summary_paths: Iterable[str | Path]) -> pd.DataFrame:
    """The histories beside these summaries, one table (load_history)."""
    return pd.concat([load_history(path) for path in summary_paths], ignore_index=True)


def _arrow_keeps(values: list) -> bool:
    """Whether Parquet gives these values back as they are (the same JSON, type included)."""
    try:
        back = pyarrow.array(values, from_pandas=True).to_pylist()
    except (pyarrow.ArrowException, TypeError, ValueError, OverflowError):
        return False
    return all(json.dumps(value) == json.dumps(again) for value, again in zip(values, back, strict=True))


def write_table(frame: pd.DataFrame, path: str | Path, csv: str | Path | None = None) -> None:
    """The table as Parquet (and CSV, for Snakemake's HTML report, when `csv` is given); a
    settings column Parquet would change becomes JSON text named GROUP.KEY.json (read_table
    turns it back)."""
    frame = frame.copy()
    for column in [column for column in frame.columns if is_setting(column)]:
        values = list(frame[column])
        if not _arrow_keeps(values):
            index = frame.columns.get_loc(column)
            text = [None if value is None else json.dumps(value) for value in values]
            frame = frame.drop(columns=column)
            frame.insert(index, column + JSON_SUFFIX, text)
    frame.to_parquet(path, index=False)
    if csv is not None:
        frame.to_csv(csv, index=False)


def read_table(path: str | Path) -> pd.DataFrame:
    """A table of write_table with its settings exactly as written: ints stay ints beside nulls,
    lists come back as lists, JSON text columns decoded under their GROUP.KEY names."""
    table = pyarrow.parquet.read_table(path)
    old = [name for name in table.column_names if name in SETTING_GROUPS]
    if old:  # settings as JSON text in one column per group, as aggregates before the settings columns wrote them
        raise CorruptFileError(
            f"{path}: a table of an older aggregate (settings as JSON in column(s) {', '.join(old)}); "
            f"remake it with snakemake --forcerun {path}"
        )
    frame = table.to_pandas()
    for column in table.column_names:
        if not (is_setting(column) or column == SETTING_KEYS):
            continue
        values = table.column(column).to_pylist()
        if is_setting(column) and column.endswith(JSON_SUFFIX):
            values = [None if value is None else json.loads(value) for value in values]
            frame = frame.rename(columns={column: column[: -len(JSON_SUFFIX)]})
            column = column[: -len(JSON_SUFFIX)]
        frame[column] = pd.Series(values, dtype=object, index=frame.index)
    return frame
