"""Bad input to the command line is refused before any work, naming the key or flag; a
run folder has one writer; a folder that cannot be written fails before training; every
job's log starts with the command that reruns it."""

import json
import shlex
import subprocess
import sys

import pytest
from conftest import tool_environment, train_arguments

from neuroevo.cli import main
from neuroevo.files.atomic import folder_lock, write_atomic

GOOD_SPEC = {"model": {"hidden": 8}, "training": {"max_epochs": 2, "patience": 10}, "hyperparameters": {"lr": 0.1}}


def _train_args(data, out_dir, spec=GOOD_SPEC, optimizer="sgd", seed="0", dataset="iris", extra=()):
    return train_arguments(data, out_dir, spec, optimizer, seed, dataset, extra)


@pytest.mark.parametrize(
    "change, named",
    [
        ({"model": {"hiden": 8}}, "'model.hiden'"),
        ({"model": {"kind": "transformer"}}, "model.kind"),
        ({"model": {"hidden": 0}}, "model.hidden"),
        ({"model": {"activation": "gelu"}}, "model.activation"),
        ({"training": {"max_epoch": 2}}, "'training.max_epoch'"),
        ({"training": {"max_epochs": "two"}}, "training.max_epochs"),
        ({"training": {"max_epochs": 0}}, "training.max_epochs"),
        ({"training": {"max_epochs": 2.0}}, "training.max_epochs"),
        ({"training": {"batch_size": 0}}, "training.batch_size"),
        ({"training": {"patience": True}}, "training.patience"),
        ({"training": {"device": "tpu"}}, "training.device"),
        ({"training": {"max_seconds": -1}}, "training.max_seconds"),
        ({"hyperparameters": {"lrr": 0.1}}, "'hyperparameters.lrr'"),
        ({"hyperparameters": {"lr": -0.1}}, "hyperparameters.lr"),
        ({"hyperparameters": {"momentum": "high"}}, "hyperparameters.momentum"),
        ({"trainig": {}}, "'trainig'"),
        ('{"training": {"min_delta": NaN}}', "--spec: NaN is not a number JSON allows"),
        ('{"hyperparameters": {"lr": Infinity}}', "--spec: Infinity is not a number JSON allows"),
    ],
)
def test_a_malformed_spec_is_refused_by_key_before_any_work(change, named, iris_data, tmp_path, capsys):
    spec = (
        change
        if isinstance(change, str)
        else {key: GOOD_SPEC.get(key, {}) | change.get(key, {}) for key in {*GOOD_SPEC, *change}}
    )
    out_dir = tmp_path / "run"
    assert main(_train_args(iris_data, out_dir, spec)) == 1
    error = capsys.readouterr().err
    assert "error: --spec: " in error and named in error
    assert not out_dir.exists()  # refused before the run folder was made


@pytest.mark.parametrize(
    "arguments, named",
    [
        ({"spec": "{'model': {}}"}, "--spec: not valid JSON"),
        ({"spec": "[]"}, "--spec: the spec: [] is not of type 'object'"),
        ({"dataset": "irsi"}, "--dataset: unknown dataset 'irsi'"),
        ({"optimizer": "nadam"}, "--optimizer: unknown optimizer 'nadam'"),
        ({"dataset": "digits"}, "not the expected 'digits'"),  # iris' prepared file passed as digits
        (
            {"optimizer": "deep_ga", "spec": {"hyperparameters": {"fitness_batch": 100000}}},
            "fitness_batch 100000 is larger than the training set (90",
        ),
    ],
)
def test_bad_command_line_values_are_refused_by_name(arguments, named, iris_data, tmp_path, capsys):
    assert main(_train_args(iris_data, tmp_path / "run", **arguments)) == 1
    assert named in capsys.readouterr().err
    assert not (tmp_path / "run" / "summary.json").exists()


DATA_ARGS = ["data", "--dataset", "iris", "--out", "iris.npz"]
AGGREGATE_ARGS = ["aggregate", "--out-dir", "summary", "summary.json"]


@pytest.mark.parametrize(
    "flag, value, command",
    [
        ("--seed", "-1", None),
        ("--seed", "one", None),
        ("--checkpoint-seconds", "-5", None),
        ("--checkpoint-seconds", "nan", None),
        ("--val-fraction", "0.5", DATA_ARGS),
        ("--test-fraction", "nan", DATA_ARGS),
        ("--val-fraction", "-0.1", DATA_ARGS),
        ("--alpha", "0", AGGREGATE_ARGS),
        ("--alpha", "inf", AGGREGATE_ARGS),
    ],
)
def test_bad_numbers_on_the_command_line_are_refused_by_flag(flag, value, command, iris_data, tmp_path, capsys):
    if command:
        arguments = [*command, flag, value]
    else:
        arguments = _train_args(iris_data, tmp_path / "run", seed=value if flag == "--seed" else "0")
        if flag != "--seed":
            arguments += [flag, value]
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2
    assert f"argument {flag}: expected" in capsys.readouterr().err


