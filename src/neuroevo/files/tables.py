"""Parquet files read with bounds: a history found in a results tree may have come from
someone else, and a parquet file of under a megabyte can decode to gigabytes (200 million
rows of one repeated value). Its metadata are checked before anything is decoded."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from neuroevo.files.atomic import read_regular

MAX_ROWS = 1_000_000  # a history has a row per epoch (or per generation): far fewer
MAX_DECODED_BYTES = 1 << 30
MAX_FILE_BYTES = 1 << 28


class TableTooLargeError(ValueError):
    """A parquet file whose metadata promise more rows or bytes than such a table can hold."""


def read_parquet_bounded(path: str | Path, follow_links: bool = True, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """The table in the regular file `path` (never a device or FIFO; not through a link unless
    `follow_links`), refused before decoding when its metadata say more than `max_rows` rows or
    MAX_DECODED_BYTES of decoded data (TableTooLargeError naming the file); what the file itself
    cannot be read as raises as pandas would."""
    data = read_regular(path, MAX_FILE_BYTES, follow_links=follow_links)
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    decoded = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    if metadata.num_rows > max_rows or decoded > MAX_DECODED_BYTES:
        raise TableTooLargeError(
            f"{path}: {metadata.num_rows:,} rows and {decoded:,} bytes once decoded, more than a table of "
            f"neuroevo's holds ({max_rows:,} rows, {MAX_DECODED_BYTES:,} bytes)"
        )
    return pd.read_parquet(io.BytesIO(data))
