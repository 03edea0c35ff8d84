"""Checkpoints are data: every optimizer's state survives one exactly, a crafted file runs
no code, and anything that is not a checkpoint of this program is set aside, not resumed."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tool_environment

from neuroevo.data.prepare import load_prepared
from neuroevo.files.checkpoint import TAG, fingerprint, load_checkpoint, save_checkpoint
from neuroevo.models.problem import Problem
from neuroevo.optimizers import OPTIMIZERS, get_optimizer
from neuroevo.training import summary as loop

ENGINES = {  # the CMA-ES optimizers on each engine; iris' layers are small enough for pycma's full covariance
    "cmaes-pycma": ("cmaes", {"engine": "pycma"}),
    "cmaes-torch": ("cmaes", {"engine": "torch", "diagonal": True, "mirrored": True}),
    "layerwise-pycma": ("layerwise_cmaes", {}),
    "layerwise-torch": ("layerwise_cmaes", {"engine": "torch", "diagonal": True}),
    "es-sgd": ("es", {"inner": "sgd"}),
}
CASES = {name: (name, {}) for name in OPTIMIZERS} | ENGINES


def _settings(name, values, folder):
    if name == "evolved":
        from neuroevo.update_rules import PRIOR_GENOME

        PRIOR_GENOME.save(folder / "genome.json")
        values = values | {"genome_file": str(folder / "genome.json")}
    return values


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_optimizer_state_round_trips_exactly(case, iris_data, tmp_path):
    name, values = CASES[case]
    optimizer = get_optimizer(name)
    problem = Problem.from_data(load_prepared(iris_data), 8, "relu")
    state = optimizer.init(
        problem.initial_parameters(0), optimizer.make_hyperparameters(_settings(name, values, tmp_path)), problem, 0
    )
    batches = [problem.batch(torch.arange(15 * i, 15 * i + 15)) for i in range(6)]
    for batch in batches[:3]:
        optimizer.step(state, problem, batch)
    saved_counts = problem.counter.as_dict()
    save_checkpoint(tmp_path / "checkpoint.pt", {"run": case}, {"state": state, "counter": problem.counter})
    restored = load_checkpoint(tmp_path / "checkpoint.pt", {"run": case})
    assert restored is not None
    copy, numpy_state = restored["state"], np.random.get_state()  # pycma draws from numpy's global generator
    original_steps = [optimizer.step(state, problem, batch) for batch in batches[3:]]
    np.random.set_state(numpy_state)
    assert [optimizer.step(copy, problem, batch) for batch in batches[3:]] == original_steps  # bit for bit
    assert torch.equal(optimizer.parameters(state), optimizer.parameters(copy))
    assert restored["counter"].as_dict() == saved_counts != {"sample_evals": 0, "model_evals": 0, "grad_evals": 0}


SETTINGS = {"dataset": "iris", "seed": 0}
FINGERPRINT = fingerprint(SETTINGS)


class _Payload:
    """What an attacker puts in a pickle: unpickling it runs a shell command."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def _train(data, out_dir, *extra):
    spec = {"model": {"hidden": 8}, "training": {"max_epochs": 3, "patience": 10}}
    return subprocess.run(
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
            "sgd",
            "--seed",
            "0",
            "--spec",
            json.dumps(spec),
            "--out-dir",
            str(out_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=tool_environment(),
    )


def test_a_crafted_checkpoint_runs_no_code_and_is_set_aside(iris_data, tmp_path):
    out_dir, target = tmp_path / "run", tmp_path / "PWNED"
    out_dir.mkdir()
    # An old-style checkpoint (a pickled dict) whose payload would create a file when loaded.
    torch.save({"fingerprint": "anything", "state": _Payload(target)}, out_dir / "checkpoint.pt")
    result = _train(iris_data, out_dir)
    assert result.returncode == 0, result.stderr
    assert not target.exists()
    assert "ignoring checkpoint" in result.stderr and "starts over" in result.stderr
    assert json.loads((out_dir / "summary.json").read_text())["resumed"] is False
    assert [path.name.split(".unreadable-")[0] for path in out_dir.glob("checkpoint.pt.unreadable-*")] == [
        "checkpoint.pt"
    ]


@pytest.mark.parametrize(
    "content",
    [
        lambda path: torch.save(torch.zeros(3), path),  # loads, but is no checkpoint
        lambda path: path.write_bytes(b"\x80\x04truncated"),
        lambda path: (
            save_checkpoint(path, SETTINGS, {"state": torch.zeros(1000)}),
            path.write_bytes(path.read_bytes()[:900]),
        ),
        lambda path: path.write_bytes(os.urandom(4096)),
        # The right format and fingerprint, but a class no checkpoint may hold (no code runs: it is refused by name).
        lambda path: torch.save(
            {
                "format": "neuroevo-checkpoint-2",
                "fingerprint": FINGERPRINT,
                "tensors": [],
                "state": {TAG: "object", "class": "subprocess.Popen", "state": None},
            },
            path,
        ),
    ],
    ids=["tensor", "truncated", "torn-real-checkpoint", "random-bytes", "unregistered-class"],
)
def test_a_checkpoint_that_is_not_one_is_set_aside_and_the_run_starts_over(content, tmp_path, caplog):
    path = tmp_path / "checkpoint.pt"
    content(path)
    assert load_checkpoint(path, SETTINGS) is None
    assert not path.exists() and len(list(tmp_path.glob("checkpoint.pt.unreadable-*"))) == 1
    assert "ignoring checkpoint" in caplog.text


def test_the_fingerprint_is_compared_before_any_object_is_rebuilt(tmp_path, caplog):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"other": "settings"}, {"state": torch.zeros(2)})
    assert load_checkpoint(path, SETTINGS) is None
    assert path.exists()  # another run's checkpoint is left alone (the run replaces it)
    assert "written with other settings" in caplog.text


