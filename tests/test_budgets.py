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


def test_a_flop_budget_adds_the_equal_budget_arm_and_leaves_early_stopping_as_it_was(iris_data):
    """With budget_flops the run goes on past its patience to the budget; its early-stopping
    result is that of the same run without a budget, and the budget's end is read at the step
    that spends it."""
    from dataclasses import replace

    from neuroevo.training.summary import TIMING_KEYS

    early = TrainingSettings(batch_size=16, max_epochs=200, patience=3)
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=early, hyperparameters={"lr": 0.1})
    without, short_history = train(spec, iris_data)
    budget = 4.0e6
    with_budget, history = train(replace(spec, training=replace(early, budget_flops=budget)), iris_data)
    budget_keys = [key for key in with_budget if key.startswith("budget_")] + ["rungs"]
    assert {
        key: value
        for key, value in with_budget.items()
        if key not in [*TIMING_KEYS, *budget_keys, "training", "result_key"]
    } == {key: value for key, value in without.items() if key not in [*TIMING_KEYS, "training", "result_key"]}
    step = 3 * 16 * with_budget["forward_flops"]  # a gradient step on a full minibatch: three forwards
    assert with_budget["budget_status"] == "reached" and budget <= with_budget["budget_flops"] < budget + step
    assert [(rung["multiple"], rung["mark_flops"], rung["flops"]) for rung in with_budget["rungs"]] == [
        (1.0, budget, with_budget["budget_flops"])
    ]
    assert "rungs" not in without
    assert with_budget["status"] == "early_stopped" and len(history) > len(short_history)
    assert history["flops"].iloc[-1] == with_budget["budget_flops"]  # the run ends where the budget does
    best = history[history["flops"] <= with_budget["budget_flops"]]["val_loss"].min()
    assert with_budget["budget_best_val_loss"] <= best and with_budget["budget_epoch"] > with_budget["epochs"]


def test_a_flop_budget_with_a_budget_that_ends_runs_first_is_refused():
    import pytest

    from neuroevo.config.checks import SpecError

    with pytest.raises(SpecError, match="budget_flops .* cannot be combined with max_sample_evals"):
        TrainingSettings(budget_flops=1e6, max_sample_evals=1000)
