"""Writes that a killed job cannot leave half-done (write beside, then rename), and the lock
that keeps two jobs from writing one folder at once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("neuroevo")
_UMASK = os.umask(0)
os.umask(_UMASK)


class FolderBusyError(RuntimeError):
    """Another process holds the folder's lock."""


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """`write(partial)` fills a file of a unique name beside `path`, which then replaces
    `path` in one rename. A failed write leaves neither a partial file nor a changed `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    os.chmod(partial, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide results from a group
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def set_aside(path: Path, reason: str, what: str = "checkpoint", restart: str = "the run starts over") -> Path:
    """Move an unusable file to PATH.unreadable-<time> (never replacing one set aside earlier)
    for inspection instead of deleting it, with a warning naming both paths."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.unreadable-{stamp}")
    for number in range(1, 1000):
        if not kept.exists():
            break
        kept = path.with_name(f"{path.name}.unreadable-{stamp}-{number}")
    os.replace(path, kept)
    log.warning("ignoring %s %s (%s); moved it to %s, %s", what, path, reason, kept, restart)
    return kept


def write_json(path: str | Path, data: dict) -> None:
    write_atomic(path, lambda partial: partial.write_text(json.dumps(data, indent=2, sort_keys=True)))


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str = ".lock") -> Iterator[Path]:
    """Holds an exclusive lock on `folder/name` (fcntl.flock) while a job writes the folder;
    a second writer fails at once, naming the holder. Creating the lock file also proves,
    before any work, that the folder is writable. The lock ends with the process, however
    it ends, so a killed job never leaves a stale one."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / name, "a+")
    except OSError as error:
        raise PermissionError(
            f"{folder}: cannot write there ({error.strerror}); fix its permissions or choose another folder"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise FolderBusyError(
                f"{folder} is being written by {holder} (lock {folder / name}); wait for that job to end, "
                "or stop it, before running this one (after snakemake --unlock, an orphaned job may still run)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        _check_writable(folder)
        yield folder / name


def _check_writable(folder: Path) -> None:
    """The lock file may be an old one (writable) in a folder no longer writable: try a new file."""
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.", suffix=".partial")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise PermissionError(
            f"{folder}: cannot write there ({error.strerror}); fix its permissions or choose another folder"
        ) from None


def remove_partials(folder: str | Path, prefixes: tuple[str, ...] = ("",), recursive: bool = False) -> None:
    """Delete the partial files a killed write left in `folder` (and below, if `recursive`)
    whose names start with one of `prefixes`. Only the holder of the lock on what they are
    partial copies of may call this: no one else is writing them."""
    for partial in (Path(folder).rglob if recursive else Path(folder).glob)("*.partial"):
        if partial.is_file() and partial.name.startswith(prefixes):
            partial.unlink(missing_ok=True)
