"""The equal-budget arm's ladder (issue 33): one run goes on to the top rung and scores its model
at the step that spends each rung's mark. A rung gives the model a run with that rung as its
whole budget ends with; a run killed between two rungs resumes to the same rungs; a run that
diverges records the rungs it did not reach as diverged; the summary lists the rungs in order,
its budget_* fields the top one's; a checkpoint whose rungs are not the ladder's is set aside."""

import json
import logging
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import tool_environment, train_arguments

from neuroevo.cli import main
from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.files.checkpoint import CheckpointError, _Decoder
from neuroevo.training.loop import train
from neuroevo.training.resumed import check_rungs
from neuroevo.training.summary import RUNG_KEYS, SCORE_KEYS, TIMING_COLUMNS, without_timings

# Everything of a rung but its timings: what two runs of one seed share.
SHARED = [key for key in RUNG_KEYS if key not in TIMING_COLUMNS]
LADDER = [0.25, 1.0, 4.0]


def _training(budget_flops, multiples, **extra) -> TrainingSettings:
    settings = {"batch_size": 16, "max_epochs": 20, "patience": 3} | extra
    return TrainingSettings(budget_flops=budget_flops, budget_multiples=multiples, **settings)


def _shared(rung: dict) -> dict:
    return {key: rung[key] for key in SHARED}


# The seven optimizers of the study, none with a budget-dependent schedule; B makes the top
# rung (4 B) a few hundred minibatch steps of the cheapest and a few dozen of the costliest.
OPTIMIZERS = ["sgd", "adam", "cmaes", "layerwise_cmaes", "es", "deep_ga", "pgpe"]
BASE_FLOPS = 1.0e6


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_rung_scores_the_model_a_run_with_that_rung_as_its_whole_budget_ends_with(optimizer, iris_data):
    """Rung 0.25 and rung 1 of one run are the budget ends of two runs of 0.25 B and B: the
    second also shows that scoring at the first mark left the run's trajectory as it was."""
    ladder = RunSpec("iris", optimizer, 1, hidden=8, training=_training(BASE_FLOPS, LADDER))
    summary, _ = train(ladder, iris_data)
    for rung, multiple in zip(summary["rungs"][:2], LADDER[:2], strict=True):
        alone_spec = RunSpec("iris", optimizer, 1, hidden=8, training=_training(BASE_FLOPS * multiple, [1.0]))
        alone, _ = train(alone_spec, iris_data)
        assert rung["status"] == alone["budget_status"] == "reached"
        for key in (*SCORE_KEYS, "epoch", "steps", "flops", "sample_evals", "model_evals", "grad_evals"):
            assert rung[key] == alone[f"budget_{key}"], (multiple, key)
        assert [_shared(end) for end in alone["rungs"]] == [_shared(rung) | {"multiple": 1.0}]
    # The rungs are read at three points of one trajectory: the work grows to the top mark's.
    assert summary["rungs"][0]["steps"] >= 1 and summary["rungs"][-1]["flops"] == summary["budget_flops"]
    assert len({rung["steps"] for rung in summary["rungs"]}) == 3


def _command(data, out_dir, spec):
    arguments = train_arguments(data, out_dir, spec, optimizer="adam", seed=2, extra=("--checkpoint-seconds", "0"))
    return [sys.executable, "-m", "neuroevo", *arguments]


def _checkpoint_rungs(path) -> list[dict] | None:
    """The rungs a checkpoint holds, or None while there is none (or it is being replaced)."""
    try:
        record = torch.load(path, weights_only=True)
        return _Decoder(record["tensors"]).decode(record["state"])["rungs"]
    except (OSError, RuntimeError, ValueError, KeyError, EOFError):
        return None


# A long way (about 120 epochs, each checkpointed) from the second rung to the top one: the kill lands between them.
LADDER_TRAINING = {"batch_size": 16, "max_epochs": 40, "patience": 100, "budget_flops": 2.0e5}
KILL_SPEC = {"model": {"hidden": 8}, "training": LADDER_TRAINING | {"budget_multiples": [0.5, 1, 24]}}


