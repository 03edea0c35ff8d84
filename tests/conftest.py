import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPOSITORY / "tests" / "tiny" / "config.yaml"


def tool_environment() -> dict:
    """Subprocesses (snakemake and its jobs' `python`) use this interpreter's environment."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def snakemake(
    workdir: Path, *args: str, configfile: Path = TINY_CONFIG, check: bool = True
) -> subprocess.CompletedProcess:
    command = [
        shutil.which("snakemake", path=tool_environment()["PATH"]) or "snakemake",
        "--snakefile",
        str(REPOSITORY / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=tool_environment())
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def train_arguments(data, out_dir, spec, optimizer="sgd", seed="0", dataset="iris", extra=()) -> list[str]:
    """The `train` command's arguments for one run in `out_dir` (`spec` a dict or JSON text)."""
    import json

    spec_text = spec if isinstance(spec, str) else json.dumps(spec)
    return [
        "train",
        "--data",
        str(data),
        "--dataset",
        dataset,
        "--optimizer",
        optimizer,
        "--seed",
        str(seed),
        "--spec",
        spec_text,
        "--out-dir",
        str(out_dir),
        *extra,
    ]


@pytest.fixture(scope="session")
def iris_data(tmp_path_factory) -> Path:
    from neuroevo.data.prepare import prepare, save_prepared

    path = tmp_path_factory.mktemp("data") / "iris.npz"
    save_prepared(prepare("iris", val_fraction=0.2, test_fraction=0.2), path)
    return path


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory) -> Path:
    from neuroevo.data.prepare import prepare, save_prepared

    path = tmp_path_factory.mktemp("data") / "digits.npz"
    save_prepared(prepare("digits", val_fraction=0.2, test_fraction=0.2), path)
    return path


def _slurm_cluster_is_up() -> bool:
    try:
        accounting = subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True, timeout=20)
        nodes = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return accounting.returncode == 0 and "idle" in nodes.stdout


@pytest.fixture(scope="session", autouse=True)
def local_slurm_cluster(tmp_path_factory):
    """Where Debian's SLURM packages are installed (CI installs them), a single-node cluster
    with slurmdbd runs for the whole session, started by scripts/start-slurm.sh and stopped
    by PID at the end; one already running is used and left running. Besides serving
    tests/test_slurm.py, a reachable controller keeps every Snakemake start fast: the SLURM
    plugin probes `scontrol show config` at import, which waits 10 s when none answers."""
    if _slurm_cluster_is_up():
        yield True
        return
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("slurmctld", "slurmdbd", "mariadbd")):
        yield False
        return
    env = dict(os.environ, SLURM_ROOT=str(tmp_path_factory.mktemp("slurm")), WITH_DBD="1")
    subprocess.run(
        ["bash", str(REPOSITORY / "scripts" / "start-slurm.sh")], env=env, check=True, capture_output=True, timeout=600
    )
    try:
        yield True
    finally:
        subprocess.run(["bash", str(REPOSITORY / "scripts" / "stop-slurm.sh")], env=env, timeout=120)
