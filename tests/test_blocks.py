"""Runs in blocks (issue 16): a job trains consecutive seeds in one process, and everything a
user relies on per run stays: one run per job and blocks give the same results, a killed
block neither retrains its finished runs nor loses the one in flight, and seeds added to a
study add blocks without redoing the others."""

import json
import logging
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import snakemake, tool_environment
from test_resume import TIMING_KEYS
from test_workflow import block_kind, planned_jobs

from neuroevo.config.blocks import block_name, seed_blocks
from neuroevo.config.run_spec import RunSpec
from neuroevo.files.progress import Progress
from neuroevo.training.loop import train
from neuroevo.training.summary import without_timings


def test_seeds_are_cut_into_consecutive_blocks_and_added_seeds_form_new_ones():
    assert seed_blocks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert seed_blocks([100, 101, 102, 103], 10) == [[100, 101, 102, 103]]
    assert seed_blocks(list(range(4)), 1) == [[0], [1], [2], [3]]
    assert seed_blocks(list(range(9)), 3)[:2] == seed_blocks(list(range(6)), 3)  # the earlier blocks unchanged
    assert block_name("train", [0, 1, 2]) == "train_seeds_0_to_2"
    assert block_name("study_run", [4], "ga_gamma") == "study_run_ga_gamma_seeds_4"
    assert [block_kind(name) for name in ("train_seeds_0_to_2", "compare_run_small_seeds_1", "train", "tune")] == [
        "train",
        "compare_run",
        "train",
        "tune",
    ]
    with pytest.raises(ValueError, match="runs_per_job must be at least 1"):
        seed_blocks([0], 0)


# deep_ga draws each child from its own generator, cmaes (pycma) from numpy's global one, and
# each run trains on its own subsample: nothing may carry over from one run of a block to the next.
CONFIG = {
    "datasets": ["iris"],
    "optimizers": ["sgd", "cmaes", "deep_ga"],
    "seeds": 3,
    "model": {"hidden": 8},
    "training": {"batch_size": 16, "max_epochs": 8, "subsample": 60},
    "tuning": {"enabled": False},
    "discovery_enabled": False,
}


def _summaries(workdir):
    return {
        path.relative_to(workdir).as_posix(): {
            key: value for key, value in without_timings(json.loads(path.read_text())).items() if key not in TIMING_KEYS
        }
        for path in sorted((workdir / "results" / "runs").glob("*/*/*/summary.json"))
    }


def test_one_run_per_job_and_blocks_give_identical_results_and_added_seeds_add_blocks(tmp_path):
    results = {}
    for runs_per_job in (1, 3):
        configfile = tmp_path / f"config{runs_per_job}.yaml"
        configfile.write_text(yaml.safe_dump(CONFIG | {"runs_per_job": runs_per_job}))
        workdir = tmp_path / f"work{runs_per_job}"
        planned = planned_jobs(workdir, configfile=configfile, raw=True)
        expected = {"train_seeds_0": 3, "train_seeds_1": 3, "train_seeds_2": 3} if runs_per_job == 1 else {}
        assert {rule: n for rule, n in planned.items() if rule.startswith("train")} == (
            expected or {"train_seeds_0_to_2": 3}
        )
        snakemake(workdir, "--cores", "2", configfile=configfile)
        results[runs_per_job] = _summaries(workdir)
    assert len(results[3]) == 9 and results[1] == results[3]

    # Three more seeds: one new block per optimizer, the first block not redone.
    more = tmp_path / "more.yaml"
    more.write_text(yaml.safe_dump(CONFIG | {"runs_per_job": 3, "seeds": 6}))
    planned = planned_jobs(tmp_path / "work3", configfile=more, raw=True)
    assert {rule: n for rule, n in planned.items() if rule.startswith("train")} == {"train_seeds_3_to_5": 3}


def _block_command(data, runs_dir, seeds):
    spec = {"model": {"hidden": 16}, "training": {"batch_size": 16, "max_epochs": 30, "patience": 100}}
    return [
        *(sys.executable, "-m", "neuroevo", "train", "--data", str(data), "--dataset", "digits"),
        *("--optimizer", "cmaes", "--spec", json.dumps(spec), "--runs-dir", str(runs_dir)),
        *("--checkpoint-seconds", "0", "--seeds", *map(str, seeds)),
    ]


