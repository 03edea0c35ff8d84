"""A results tree received from someone else is data: links planted in it never make a job
write, truncate or delete anything outside it, and kept results and checkpoints are used
only when their content is the run's (issue 32, items 1-6)."""

import json
import logging

import pandas as pd
import pytest
import torch
from conftest import train_arguments

from neuroevo.cli import main
from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.training import finished
from neuroevo.training.finished import write_run
from neuroevo.training.loop import train

SPEC = {"model": {"hidden": 8}, "training": {"max_epochs": 3, "patience": 10}, "hyperparameters": {"lr": 0.1}}


def _train_args(data, out_dir, seed=0, spec=SPEC):
    return train_arguments(data, out_dir, spec, seed=seed)


def _tune_args(data, folder):
    return [
        "tune",
        "--data",
        str(data),
        "--dataset",
        "iris",
        "--optimizer",
        "sgd",
        "--spec",
        json.dumps({"model": {"hidden": 4}, "training": {"max_epochs": 2, "patience": 10}}),
        "--search-space",
        json.dumps({"lr": {"distribution": "log_uniform", "low": 0.01, "high": 0.3}}),
        "--seeds",
        "1000",
        "--trials",
        "1",
        "--startup-trials",
        "1",
        "--storage",
        str(folder / "sgd.journal"),
        "--out",
        str(folder / "sgd.json"),
        "--trials-out",
        str(folder / "sgd.trials.parquet"),
    ]


# 1. Journal repair


def test_a_torn_journal_repair_never_writes_through_a_planted_partial_link(iris_data, tmp_path):
    folder, outside = tmp_path / "tuning", tmp_path / "home"
    folder.mkdir()
    outside.mkdir()
    (folder / "sgd.journal").write_bytes(b"echo pwned")  # torn: no newline at its end
    (folder / "sgd.journal.bak.partial").symlink_to(outside / ".bash_aliases")  # dangling: created if followed
    assert main(_tune_args(iris_data, folder)) == 0
    assert not (outside / ".bash_aliases").exists()
    assert (folder / "sgd.journal.bak").read_bytes() == b"echo pwned"  # the original is kept, inside
    assert json.loads((folder / "sgd.json").read_text())["tuned_values"]


def test_a_journal_that_is_a_link_is_refused_and_its_target_left_whole(iris_data, tmp_path, capsys):
    folder = tmp_path / "tuning"
    folder.mkdir()
    victim = tmp_path / "thesis.tex"
    victim.write_bytes(b"\\chapter{Results}\nmonths of work")  # no newline at its end: would be cut back
    (folder / "sgd.journal").symlink_to(victim)
    assert main(_tune_args(iris_data, folder)) == 1
    error = capsys.readouterr().err
    assert "sgd.journal" in error and "symbolic link" in error and "move it aside" in error
    assert victim.read_bytes() == b"\\chapter{Results}\nmonths of work"


# 2. finished/ as a link


def test_a_finished_link_deletes_nothing_outside_the_run_folder(iris_data, tmp_path):
    run_dir, home = tmp_path / "run", tmp_path / "home"
    (home / "thesis").mkdir(parents=True)
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("key")
    run_dir.mkdir()
    (run_dir / "finished").symlink_to(home)
    assert main(_train_args(iris_data, run_dir)) == 0
    assert (home / "thesis").is_dir() and (home / ".ssh" / "id_ed25519").read_text() == "key"
    assert sorted(path.name for path in home.iterdir()) == [".ssh", "thesis"]  # nothing written there either
    assert (run_dir / "finished").is_dir() and not (run_dir / "finished").is_symlink()
    assert list((run_dir / "finished").glob("*/summary.json"))  # the result is kept inside


def test_a_kept_folder_that_is_a_link_is_neither_followed_nor_emptied(iris_data, tmp_path):
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    (outside / "data").mkdir(parents=True)
    (run_dir / "finished").mkdir(parents=True)
    (run_dir / "finished" / "old-key").symlink_to(outside)  # another key's folder: keep() drops those
    assert main(_train_args(iris_data, run_dir)) == 0
    assert (outside / "data").is_dir()
    assert not (run_dir / "finished" / "old-key").exists()  # the link went, not its target