def test_a_corrupt_tuning_result_is_refused_by_name(iris_data, tmp_path, capsys):
    tuned = tmp_path / "sgd.json"
    tuned.write_text('{"tuned_values": {"lr": 0.1')
    assert main(_train_args(iris_data, tmp_path / "run", extra=("--tuned", str(tuned)))) == 1
    assert f"--tuned {tuned}: not a tuning result" in capsys.readouterr().err
    tuned.write_text(json.dumps({"tuned_values": {"lrr": 0.1}}))
    assert main(_train_args(iris_data, tmp_path / "run", extra=("--tuned", str(tuned)))) == 1
    assert "'hyperparameters.lrr'" in capsys.readouterr().err


def test_a_second_writer_of_a_run_folder_is_refused_naming_the_first(iris_data, tmp_path, capsys):
    out_dir = tmp_path / "run"
    with folder_lock(out_dir):  # as a job still running after snakemake --unlock would
        assert main(_train_args(iris_data, out_dir)) == 1
        error = capsys.readouterr().err
        assert f"{out_dir} is being written by pid" in error and "wait for that job" in error
    assert not (out_dir / "summary.json").exists()
    assert main(_train_args(iris_data, out_dir)) == 0  # once the first writer is gone
    assert (out_dir / "summary.json").exists()
    assert not list(out_dir.glob("*.partial"))


def test_a_run_folder_that_cannot_be_written_fails_before_training(iris_data, tmp_path, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the run's folder should go")  # root ignores permissions; this it cannot write past
    out_dir = blocker / "iris" / "sgd" / "0"
    assert (
        main(_train_args(iris_data, out_dir, {**GOOD_SPEC, "training": {"max_epochs": 100000, "patience": 100000}}))
        == 1
    )
    assert "cannot write there" in capsys.readouterr().err  # at once: 100,000 epochs were never started


def test_a_failed_write_leaves_no_partial_file_and_the_old_file_intact(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("finished")

    def fail(partial):
        partial.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, fail)
    assert target.read_text() == "finished"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["summary.json"]


def test_every_log_starts_with_the_command_that_reruns_it(tmp_path):
    arguments = [
        "data",
        "--dataset",
        "mnist14",
        "--data-dir",
        str(tmp_path / "no data here"),
        "--out",
        str(tmp_path / "out.npz"),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "neuroevo", *arguments], capture_output=True, text=True, env=tool_environment()
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert " command: python -m neuroevo " in first
    assert shlex.split(first.split(" command: ", 1)[1]) == [
        "python",
        "-m",
        "neuroevo",
        *arguments,
    ]  # quoted for a shell


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["discover", "--study-json", "{tasks: []}", "--data", "digits=x.npz"], "--study-json: not valid JSON"),
        (
            ["discover", "--study-json", '{"tasks": [{"dataset": "digits", "model": "mlp"}]}', "--data", "digits"],
            "--data: expected DATASET=PATH",
        ),
        (
            ["study-alignment", "--data", "x.npz", "--settings", "[1]", "--out", "a.parquet"],
            "--settings: expected a JSON object",
        ),
        (
            [
                "tune",
                "--data",
                "x.npz",
                "--dataset",
                "iris",
                "--optimizer",
                "adam",
                "--search-space",
                "{lr}",
                "--storage",
                "j",
                "--out",
                "o.json",
                "--trials-out",
                "t.parquet",
            ],
            "--search-space: not valid JSON",
        ),
        (
            [
                "tune",
                "--data",
                "x.npz",
                "--dataset",
                "iris",
                "--optimizer",
                "adam",
                "--search-space",
                "{}",
                "--seeds",
                "1000,a",
                "--storage",
                "j",
                "--out",
                "o.json",
                "--trials-out",
                "t.parquet",
            ],
            "--seeds: expected comma-separated",
        ),
        (
            [
                "tune",
                "--data",
                "x.npz",
                "--dataset",
                "iris",
                "--optimizer",
                "adam",
                "--spec",
                '{"training": {"patience": 0}}',
                "--search-space",
                "{}",
                "--storage",
                "j",
                "--out",
                "o.json",
                "--trials-out",
                "t.parquet",
            ],
            "--spec: training.patience",
        ),
    ],
)
def test_bad_json_and_lists_on_other_commands_are_refused_by_flag(arguments, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if arguments[0] == "discover":
        arguments = [*arguments, "--out-dir", str(tmp_path / "study")]
    assert main(arguments) == 1
    assert named in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # refused before anything was written


def test_partial_files_a_killed_write_left_are_removed_by_the_next_writer(iris_data, tmp_path):
    out_dir = tmp_path / "run"
    (out_dir / "finished" / "old").mkdir(parents=True)
    leftovers = [out_dir / "summary.json.k2j3.partial", out_dir / "finished" / "old" / "history.parquet.x9.partial"]
    for path in leftovers:
        path.write_text("half a file")
    assert main(_train_args(iris_data, out_dir)) == 0
    assert not any(path.exists() for path in leftovers)
    assert not list(out_dir.rglob("*.partial"))
