"""Experiment tracking: off by default; `--tracking wandb` (WANDB_MODE=offline here) logs
every epoch's row and the summary, and the API key never reaches results or logs."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import tool_environment

from neuroevo.training.tracking import Tracker, make_tracker

SECRET = "neuroevo-test-secret-0123456789abcdef01234567"


def test_tracking_is_off_by_default_and_an_unknown_tracker_is_refused(tmp_path):
    assert type(make_tracker("none", "p", "n", "g", {}, tmp_path)) is Tracker
    with pytest.raises(ValueError, match="tracking: unknown tracker 'mlflow'"):
        make_tracker("mlflow", "p", "n", "g", {}, tmp_path)


def test_wandb_offline_logs_each_epoch_and_the_summary_but_never_the_api_key(iris_data, tmp_path):
    pytest.importorskip("wandb")
    out_dir = tmp_path / "run"
    env = tool_environment() | {"WANDB_MODE": "offline", "WANDB_API_KEY": SECRET, "WANDB_SILENT": "true"}
    command = [
        sys.executable,
        "-m",
        "neuroevo",
        "train",
        "--data",
        str(iris_data),
        "--dataset",
        "iris",
        "--optimizer",
        "adam",
        "--seed",
        "0",
        "--spec",
        json.dumps({"training": {"max_epochs": 6, "patience": 100}}),
        "--tracking",
        "wandb",
        "--tracking-project",
        "neuroevo-test",
        "--out-dir",
        str(out_dir),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    (run_file,) = (out_dir / "tracking").glob("wandb/offline-run-*/run-*.wandb")
    recorded = run_file.read_bytes()  # protobuf records: keys and values as JSON text
    history = pd.read_parquet(out_dir / "history.parquet")
    for value in history.loc[history["epoch"] >= 1, "val_loss"]:  # every trained epoch (0 is the initial model)
        assert json.dumps(float(value)).encode() in recorded
    summary = json.loads((out_dir / "summary.json").read_text())
    assert json.dumps(summary["test_acc"]).encode() in recorded and b"iris/adam/0" in recorded
    written = [path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()]
    assert not any(SECRET.encode() in content for content in written)
    assert SECRET not in result.stdout + result.stderr
