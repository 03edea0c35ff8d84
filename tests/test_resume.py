"""A training job killed mid-run (preemption, Ctrl-C, kill -9) resumes from its checkpoint
and ends exactly as an uninterrupted run does."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import tool_environment

from neuroevo.training import summary as loop
from neuroevo.training.summary import without_timings

TIMING_KEYS = {*loop.TIMING_KEYS, "resumed"}


def _command(data, dataset, optimizer, spec, out_dir):
    return [
        sys.executable,
        "-m",
        "neuroevo",
        "train",
        "--data",
        str(data),
        "--dataset",
        dataset,
        "--optimizer",
        optimizer,
        "--seed",
        "3",
        "--spec",
        json.dumps(spec),
        "--out-dir",
        str(out_dir),
        "--checkpoint-seconds",
        "0",
    ]


def _summary(out_dir):
    """A run's summary without its timings (its rungs' too) and whether it was resumed."""
    summary = json.loads((out_dir / "summary.json").read_text())
    return {key: value for key, value in without_timings(summary).items() if key != "resumed"}, summary["resumed"]


# The discovery comparison's kind of run: a CNN on a subsample, augmented, under a step
# budget that ends exactly at epoch 40 (13 minibatches of 16 per epoch).
COMPARISON_RUN = {"model": {"kind": "cnn"}, "training": {"subsample": 200, "augment": True, "max_steps": 520}}
# An evolutionary run of the small CNN (batched population), on a subsample.
CNN_EVOLUTION = {"model": {"kind": "cnn"}, "training": {"subsample": 200}}
# Issue 8's fast path: torch sep-CMA-ES per layer, mirrored, one population size per layer.
MIRRORED_LAYERWISE = {"popsize": [20, 8], "diagonal": True, "engine": "torch", "mirrored": True}


@pytest.mark.parametrize(
    "dataset, optimizer, batch_size, extra",
    [
        ("digits", "adam", 16, {}),
        # A baseline's warmup + cosine schedule: its step count is in the checkpoint.
        ("digits", "adamw", 16, {"hyperparameters": {"schedule": "warmup_cosine", "total_steps": 1500}}),
        ("digits", "cmaes", 16, {}),
        ("iris", "layerwise_cmaes", 4, {}),
        ("digits", "deep_ga", 64, {}),
        ("digits", "evolved_prior", 16, COMPARISON_RUN),
        ("digits", "layerwise_cmaes", 16, {"hyperparameters": MIRRORED_LAYERWISE}),
        ("digits", "pgpe", 16, CNN_EVOLUTION),
        ("digits", "deep_ga", 64, CNN_EVOLUTION),
        # The equal-budget arm: the run goes on past its 40 epochs to the FLOP budget.
        ("iris", "cmaes", 16, {"training": {"budget_flops": 2.0e7}}),
    ],
)
def test_killed_run_resumes_and_matches_an_uninterrupted_one(dataset, optimizer, batch_size, extra, request, tmp_path):
    data = request.getfixturevalue(f"{dataset}_data")
    spec = {"model": {"hidden": 16}, "training": {"batch_size": batch_size, "max_epochs": 40, "patience": 100}}
    for key, values in extra.items():
        spec[key] = spec.get(key, {}) | values
    env = tool_environment()

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(
        _command(data, dataset, optimizer, spec, killed_dir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (killed_dir / "checkpoint.pt").exists() and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (killed_dir / "checkpoint.pt").exists() and not (killed_dir / "summary.json").exists()

    subprocess.run(_command(data, dataset, optimizer, spec, killed_dir), env=env, check=True, capture_output=True)
    resumed, was_resumed = _summary(killed_dir)
    assert was_resumed
    assert not (killed_dir / "checkpoint.pt").exists()  # a finished run leaves no checkpoint

    fresh_dir = tmp_path / "fresh"
    subprocess.run(_command(data, dataset, optimizer, spec, fresh_dir), env=env, check=True, capture_output=True)
    uninterrupted, _ = _summary(fresh_dir)
    assert resumed == uninterrupted
    assert resumed["epochs"] == 40


def test_checkpoint_of_other_settings_is_not_resumed(iris_data, tmp_path):
    from neuroevo.config.run_spec import RunSpec, TrainingSettings
    from neuroevo.training.loop import train

    checkpoint = tmp_path / "checkpoint.pt"
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=3, patience=10))
    train(spec, iris_data, checkpoint, checkpoint_seconds=0)
    assert checkpoint.exists()
    other = RunSpec(
        "iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=3, patience=10), hyperparameters={"lr": 0.01}
    )
    summary, history = train(other, iris_data, checkpoint, checkpoint_seconds=0)
    assert not summary["resumed"] and len(history) == 4


def test_cuda_without_a_gpu_fails_before_training_with_a_clear_message(iris_data):
    import torch

    from neuroevo.config.run_spec import RunSpec, TrainingSettings
    from neuroevo.training.loop import train

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    with pytest.raises(RuntimeError, match="device 'cuda' was asked for, but no CUDA GPU is visible"):
        train(RunSpec("iris", "adam", 0, training=TrainingSettings(device="cuda")), iris_data)
