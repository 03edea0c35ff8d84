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


def snakemake(workdir: Path, *args: str, configfile: Path = TINY_CONFIG, check: bool = True) -> subprocess.CompletedProcess:
    command = [
        shutil.which("snakemake", path=tool_environment()["PATH"]) or "snakemake",
        "--snakefile", str(REPOSITORY / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(configfile),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=tool_environment())
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def iris_data(tmp_path_factory) -> Path:
    from neuroevo.prepare import prepare, save_prepared

    path = tmp_path_factory.mktemp("data") / "iris.npz"
    save_prepared(prepare("iris", val_fraction=0.2, test_fraction=0.2), path)
    return path


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory) -> Path:
    from neuroevo.prepare import prepare, save_prepared

    path = tmp_path_factory.mktemp("data") / "digits.npz"
    save_prepared(prepare("digits", val_fraction=0.2, test_fraction=0.2), path)
    return path
