"""The tuning stage: it finds better settings, resumes a killed study, never tunes on
evaluation seeds, and refuses bad search spaces before any job starts."""

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace

import optuna
import pytest
from conftest import snakemake, tool_environment

from neuroevo.config.run_spec import RunSpec, TrainingSettings
from neuroevo.training.loop import train
from neuroevo.training.tune import tune

LR_SPACE = {"lr": {"distribution": "log_uniform", "low": 0.01, "high": 1.0}}
SETTINGS = TrainingSettings(batch_size=16, max_epochs=20, patience=3)


def test_tuning_beats_a_deliberately_bad_learning_rate(iris_data, tmp_path):
    bad = RunSpec("iris", "sgd", 0, hidden=8, training=SETTINGS, hyperparameters={"lr": 1e-4})
    result, trials = tune(
        bad, iris_data, LR_SPACE, seeds=[1000, 1001], trials=4, storage_path=tmp_path / "s.journal", startup_trials=2
    )
    bad_loss = (
        sum(
            train(RunSpec("iris", "sgd", seed, hidden=8, training=SETTINGS, hyperparameters={"lr": 1e-4}), iris_data)[
                0
            ]["val_loss"]
            for seed in (1000, 1001)
        )
        / 2
    )
    assert result["objective"] < 0.5 * bad_loss
    assert 0.01 <= result["tuned_values"]["lr"] <= 1.0
    assert result["n_complete"] == 4 and result["n_trials"] == len(trials) >= 4  # pruned trials do not count
    assert result["flops"] >= 4 * 2 * 3 * 16 * 2 * (4 * 8 + 8 * 3)  # at least a step per completed trial and seed


def test_two_optimizers_with_one_search_space_are_not_tried_at_the_same_values(iris_data, tmp_path):
    """The sampler's seed is derived from the study seed, the dataset and the optimizer."""
    space = {"lr": {"distribution": "log_uniform", "low": 0.001, "high": 0.3}}
    values = {}
    for optimizer in ("adam", "rmsprop"):
        spec = RunSpec("iris", optimizer, 0, hidden=8, training=replace(SETTINGS, max_epochs=2))
        result, trials = tune(spec, iris_data, space, [1000], 2, tmp_path / f"{optimizer}.journal", startup_trials=2)
        values[optimizer] = (result["sampler_seed"], list(trials["params_lr"]))
    assert values["adam"][0] != values["rmsprop"][0] and values["adam"][1] != values["rmsprop"][1]


def _tune_command(data, tmp_path, trials):
    spec = json.dumps({"model": {"hidden": 8}, "training": {"batch_size": 16, "max_epochs": 30}})
    return [
        sys.executable,
        "-m",
        "neuroevo",
        "tune",
        "--data",
        str(data),
        "--dataset",
        "iris",
        "--optimizer",
        "adam",
        "--spec",
        spec,
        "--search-space",
        json.dumps(LR_SPACE),
        "--trials",
        str(trials),
        "--startup-trials",
        "2",
        "--storage",
        str(tmp_path / "adam.journal"),
        "--out",
        str(tmp_path / "adam.json"),
        "--trials-out",
        str(tmp_path / "adam.parquet"),
    ]


def _finished_trials(journal):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    names = optuna.get_all_study_names(storage)
    if not names:
        return []
    study = optuna.load_study(study_name=names[0], storage=storage)
    return [
        t for t in study.get_trials() if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]


def test_killed_tuning_job_continues_with_its_finished_trials(iris_data, tmp_path):
    process = subprocess.Popen(
        _tune_command(iris_data, tmp_path, 30),
        env=tool_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_finished_trials(tmp_path / "adam.journal")) < 2:
        assert process.poll() is None, "the tuning job ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = _finished_trials(tmp_path / "adam.journal")
    before = {t.number: t.params for t in finished}
    completed = sum(t.state == optuna.trial.TrialState.COMPLETE for t in finished)
    assert 2 <= len(before) < 30 and not (tmp_path / "adam.json").exists()

    subprocess.run(
        _tune_command(iris_data, tmp_path, completed + 2), env=tool_environment(), check=True, capture_output=True
    )
    result = json.loads((tmp_path / "adam.json").read_text())
    assert result["n_complete"] == completed + 2  # the count continues: only 2 more completed trials ran
    after = {t.number: t.params for t in _finished_trials(tmp_path / "adam.journal")}
    assert all(after[number] == params for number, params in before.items())  # finished trials kept


@pytest.mark.parametrize(
    "config, message",
    [
        (
            "tuning: {search_spaces: {sgd: {lr: {distribution: log_uniform, low: 1.0, high: 0.1}}}}",
            "tuning.search_spaces.sgd.lr: low (1.0) is greater than high (0.1)",
        ),
        (
            "tuning: {search_spaces: {adam: {lr: {distribution: log_uniform, low: 0, high: 0.1}}}}",
            "tuning.search_spaces.adam.lr: a log distribution needs positive bounds",
        ),
        (
            "tuning: {search_spaces: {cmaes: {sigma0: {distribution: gaussian, low: 0.1, high: 1}}}}",
            "'gaussian' is not one of",
        ),
        (
            "tuning: {search_spaces: {sgd: {beta1: {distribution: uniform, low: 0.5, high: 0.9}}}}",
            "tuning.search_spaces.sgd.beta1: 'beta1' is not a hyperparameter of optimizer 'sgd'",
        ),
        ("seeds: 10\ntuning: {seeds: [3, 1000]}", "tuning.seeds [3] are also evaluation seeds"),
    ],
)
def test_bad_tuning_config_is_refused_before_any_job(config, message, tmp_path):
    configfile = tmp_path / "config.yaml"
    configfile.write_text("datasets: [iris]\n" + config + "\n")
    result = snakemake(tmp_path, "--dry-run", configfile=configfile, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_changing_a_search_space_reruns_only_that_optimizers_tuning_and_training(tmp_path):
    from test_workflow import planned_jobs

    base = "datasets: [iris]\noptimizers: [sgd, adam]\nseeds: 2\nmodel: {hidden: 8}\ntraining: {max_epochs: 5}\n"
    configfile = tmp_path / "config.yaml"
    configfile.write_text(base + "tuning: {trials_per_dimension: 2, startup_trials: 1}\n")
    snakemake(tmp_path, "--cores", "2", configfile=configfile)
    report = (tmp_path / "results" / "report" / "report.md").read_text()
    assert "| sgd | lr = " in report and "| adam | lr = " in report  # tuned values reported
    used = json.loads((tmp_path / "results" / "tuning" / "iris" / "adam.json").read_text())["tuned_values"]["lr"]
    summary = json.loads((tmp_path / "results" / "runs" / "iris" / "adam" / "0" / "summary.json").read_text())
    assert summary["hyperparameters"]["lr"] == used  # training took the tuned value

    edited = tmp_path / "edited.yaml"
    edited.write_text(
        base + "tuning:\n  trials_per_dimension: 2\n  startup_trials: 1\n  search_spaces:\n"
        "    adam: {lr: {distribution: log_uniform, low: 0.001, high: 0.05}}\n"
    )
    assert planned_jobs(tmp_path, configfile=edited) == {
        "tune": 1,
        "train": 1,  # adam's block of seeds 0 and 1
        "aggregate": 1,
        "report_figures": 1,
        "report": 1,
        "all": 1,
    }