# 3. .lock as a link


def test_a_lock_file_that_is_a_link_overwrites_nothing(iris_data, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "b" / "0"
    run_dir.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (run_dir / ".lock").symlink_to(victim)
    assert main(_train_args(iris_data, run_dir)) == 1
    error = capsys.readouterr().err
    assert ".lock" in error and "symbolic link" in error and "remove it" in error
    assert victim.read_text() == "precious\n"
    assert not (run_dir / "summary.json").exists()  # refused before any work


def test_a_journal_writer_lock_that_is_a_link_overwrites_nothing(iris_data, tmp_path):
    folder = tmp_path / "tuning"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (folder / "sgd.journal.writer.lock").symlink_to(victim)
    assert main(_tune_args(iris_data, folder)) == 1
    assert victim.read_text() == "precious\n"


# 4. Cleanup removes only the job's own partials


def test_train_removes_only_its_own_partial_files(iris_data, tmp_path):
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    (run_dir / "notes").mkdir(parents=True)
    outside.mkdir()
    foreign = [run_dir / "draft.partial", run_dir / "notes" / "summary.json.abc123.partial", outside / "x.partial"]
    for path in foreign:
        path.write_text("someone else's")
    (run_dir / "linked").symlink_to(outside)
    own = [run_dir / "summary.json.k2j3ab_9.partial", run_dir / "checkpoint.pt.zz01.partial"]
    for path in own:
        path.write_text("half a file")
    assert main(_train_args(iris_data, run_dir)) == 0
    assert all(path.read_text() == "someone else's" for path in foreign)
    assert not any(path.exists() for path in own)


# 5. Kept results verified by content


def _finished_run(iris_data, run_dir, seed=0):
    spec = RunSpec("iris", "sgd", seed, hidden=8, training=TrainingSettings(max_epochs=3, patience=10))
    summary, history = train(spec, iris_data, run_dir / "checkpoint.pt")
    write_run(summary, history, run_dir)
    return spec, summary, run_dir / "finished" / summary["result_key"]


def _retrained(spec, iris_data, run_dir, caplog):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, history = train(spec, iris_data, run_dir / "checkpoint.pt")
    restored = "restored the finished result" in caplog.text
    return summary, history, restored, caplog.text


def test_a_kept_result_with_an_edited_score_is_set_aside_and_the_run_trains_anew(iris_data, tmp_path, caplog):
    spec, summary, kept = _finished_run(iris_data, tmp_path / "run")
    assert _retrained(spec, iris_data, tmp_path / "run", caplog)[2]  # untouched: restored
    edited = json.loads((kept / "summary.json").read_text()) | {"test_acc": 0.999}
    (kept / "summary.json").write_text(json.dumps(edited))
    again, _, restored, text = _retrained(spec, iris_data, tmp_path / "run", caplog)
    assert not restored and again["test_acc"] == summary["test_acc"] != 0.999
    assert f"ignoring kept result {kept}" in text and "test_acc" in text and "training again" in text
    assert list(kept.parent.glob(f"{kept.name}.unreadable-*/summary.json"))  # set aside for inspection


def test_another_seeds_kept_history_is_not_restored_as_this_seeds(iris_data, tmp_path, caplog):
    spec, summary, kept = _finished_run(iris_data, tmp_path / "run0", seed=0)
    _, _, other = _finished_run(iris_data, tmp_path / "run1", seed=1)
    (kept / "history.parquet").write_bytes((other / "history.parquet").read_bytes())
    again, history, restored, text = _retrained(spec, iris_data, tmp_path / "run0", caplog)
    assert not restored and "seed" in text
    assert (history["epoch"] >= 0).all() and again["seed"] == 0 and again["test_acc"] == summary["test_acc"]


def test_another_seeds_kept_summary_is_not_restored_as_this_seeds(iris_data, tmp_path, caplog):
    spec, summary, kept = _finished_run(iris_data, tmp_path / "run0", seed=0)
    _, other_summary, other = _finished_run(iris_data, tmp_path / "run1", seed=1)
    swapped = other_summary | {"result_key": summary["result_key"]}  # the folder's key, forged
    (kept / "summary.json").write_text(json.dumps(swapped))
    (kept / "history.parquet").write_bytes((other / "history.parquet").read_bytes())
    again, _, restored, text = _retrained(spec, iris_data, tmp_path / "run0", caplog)
    assert not restored and "seed" in text and again["seed"] == 0


def test_a_kept_summary_missing_fields_is_set_aside_not_fatal(iris_data, tmp_path, caplog):
    spec, summary, kept = _finished_run(iris_data, tmp_path / "run")
    (kept / "summary.json").write_text(json.dumps({"result_key": summary["result_key"]}))
    again, _, restored, text = _retrained(spec, iris_data, tmp_path / "run", caplog)
    assert not restored and "lacks dataset" in text and again["test_acc"] == summary["test_acc"]


def test_a_kept_result_of_other_hyperparameters_under_this_key_is_not_restored(iris_data, tmp_path, caplog):
    spec, summary, kept = _finished_run(iris_data, tmp_path / "run")
    forged = json.loads((kept / "summary.json").read_text())
    forged["hyperparameters"]["lr"] = 0.5
    (kept / "summary.json").write_text(json.dumps(forged))
    _, _, restored, text = _retrained(spec, iris_data, tmp_path / "run", caplog)
    assert not restored and "hyperparameters.lr" in text


def test_a_kept_summary_that_is_a_link_to_a_device_is_not_read(iris_data, tmp_path, caplog):
    spec, summary, kept = _finished_run(iris_data, tmp_path / "run")
    (kept / "summary.json").unlink()
    (kept / "summary.json").symlink_to("/dev/zero")  # read through, it would never end
    again, _, restored, text = _retrained(spec, iris_data, tmp_path / "run", caplog)
    assert not restored and "symbolic link" in text and again["test_acc"] == summary["test_acc"]


# 6. Checkpoints verified by content, fingerprinted with the code


class _Killed(Exception):
    pass


def _killed_after(epochs):
    def on_epoch(row):
        if row["epoch"] >= epochs:
            raise _Killed

    return on_epoch


def _killed_run(spec, data, run_dir, epochs=2):
    with pytest.raises(_Killed):
        train(spec, data, run_dir / "checkpoint.pt", checkpoint_seconds=0.0, on_epoch=_killed_after(epochs))
    assert (run_dir / "checkpoint.pt").exists()


def test_a_checkpoint_of_another_model_under_this_runs_fingerprint_is_set_aside(digits_data, tmp_path, caplog):
    training = TrainingSettings(max_epochs=3, patience=10, batch_size=64)
    mlp = RunSpec("digits", "adam", 0, hidden=8, training=training)
    cnn = RunSpec(
        "digits", "adam", 0, model="cnn", training=TrainingSettings(max_epochs=50, patience=100, subsample=64)
    )
    _killed_run(mlp, digits_data, tmp_path / "mlp")
    _killed_run(cnn, digits_data, tmp_path / "cnn", epochs=5)
    mlp_record = torch.load(tmp_path / "mlp" / "checkpoint.pt", weights_only=True)
    forged = torch.load(tmp_path / "cnn" / "checkpoint.pt", weights_only=True) | {
        "fingerprint": mlp_record["fingerprint"]
    }
    torch.save(forged, tmp_path / "mlp" / "checkpoint.pt")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, _ = train(mlp, digits_data, tmp_path / "mlp" / "checkpoint.pt")
    assert not summary["resumed"] and summary["epochs"] <= 3
    assert "does not fit this run" in caplog.text and "parameters" in caplog.text
    assert list((tmp_path / "mlp").glob("checkpoint.pt.unreadable-*"))
    fresh, _ = train(mlp, digits_data, tmp_path / "fresh" / "checkpoint.pt")
    assert summary["test_acc"] == fresh["test_acc"]


def test_a_checkpoint_with_more_epochs_than_max_epochs_is_set_aside(iris_data, tmp_path, caplog):
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=3, patience=10))
    long = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=400, patience=1000))
    _killed_run(spec, iris_data, tmp_path / "run", epochs=2)
    _killed_run(long, iris_data, tmp_path / "long", epochs=373)
    record = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    forged = torch.load(tmp_path / "long" / "checkpoint.pt", weights_only=True) | {"fingerprint": record["fingerprint"]}
    torch.save(forged, tmp_path / "run" / "checkpoint.pt")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, history = train(spec, iris_data, tmp_path / "run" / "checkpoint.pt")
    assert not summary["resumed"] and summary["epochs"] == 3 and len(history) == 4
    assert "more than max_epochs 3" in caplog.text