def test_a_run_killed_between_two_rungs_resumes_to_the_rungs_of_an_uninterrupted_one(iris_data, tmp_path):
    env, killed_dir = tool_environment(), tmp_path / "killed"
    process = subprocess.Popen(
        _command(iris_data, killed_dir, KILL_SPEC), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while not (_checkpoint_rungs(killed_dir / "checkpoint.pt") or []) and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before a checkpoint with a rung"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed_dir / "summary.json").exists()
    spent = _checkpoint_rungs(killed_dir / "checkpoint.pt")
    assert spent and 1 <= len(spent) < 3, "the kill did not land between two rungs"

    subprocess.run(_command(iris_data, killed_dir, KILL_SPEC), env=env, check=True, capture_output=True)
    resumed = json.loads((killed_dir / "summary.json").read_text())
    fresh_dir = tmp_path / "fresh"
    subprocess.run(_command(iris_data, fresh_dir, KILL_SPEC), env=env, check=True, capture_output=True)
    uninterrupted = json.loads((fresh_dir / "summary.json").read_text())
    assert resumed["resumed"] and not uninterrupted["resumed"]
    assert [_shared(rung) for rung in resumed["rungs"]] == [_shared(rung) for rung in uninterrupted["rungs"]]
    assert [rung["multiple"] for rung in resumed["rungs"]] == [0.5, 1.0, 24.0]
    assert [_shared(rung) for rung in spent] == [_shared(rung) for rung in uninterrupted["rungs"][: len(spent)]]
    # The rest of the summary too (the result key, of the code, aside: it is the checkpoint's business).
    ignored = {"resumed": False, "result_key": None}
    assert without_timings(resumed) | ignored == without_timings(uninterrupted) | ignored


def test_a_run_that_diverges_records_the_rungs_it_did_not_reach_as_diverged(iris_data):
    # lr 10: the model's loss explodes in epoch 1, after the first rung's 2 steps, before the others.
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=_training(1.0e4, [1, 4, 16]), hyperparameters={"lr": 10.0})
    summary, history = train(spec, iris_data)
    assert summary["status"] == "diverged"
    first, *later = summary["rungs"]
    assert first["status"] == "reached" and first["epoch"] < 1 and first["flops"] >= 1.0e4
    last = history.iloc[-1]  # the last model scored: the exploded one, as the equal-budget arm reads it
    for rung in later:
        assert rung["status"] == "diverged" and rung["epoch"] == float(last["epoch"]) == 1.0
        assert {key: rung[key] for key in SCORE_KEYS} == {key: last[key] for key in SCORE_KEYS}
        assert rung["flops"] < rung["mark_flops"]
    assert summary["budget_status"] == "diverged" and summary["budget_test_acc"] == later[-1]["test_acc"]
    # A loss that is not finite at the first step: no model after the initial one is scored.
    nan = RunSpec("iris", "sgd", 0, hidden=8, training=_training(1.0e6, [1, 4]), hyperparameters={"lr": 1e38})
    summary, history = train(nan, iris_data)
    assert [rung["status"] for rung in summary["rungs"]] == ["diverged", "diverged"]
    assert all(rung["epoch"] == 0.0 and rung["test_acc"] == history["test_acc"].iloc[0] for rung in summary["rungs"])


