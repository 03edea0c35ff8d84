"""Runs stop at their budget (sample evaluations or wall time) with status "budget" and a
message, and still report the best model so far."""

import math

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.training.loop import train


def test_sample_evaluation_budget_stops_the_run_within_one_step(iris_data):
    settings = TrainingSettings(batch_size=16, max_epochs=100, patience=100, max_sample_evals=500)
    summary, _ = train(RunSpec("iris", "es", 0, hidden=8, training=settings, hyperparameters={"pairs": 2}), iris_data)
    assert summary["status"] == "budget" and "500" in summary["message"]
    assert 500 <= summary["sample_evals"] < 500 + 4 * 16  # one step of 2 pairs on a batch of 16


def test_wall_time_budget_stops_the_run_at_the_first_epoch_end_past_it(iris_data):
    settings = TrainingSettings(batch_size=16, max_epochs=100_000, patience=100_000, max_seconds=0.5)
    summary, history = train(RunSpec("iris", "deep_ga", 0, hidden=8, training=settings), iris_data)
    assert summary["status"] == "budget" and "wall-time" in summary["message"]
    assert history["wall_s"].iloc[-1] >= 0.5 and history["wall_s"].iloc[-2] < 0.5
    assert math.isfinite(summary["test_acc"])