def test_a_checkpoint_written_by_other_code_is_not_resumed(iris_data, tmp_path, monkeypatch, caplog):
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=4, patience=10))
    _killed_run(spec, iris_data, tmp_path / "run", epochs=2)
    monkeypatch.setattr(finished, "source_digest", lambda: "pgpe.py edited after the kill")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, _ = train(spec, iris_data, tmp_path / "run" / "checkpoint.pt")
    assert not summary["resumed"] and "ignoring checkpoint" in caplog.text and "another version" in caplog.text


def test_a_checkpoint_of_the_same_code_still_resumes(iris_data, tmp_path):
    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=4, patience=10))
    _killed_run(spec, iris_data, tmp_path / "run", epochs=2)
    resumed, history = train(spec, iris_data, tmp_path / "run" / "checkpoint.pt")
    straight, straight_history = train(spec, iris_data, tmp_path / "straight" / "checkpoint.pt")
    assert resumed["resumed"] and resumed["test_acc"] == straight["test_acc"]
    pd.testing.assert_frame_equal(
        history.drop(columns=["wall_s", "train_s"]), straight_history.drop(columns=["wall_s", "train_s"])
    )


# Review round: what else a received tree held


def test_a_run_folder_that_is_a_link_is_refused_and_its_target_untouched(iris_data, tmp_path, capsys):
    runs_dir, outside = tmp_path / "runs", tmp_path / "outside" / "proj"
    (outside / "finished" / "mydata").mkdir(parents=True)
    (outside / "finished" / "mydata" / "notes.txt").write_text("mine")
    runs_dir.mkdir()
    (runs_dir / "0").symlink_to(outside)
    arguments = _train_args(iris_data, runs_dir)
    arguments[arguments.index("--seed") : arguments.index("--seed") + 2] = ["--seeds", "0", "1"]
    arguments[arguments.index("--out-dir")] = "--runs-dir"
    assert main(arguments) == 1
    assert "0: a symbolic link where a run's folder belongs" in capsys.readouterr().err
    assert (outside / "finished" / "mydata" / "notes.txt").read_text() == "mine"
    assert sorted(path.name for path in outside.iterdir()) == ["finished"]


