"""Versions of what shaped a result, recorded in every summary and in the report."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "neuroevo",
    "torch",
    "numpy",
    "cma",
    "scikit-learn",
    "scipy",
    "statsmodels",
    "scikit-posthocs",
    "pandas",
    "pyarrow",
    "jinja2",
)


def package_versions() -> dict[str, str]:
    """A copy of the versions, read once per process (every run and tuning trial asks twice)."""
    return dict(_package_versions())


@cache
def _package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(source_dir: str | Path) -> str:
    """The commit of the checkout at `source_dir`, with '+dirty' when it has local changes."""
    try:

        def run(*args):
            return subprocess.run(
                ["git", "-C", str(source_dir), *args], capture_output=True, text=True, check=True
            ).stdout.strip()

        commit = run("rev-parse", "HEAD")
        return commit + ("+dirty" if run("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