def test_the_summary_lists_the_rungs_in_order_and_its_budget_fields_are_the_top_ones(iris_data, tmp_path):
    # deep_ga spends 64 x 16 forwards a step: its one step past 1e6 FLOPs spends 1e6 and 1.01e6 both.
    spec = {
        "model": {"hidden": 8},
        "training": {"batch_size": 16, "patience": 2, "budget_flops": 1.0e6, "budget_multiples": [0.5, 1, 1.01, 3]},
    }
    out_dir = tmp_path / "run"
    assert main(train_arguments(iris_data, out_dir, spec, optimizer="deep_ga")) == 0
    summary = json.loads((out_dir / "summary.json").read_text(), parse_constant=pytest.fail)
    rungs = summary["rungs"]
    assert [sorted(rung) for rung in rungs] == [sorted(RUNG_KEYS)] * 4  # summary.json sorts its keys
    assert [rung["multiple"] for rung in rungs] == [0.5, 1.0, 1.01, 3.0]
    assert [rung["mark_flops"] for rung in rungs] == [5.0e5, 1.0e6, 1.01e6, 3.0e6]
    assert all(rung["status"] == "reached" and rung["flops"] >= rung["mark_flops"] for rung in rungs)
    assert _shared(rungs[1]) | {"multiple": 1.01, "mark_flops": 1.01e6} == _shared(rungs[2])  # one step, one scoring
    assert rungs[0]["steps"] < rungs[1]["steps"] < rungs[3]["steps"]
    top = rungs[-1]
    assert summary["budget_status"] == top["status"] and summary["budget_epoch"] == top["epoch"]
    assert summary["budget_train_time_s"] == top["train_s"] and summary["budget_wall_time_s"] == top["wall_s"]
    for key in ("steps", "flops", "sample_evals", "model_evals", "grad_evals", *SCORE_KEYS):
        assert summary[f"budget_{key}"] == top[key], key
    # The run went on to the top rung (3 B), whatever its patience: its last history row is there.
    assert summary["training"]["budget_multiples"] == [0.5, 1.0, 1.01, 3.0]
    assert summary["budget_flops"] >= 3.0e6 > rungs[2]["flops"]


class _Killed(Exception):
    pass


def _killed_run(spec, data, checkpoint):
    """Runs `spec` until it has a rung and a later epoch's checkpoint, then stops it as a kill would."""

    def on_epoch(row):
        if row["flops"] >= spec.training.budget_marks[0] * 2:
            raise _Killed

    with pytest.raises(_Killed):
        train(spec, data, checkpoint, checkpoint_seconds=0.0, on_epoch=on_epoch)
    assert checkpoint.exists()


def test_a_checkpoint_whose_rungs_are_not_the_ladders_is_set_aside_not_resumed(iris_data, tmp_path, caplog):
    run = RunSpec("iris", "sgd", 0, hidden=8, training=_training(1.0e5, [0.5, 1, 4]))
    other = RunSpec("iris", "sgd", 0, hidden=8, training=_training(1.0e5, [0.25, 1, 4]))
    _killed_run(run, iris_data, tmp_path / "run" / "checkpoint.pt")
    _killed_run(other, iris_data, tmp_path / "other" / "checkpoint.pt")
    record = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    forged = torch.load(tmp_path / "other" / "checkpoint.pt", weights_only=True) | {
        "fingerprint": record["fingerprint"]
    }
    torch.save(forged, tmp_path / "run" / "checkpoint.pt")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, _ = train(run, iris_data, tmp_path / "run" / "checkpoint.pt")
    assert not summary["resumed"]
    assert "does not fit this run" in caplog.text and "rungs' multiples and marks" in caplog.text
    assert list((tmp_path / "run").glob("checkpoint.pt.unreadable-*"))
    fresh, _ = train(run, iris_data)
    assert [_shared(rung) for rung in summary["rungs"]] == [_shared(rung) for rung in fresh["rungs"]]


@pytest.mark.parametrize(
    "rungs, budget, message",
    [
        ("rungs", None, "not a list"),
        ([[0.5, 5e4]], None, "not a list"),
        ([{"multiple": 0.5, "mark_flops": 5e4}] * 4, {}, "more than the ladder's 3 marks"),
        ([{"multiple": 1.0, "mark_flops": 1e5}], None, "not the ladder's in order"),
        ([{"multiple": 0.5, "mark_flops": 6e4}], None, "not the ladder's in order"),
        ([{"multiple": 0.5, "mark_flops": 5e4}], {"status": "reached"}, "end of the budget disagrees"),
        ([{"multiple": m, "mark_flops": m * 1e5} for m in (0.5, 1.0, 4.0)], None, "end of the budget disagrees"),
    ],
)
def test_rungs_that_do_not_fit_the_ladder_are_refused(rungs, budget, message):
    settings = _training(1.0e5, [0.5, 1, 4])
    with pytest.raises(CheckpointError, match=message):
        check_rungs(rungs, budget, settings)
    check_rungs([{"multiple": 0.5, "mark_flops": 5e4}], None, settings)  # a ladder's first rung fits
    check_rungs([], None, _training(None, [1.0]))  # a run without a budget has none