def _encoded_tensor_index(encoded, name):
    """The tensor-table index of the entry `name` in a checkpoint's encoded state."""
    if isinstance(encoded, (list, tuple)):
        if len(encoded) == 2 and encoded[0] == name and isinstance(encoded[1], dict):
            return encoded[1]["index"]
        items = encoded
    elif isinstance(encoded, dict):
        items = encoded.values()
    else:
        return None
    for item in items:
        found = _encoded_tensor_index(item, name)
        if found is not None:
            return found
    return None


def test_a_checkpoint_whose_adam_moments_are_too_short_is_set_aside_not_run(iris_data, tmp_path, caplog):
    """A fused Adam step on a shortened exp_avg corrupted the heap (malloc_consolidate)."""
    spec = RunSpec("iris", "adam", 0, hidden=8, training=TrainingSettings(max_epochs=4, patience=10))
    _killed_run(spec, iris_data, tmp_path / "run", epochs=2)
    record = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    index = _encoded_tensor_index(record["state"], "exp_avg")
    record["tensors"][index] = record["tensors"][index][:-1].clone()
    torch.save(record, tmp_path / "run" / "checkpoint.pt")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, _ = train(spec, iris_data, tmp_path / "run" / "checkpoint.pt")
    assert not summary["resumed"] and "exp_avg is not of its parameters' shape" in caplog.text


