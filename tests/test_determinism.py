import json
import subprocess
import sys

import pytest
from conftest import tool_environment

from neuroevo.training import summary as loop

TIMING_KEYS = set(loop.TIMING_KEYS)


def _train_in_new_process(data, optimizer, out_dir):
    spec = json.dumps({"model": {"hidden": 8}, "training": {"max_epochs": 5}})
    subprocess.run(
        [
            sys.executable,
            "-m",
            "neuroevo",
            "train",
            "--data",
            str(data),
            "--dataset",
            "iris",
            "--optimizer",
            optimizer,
            "--seed",
            "7",
            "--spec",
            spec,
            "--out-dir",
            str(out_dir),
        ],
        check=True,
        env=tool_environment(),
        capture_output=True,
    )
    summary = json.loads((out_dir / "summary.json").read_text())
    return {key: value for key, value in summary.items() if key not in TIMING_KEYS}


@pytest.mark.parametrize("optimizer", ["adam", "layerwise_cmaes"])
def test_same_seed_gives_identical_summaries_in_two_processes(optimizer, iris_data, tmp_path):
    first = _train_in_new_process(iris_data, optimizer, tmp_path / "first")
    second = _train_in_new_process(iris_data, optimizer, tmp_path / "second")
    assert first == second
    assert first["test_loss"] > 0