def test_a_killed_block_keeps_its_finished_runs_and_resumes_the_one_in_flight(digits_data, tmp_path):
    seeds, env = (0, 1, 2), tool_environment()
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _block_command(digits_data, killed, seeds), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not (killed / "1" / "checkpoint.pt").exists() and time.monotonic() < deadline:
        assert process.poll() is None, "the block ended before its second run's first checkpoint"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert (killed / "1" / "checkpoint.pt").exists(), "no checkpoint of the second run within 300 s"
    process.wait()
    first = (killed / "0" / "summary.json").read_text()
    assert not (killed / "1" / "summary.json").exists() and not (killed / "2" / "summary.json").exists()
    # What Snakemake does before it reruns an incomplete job: it deletes all the job's outputs.
    for seed in seeds:
        for name in ("summary.json", "history.parquet"):
            (killed / str(seed) / name).unlink(missing_ok=True)

    rerun = subprocess.run(_block_command(digits_data, killed, seeds), env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert (killed / "0" / "summary.json").read_text() == first  # restored as it was: not trained again
    assert "restored the finished result" in rerun.stderr and "resuming from checkpoint" in rerun.stderr
    assert json.loads((killed / "1" / "summary.json").read_text())["resumed"]

    fresh = tmp_path / "fresh"
    subprocess.run(_block_command(digits_data, fresh, seeds), env=env, check=True, capture_output=True)
    for seed in seeds:
        resumed, uninterrupted = (
            {
                key: value
                for key, value in without_timings(json.loads((folder / str(seed) / "summary.json").read_text())).items()
                if key not in TIMING_KEYS
            }
            for folder in (killed, fresh)
        )
        assert resumed == uninterrupted and resumed["epochs"] == 30


def test_progress_lines_come_at_the_interval_and_say_where_the_work_is(caplog):
    now = [0.0]
    progress = Progress(total=4, interval=30, clock=lambda: now[0])
    progress.begin(1, "seed 1")
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        for _ in range(100):  # 100 ticks over 99 s: a line at 30, 60 and 90 s, no more
            progress.tick(lambda: ("epoch 3 of 10", 0.5))
            now[0] += 1
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3
    # 1.5 of 4 runs done in 30 s: about 50 s left.
    assert lines[0] == "progress: run 2 of 4 (seed 1): epoch 3 of 10; 30 s elapsed, about 50 s left"


def test_a_run_logs_its_progress_while_it_trains(iris_data, caplog):
    spec = RunSpec.from_json("iris", "adam", 0, json.dumps({"training": {"max_epochs": 3, "batch_size": 16}}))
    with caplog.at_level(logging.INFO, logger="neuroevo"):
        train(spec, iris_data, progress=Progress(interval=0))
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("progress:")]
    assert len(lines) >= 3 * 6  # a line per minibatch at interval 0 (90 training examples / 16)
    assert "run 1 of 1: epoch 3 of 3, step" in lines[-1] and "best val_acc so far 0." in lines[-1]
    assert "elapsed, about" in lines[-1]


def test_a_run_that_fails_does_not_stop_the_block_and_the_job_fails_naming_it(iris_data, tmp_path, monkeypatch):
    from neuroevo.cli import commands
    from neuroevo.cli.parser import build_parser

    real = commands._run_training

    def failing_seed_1(args, spec, out_dir, data, progress):
        if spec.seed == 1:
            raise OSError("disk full")
        real(args, spec, out_dir, data, progress)

    monkeypatch.setattr(commands, "_run_training", failing_seed_1)
    spec = json.dumps({"training": {"max_epochs": 2}})
    args = build_parser().parse_args(
        ["train", "--data", str(iris_data), "--dataset", "iris", "--optimizer", "sgd", "--spec", spec]
        + ["--runs-dir", str(tmp_path), "--seeds", "0", "1", "2"]
    )
    with pytest.raises(RuntimeError, match=r"^1 of the block's 3 runs failed: seed 1 \(disk full\)"):
        args.func(args)
    assert [(tmp_path / seed / "summary.json").exists() for seed in "012"] == [True, False, True]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--seed", "0", "--runs-dir", "R"], "--seed needs --out-dir"),
        (["--seeds", "0", "1", "--out-dir", "R"], "--seeds needs --runs-dir"),
        (["--seeds", "0", "0", "--runs-dir", "R"], "--seeds: each seed once, got 0 0"),
        (["--seeds", "0", "-1", "--runs-dir", "R"], "argument --seeds: expected a non-negative integer, got '-1'"),
    ],
)
def test_a_bad_block_of_seeds_is_refused_by_flag(iris_data, tmp_path, arguments, message):
    command = [sys.executable, "-m", "neuroevo", "train", "--data", str(iris_data), "--dataset", "iris"]
    result = subprocess.run(
        command + ["--optimizer", "sgd", *arguments],
        capture_output=True,
        text=True,
        env=tool_environment(),
        cwd=tmp_path,
    )
    assert result.returncode != 0 and message in result.stderr
    assert not (tmp_path / "R").exists()