def test_a_state_the_codec_does_not_know_is_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="cannot store a .*_Payload"):
        save_checkpoint(tmp_path / "checkpoint.pt", SETTINGS, {"state": _Payload(tmp_path / "x")})
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_classes_are_stored_by_module_and_class_name_not_by_package_path(tmp_path):
    from neuroevo.files.checkpoint import SAFE_CLASSES
    from neuroevo.training.loop import EarlyStopping

    assert {"cmaes.State", "loop.EarlyStopping", "mlp.MLPSpec", "sgd.SGD"} <= set(SAFE_CLASSES)
    assert not [name for name in SAFE_CLASSES if name.startswith(("neuroevo.", "torch."))]
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, SETTINGS, {"stopping": EarlyStopping(3, 0.0, 1.0, torch.zeros(2))})
    assert _class_names(torch.load(path, weights_only=True)["state"]) == {"loop.EarlyStopping"}


def test_two_classes_of_one_stored_name_are_refused():
    from neuroevo.files.checkpoint import SAFE_CLASSES, checkpointable

    before = dict(SAFE_CLASSES)
    clash = type("State", (), {"__module__": "elsewhere.cmaes"})  # stored as cmaes.State, as the optimizer's is
    with pytest.raises(
        ValueError, match=r"elsewhere\.cmaes\.State and neuroevo\.optimizers\.cmaes\.State .* 'cmaes\.State'"
    ):
        checkpointable(clash)
    assert SAFE_CLASSES == before
    again = type("State", (), {"__module__": "neuroevo.optimizers.cmaes", "__qualname__": "State"})  # a reload
    try:
        assert checkpointable(again) is again
    finally:
        SAFE_CLASSES.clear()
        SAFE_CLASSES.update(before)


def _class_names(value) -> set[str]:
    """The class names an encoded state stores."""
    if isinstance(value, (list, tuple)):
        return set().union(*map(_class_names, value)) if value else set()
    if isinstance(value, dict):
        own = {value["class"]} if value.get(TAG) == "object" else set()
        return own.union(*map(_class_names, value.values()))
    return set()


