"""Writes that a killed job cannot leave half-done (write beside, then rename), the lock
that keeps two jobs from writing one folder at once, and reads and folders that never follow
a symbolic link.

A results tree may have come from someone else: what the pipeline finds inside a run or
tuning folder (a lock file, `finished/`, a partial file, a journal) is data, and a link
planted there must never make it write, truncate or delete anything outside. So files are
created with O_EXCL or opened with O_NOFOLLOW, a folder the pipeline owns is refused or
replaced when it is a link, and cleanup unlinks names without following them. The folder a
user names (`--out-dir`, a `results` that links to scratch space) is theirs and is followed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("neuroevo")
_UMASK = os.umask(0)
os.umask(_UMASK)


class FolderBusyError(RuntimeError):
    """Another process holds the folder's lock."""


class UnsafePathError(PermissionError):
    """A symbolic link or special file where the pipeline expects a file or folder of its own."""


# The random middle of write_atomic's partial names (tempfile's alphabet).
_PARTIAL = r"\.[a-z0-9_]+\.partial"


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
        if not os.path.lexists(kept):
            break
        kept = path.with_name(f"{path.name}.unreadable-{stamp}-{number}")
    os.replace(path, kept)
    log.warning("ignoring %s %s (%s); moved it to %s, %s", what, path, reason, kept, restart)
    return kept


def write_json(path: str | Path, data: dict, allow_nan: bool = True) -> None:
    """`allow_nan=False` for files users parse with strict JSON readers (summaries: their
    non-finite scores are null); a NaN there is then a ValueError, never a bare `NaN`."""
    write_atomic(
        path, lambda partial: partial.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=allow_nan))
    )


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str = ".lock") -> Iterator[Path]:
    """Holds an exclusive lock on `folder/name` (fcntl.flock) while a job writes the folder;
    a second writer fails at once, naming the holder. Creating the lock file also proves,
    before any work, that the folder is writable. The lock ends with the process, however
    it ends, so a killed job never leaves a stale one."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a lock file that is a link (a received folder) must not truncate its target.
        descriptor = os.open(
            folder / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o666
        )
    except OSError as error:
        if os.path.islink(folder / name):
            raise UnsafePathError(
                f"{folder / name}: the lock file is a symbolic link, which neuroevo never makes; "
                "remove it (rm, which deletes the link, not its target) and run again"
            ) from None
        if os.path.isdir(folder / name):
            raise UnsafePathError(f"{folder / name}: the lock file is a folder; move it aside and run again") from None
        raise PermissionError(
            f"{folder}: cannot write there ({error.strerror}, lock file {folder / name}); "
            "fix its permissions or choose another folder"
        ) from None
    status = os.fstat(descriptor)
    # A hard link would let the truncation below reach another name of the same file.
    if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1:
        os.close(descriptor)
        raise UnsafePathError(
            f"{folder / name}: the lock file is not a regular file of its own (a device, FIFO or hard link); "
            "remove it and run again"
        )
    handle = os.fdopen(descriptor, "r+")
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


def remove_partials(folder: str | Path, names: tuple[str, ...]) -> None:
    """Delete the partial files a killed `write_atomic` of `folder/NAME` left (NAME.<random>.partial),
    for each of `names` only: never another program's files, never below a link (a link with
    such a name is itself unlinked, its target untouched). Only the holder of the lock on what
    they are partial copies of may call this: no one else is writing them."""
    folder = Path(folder)
    if os.path.islink(folder) and not folder.is_dir():  # a dangling link: nothing of ours there
        return
    pattern = re.compile("|".join(f"{re.escape(name)}{_PARTIAL}" for name in names))
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if pattern.fullmatch(entry.name) and (entry.is_symlink() or entry.is_file(follow_symlinks=False)):
            Path(entry.path).unlink(missing_ok=True)


def own_folder(path: str | Path) -> Path:
    """`path` as a real folder, created if missing: a symbolic link found there (a received
    results tree) is removed with a warning, never followed, so nothing written or deleted
    below `path` lands outside; a file there is set aside. The caller holds the lock of the
    folder above."""
    path = Path(path)
    if path.is_symlink():
        log.warning(
            "%s is a symbolic link, not a folder neuroevo made; removed the link (its target is untouched)", path
        )
        path.unlink()
    elif path.exists() and not path.is_dir():
        set_aside(path, "a file where neuroevo keeps a folder", what="entry", restart="a folder takes its place")
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_regular(path: str | Path, limit: int = 1 << 30, follow_links: bool = False) -> bytes:
    """The bytes of the regular file `path`, never from a device or FIFO (which could block or
    never end), at most `limit` bytes, and (unless `follow_links`: a file a user may link to)
    never through a symbolic link: anything else is an UnsafePathError naming the file."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if not follow_links and os.path.islink(path):
            raise UnsafePathError(f"{path}: a symbolic link where neuroevo keeps a file of its own") from None
        raise error from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_size > limit:
        os.close(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafePathError(f"{path}: not a regular file")
        raise UnsafePathError(f"{path}: {status.st_size} bytes, more than the {limit} such a file can hold")
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew since the check
        raise UnsafePathError(f"{path}: more than the {limit} bytes such a file can hold")
    return data