@pytest.mark.parametrize("kind", ["zip bomb", "fifo", "folder", "link"])
def test_a_checkpoint_that_is_no_file_or_a_bomb_is_set_aside_unread(kind, iris_data, tmp_path, caplog):
    import os
    import zipfile

    spec = RunSpec("iris", "sgd", 0, hidden=8, training=TrainingSettings(max_epochs=2, patience=10))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    checkpoint = run_dir / "checkpoint.pt"
    if kind == "zip bomb":  # 10 MB of zeros in a few kilobytes: torch.save never compresses
        with zipfile.ZipFile(checkpoint, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("archive/data/0", bytes(10_000_000))
    elif kind == "fifo":
        os.mkfifo(checkpoint)  # read, it would wait for a writer forever
    elif kind == "folder":
        checkpoint.mkdir()
    else:
        (tmp_path / "secret").write_text("outside")
        checkpoint.symlink_to(tmp_path / "secret")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        summary, _ = train(spec, iris_data, checkpoint)
    assert not summary["resumed"] and "not a checkpoint of this program" in caplog.text
    why = {"zip bomb": "compressed entries", "fifo": "not a regular file", "folder": "not a regular file"}
    assert why.get(kind, "symbolic link") in caplog.text  # refused before torch.load read it
    assert list(run_dir.glob("checkpoint.pt.unreadable-*"))


def test_a_kept_history_that_would_decode_to_gigabytes_is_set_aside_undecoded(iris_data, tmp_path, caplog):
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec, summary, kept = _finished_run(iris_data, tmp_path / "run")
    pq.write_table(pa.table({"epoch": pa.array([0] * 2_000_000, pa.int8())}), kept / "history.parquet")
    assert (kept / "history.parquet").stat().st_size < 100_000
    again, _, restored, text = _retrained(spec, iris_data, tmp_path / "run", caplog)
    assert not restored and "2,000,000 rows" in text and again["test_acc"] == summary["test_acc"]


def test_the_aggregate_refuses_a_summary_linked_to_a_device(tmp_path):
    from neuroevo.analysis.runs import load_summary
    from neuroevo.files.errors import CorruptFileError

    (tmp_path / "summary.json").symlink_to("/dev/zero")
    with pytest.raises(CorruptFileError, match="summary.json: .*not a regular file"):
        load_summary(tmp_path / "summary.json")


def test_a_layerwise_kept_result_is_restored(iris_data, tmp_path, caplog):
    """Its summary holds per-layer lists (mirrored, engine) where the settings hold one value."""
    spec = RunSpec("iris", "layerwise_cmaes", 0, hidden=8, training=TrainingSettings(max_epochs=2, patience=10))
    summary, history = train(spec, iris_data, tmp_path / "run" / "checkpoint.pt")
    write_run(summary, history, tmp_path / "run")
    again, _, restored, _ = _retrained(spec, iris_data, tmp_path / "run", caplog)
    assert restored and again == json.loads((tmp_path / "run" / "summary.json").read_text())


def test_a_file_where_finished_belongs_is_set_aside_not_fatal(iris_data, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "finished").write_text("not a folder")
    assert main(_train_args(iris_data, run_dir)) == 0
    assert list((run_dir / "finished").glob("*/summary.json"))
    assert [path.read_text() for path in run_dir.glob("finished.unreadable-*")] == ["not a folder"]


def test_a_journal_line_of_deeply_nested_brackets_is_refused_naming_the_file(iris_data, tmp_path, capsys):
    folder = tmp_path / "tuning"
    folder.mkdir()
    (folder / "sgd.journal").write_bytes(b"[" * 200_000 + b"\n")
    assert main(_tune_args(iris_data, folder)) == 1
    assert "sgd.journal: line 1 is not a complete Optuna journal record" in capsys.readouterr().err


def test_a_lock_file_hard_linked_elsewhere_is_refused(iris_data, tmp_path, capsys):
    import os

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.link(victim, run_dir / ".lock")
    assert main(_train_args(iris_data, run_dir)) == 1
    assert "hard link" in capsys.readouterr().err and victim.read_text() == "precious\n"