def _renamed(value, old: str, new: str):
    """An encoded state with the class `old` stored as `new`."""
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    if isinstance(value, tuple):
        return tuple(_renamed(item, old, new) for item in value)
    if isinstance(value, dict):
        renamed = {key: _renamed(item, old, new) for key, item in value.items()}
        if value.get(TAG) == "object" and value["class"] == old:
            renamed["class"] = new
        return renamed
    return value


class _Killed(Exception):
    """Ends a run between two epochs, as a kill would (the tuner's pruning raises there too)."""


TIMINGS = (*loop.TIMING_KEYS, "resumed")


def _result(summary, history):
    return {key: value for key, value in summary.items() if key not in TIMINGS}, history.drop(
        columns=list(loop.TIMING_COLUMNS)
    )


def _killed_run(data, checkpoint):
    """A run's spec, and its checkpoint of epoch 2 at `checkpoint`, left by a kill in epoch 3."""
    from neuroevo.config.run_spec import RunSpec, TrainingSettings
    from neuroevo.training.loop import train

    spec = RunSpec("iris", "adam", 0, hidden=8, training=TrainingSettings(batch_size=16, max_epochs=6, patience=100))

    def kill_at_epoch_3(row):
        if row["epoch"] == 3:
            raise _Killed()

    with pytest.raises(_Killed):
        train(spec, data, checkpoint, checkpoint_seconds=0, on_epoch=kill_at_epoch_3)
    return spec


def test_a_checkpoint_naming_a_class_by_its_path_before_the_move_restarts_the_run(iris_data, tmp_path, caplog):
    """A checkpoint written before the stage layout names EarlyStopping `neuroevo.train.EarlyStopping`:
    the run sets it aside, says so naming the file, and ends as an uninterrupted run does."""
    import shutil

    from neuroevo.training.loop import train

    old, intact = tmp_path / "old" / "checkpoint.pt", tmp_path / "intact" / "checkpoint.pt"
    spec = _killed_run(iris_data, old)
    intact.parent.mkdir()
    shutil.copy(old, intact)
    record = torch.load(old, weights_only=True)
    assert "loop.EarlyStopping" in _class_names(record["state"])
    torch.save(record | {"state": _renamed(record["state"], "loop.EarlyStopping", "neuroevo.train.EarlyStopping")}, old)

    uninterrupted = _result(*train(spec, iris_data))
    resumed_summary, resumed_history = train(spec, iris_data, intact, checkpoint_seconds=3600)
    assert resumed_summary["resumed"]  # the checkpoint as written resumes ...
    restarted_summary, restarted_history = train(spec, iris_data, old, checkpoint_seconds=3600)
    assert not restarted_summary["resumed"]  # ... the one naming the old class starts over
    assert f"ignoring checkpoint {old} (malformed: it holds a 'neuroevo.train.EarlyStopping'" in caplog.text
    assert "the run starts over" in caplog.text
    assert len(list(old.parent.glob("checkpoint.pt.unreadable-*"))) == 1
    for summary, history in ((restarted_summary, restarted_history), (resumed_summary, resumed_history)):
        result, rows = _result(summary, history)
        assert result == uninterrupted[0] and result["epochs"] == 6
        pd.testing.assert_frame_equal(rows, uninterrupted[1])


def test_a_checkpoint_lacking_part_of_a_runs_state_restarts_the_run(iris_data, tmp_path, caplog):
    from neuroevo.training.loop import train

    checkpoint = tmp_path / "run" / "checkpoint.pt"
    spec = _killed_run(iris_data, checkpoint)
    record = torch.load(checkpoint, weights_only=True)
    items = [(key, value) for key, value in record["state"]["items"] if key != "stopping"]
    torch.save(record | {"state": record["state"] | {"items": items}}, checkpoint)  # decodes, but has no early stopping
    summary, history = train(spec, iris_data, checkpoint, checkpoint_seconds=3600)
    assert not summary["resumed"]
    assert f"ignoring checkpoint {checkpoint} (malformed: its state lacks stopping)" in caplog.text
    assert len(list(checkpoint.parent.glob("checkpoint.pt.unreadable-*"))) == 1
    assert _result(summary, history)[0] == _result(*train(spec, iris_data))[0]
