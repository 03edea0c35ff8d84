"""The equal-budget ladder's configuration: bad ladders refused before any job naming the key,
B by rule resolved only from the budget job's file, the budget job itself, and the DAG it adds
(pilot runs -> budget -> the runs whose B the rule gives)."""

import json

import pytest
import yaml
from conftest import REPOSITORY, TINY_CONFIG, snakemake, train_arguments
from snakemake.utils import validate

from neuroevo.cli import main
from neuroevo.config import workflow as specs


def _config(**overrides) -> dict:
    """config.yaml with `overrides` merged into its blocks, validated as the Snakefile does."""
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text())
    for key, value in overrides.items():
        config[key] = config[key] | value if isinstance(value, dict) and isinstance(config.get(key), dict) else value
    validate(config, str(REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def _refused(config: dict, pattern: str) -> None:
    with pytest.raises(specs.ConfigError, match=pattern):
        specs.check_config(config, REPOSITORY)


@pytest.mark.parametrize(
    "multiples, pattern",
    [
        ([1, 4, 4], r"training.*: budget_multiples must be strictly increasing .* got \[1, 4, 4\]"),
        ([4, 1], r"training.*: budget_multiples must be strictly increasing"),
    ],
)
def test_a_ladder_that_does_not_climb_is_refused_naming_the_key(multiples, pattern):
    config = _config(training={"budget_multiples": multiples})
    _refused(config, pattern)


@pytest.mark.parametrize("multiples", [[0, 1], [-1, 1], []])
def test_zero_negative_or_empty_multiples_are_refused_by_the_schema(multiples):
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text())
    config["training"]["budget_multiples"] = multiples
    with pytest.raises(Exception, match="budget_multiples"):
        validate(config, str(REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"))


@pytest.mark.parametrize("key, value", [("max_steps", 100), ("max_seconds", 60), ("max_sample_evals", 1000)])
def test_a_ladder_with_a_run_ending_budget_is_refused(key, value):
    config = _config(dataset_overrides={"iris": {"budget_flops": "rule", key: value}})
    _refused(config, rf"dataset_overrides.iris: budget_flops .* cannot be combined with {key}")
    config = _config(training={key: value, "budget_multiples": [1, 2]})
    config["dataset_overrides"] = {}  # no B anywhere: the ladder alone clashes
    _refused(config, rf"training: budget_multiples cannot be combined with {key}")


def test_a_rule_without_a_gradient_optimizer_and_a_primary_rung_off_the_ladder_are_refused():
    _refused(_config(optimizers=["cmaes", "pgpe"]), r'dataset_overrides.iris.budget_flops: "rule" .* has none')
    _refused(
        _config(report={"primary_endpoint": 16}),
        r"report.primary_endpoint: 16 is not a rung of fashion_mnist14's ladder .*budget_multiples: \[0.25, 1.0, 4.0\]",
    )
    specs.check_config(_config(report={"primary_endpoint": 4}), REPOSITORY)  # a rung of every ladder


def test_a_top_rung_beyond_the_bound_is_refused():
    config = _config(dataset_overrides={"iris": {"budget_flops": 1e15}}, training={"budget_multiples": [1, 64]})
    _refused(config, r"dataset_overrides.iris: budget_flops x the top rung .* 6.4e\+16 FLOPs")


def test_a_study_cannot_take_the_rule_or_a_ladder(tmp_path):
    study = yaml.safe_load((REPOSITORY / "tests" / "tiny" / "studies" / "tiny.yaml").read_text())
    for training, key in (
        ({"budget_flops": "rule"}, "budget_flops"),
        ({"budget_multiples": [1, 4]}, "budget_multiples"),
    ):
        (tmp_path / "ruled.yaml").write_text(yaml.safe_dump(study | {"training": training}))
        with pytest.raises(specs.ConfigError, match=rf"ruled.yaml: training.{key}: "):
            specs.load_study({"study_dir": str(tmp_path)}, "ruled", REPOSITORY)


def test_pilot_and_tuning_specs_never_carry_the_equal_budget_arm():
    config = _config()
    for job_spec in (
        specs.early_stopping_spec(config, "digits", "sgd"),
        specs.early_stopping_spec(config, "iris", "cmaes"),
    ):
        training = json.loads(job_spec)["training"]
        assert training["budget_flops"] is None and training["budget_multiples"] == [1]
    assert json.loads(specs.run_spec(config, "digits", "sgd"))["training"]["budget_flops"] == "rule"
    assert specs.gradient_optimizers(config) == ["sgd", "adam"]
    settings = json.loads(specs.budget_job_spec(config, "digits"))
    assert settings == {
        "fraction": 0.5,
        "margin": 0.01,
        "multiples": [0.25, 1.0, 4.0, 16.0],
        "hand_flops": None,
        "run_minutes": 10,
    }


def _rule_spec(**training) -> dict:
    return {"model": {"hidden": 8}, "training": {"max_epochs": 3, "budget_flops": "rule", **training}}


def test_train_refuses_a_rule_budget_without_its_file_and_a_file_of_other_rungs(iris_data, tmp_path, capsys):
    assert main(train_arguments(iris_data, tmp_path / "run", _rule_spec())) == 1
    assert 'training.budget_flops is "rule": give --budget FILE' in capsys.readouterr().err
    budget = tmp_path / "iris.json"
    budget.write_text("{torn")
    arguments = train_arguments(iris_data, tmp_path / "run", _rule_spec(), extra=("--budget", str(budget)))
    assert main(arguments) == 1
    assert str(budget) in capsys.readouterr().err
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.fixture(scope="module")
def pilot_runs(iris_data, tmp_path_factory):
    """Three sgd pilot runs on iris under early stopping (as the pilot rule trains them)."""
    root = tmp_path_factory.mktemp("pilot")
    spec = {"model": {"hidden": 8}, "training": {"max_epochs": 30, "batch_size": 16}}
    for seed in range(3):
        assert main(train_arguments(iris_data, root / str(seed), spec, seed=str(seed))) == 0
    return [root / str(seed) / "summary.json" for seed in range(3)]


def _budget_arguments(pilot, out, **settings) -> list[str]:
    values = {"fraction": 0.5, "margin": 0.01, "multiples": [0.25, 1, 4], "hand_flops": None, "run_minutes": 10}
    return ["budget", "--dataset", "iris", "--pilot", *map(str, pilot), "--settings", json.dumps(values | settings)]


def test_the_budget_job_writes_b_and_the_runs_read_their_rungs_from_it(pilot_runs, iris_data, tmp_path):
    out = tmp_path / "iris.json"
    assert main([*_budget_arguments(pilot_runs, out), "--out", str(out)]) == 0
    budget = json.loads(out.read_text())
    assert budget["source"] == "rule" and budget["cheapest"] == "sgd" and budget["base_flops"] == budget["rule_flops"]
    assert budget["marks"] == [budget["base_flops"] * value for value in (0.25, 1, 4)]
    run = tmp_path / "run"
    spec = _rule_spec(budget_multiples=[0.25, 1, 4])
    assert main(train_arguments(iris_data, run, spec, extra=("--budget", str(out)))) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["training"]["budget_flops"] == budget["base_flops"]
    assert [rung["mark_flops"] for rung in summary["rungs"]] == budget["marks"]
    # A file of other rungs than the spec's is refused, naming it.
    other = _rule_spec(budget_multiples=[1, 16])
    assert main(train_arguments(iris_data, tmp_path / "other", other, extra=("--budget", str(out)))) == 1


def test_a_hand_set_budget_keeps_its_b_and_shows_the_rules(pilot_runs, tmp_path):
    out = tmp_path / "iris.json"
    assert main([*_budget_arguments(pilot_runs, out, hand_flops=2.5e6), "--out", str(out)]) == 0
    budget = json.loads(out.read_text())
    assert budget["source"] == "hand" and budget["base_flops"] == 2.5e6 and budget["rule_flops"] > 0


def test_a_top_rung_longer_than_a_cluster_run_is_refused_before_any_run(pilot_runs, tmp_path, capsys):
    out = tmp_path / "iris.json"
    arguments = _budget_arguments(pilot_runs, out, multiples=[1, 1e6], run_minutes=1)
    assert main([*arguments, "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "training.budget_multiples of iris: a run of the top rung (1e+06x B" in error
    assert "cluster.run_minutes" in error and not out.exists()


def test_the_rule_adds_pilot_and_budget_jobs_that_the_runs_wait_for(tmp_path):
    ruled = tmp_path / "ruled.yaml"
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["dataset_overrides"]["iris"]["budget_flops"] = "rule"
    ruled.write_text(yaml.safe_dump(config))
    output = snakemake(tmp_path, "--dry-run", "--printshellcmds", configfile=ruled).stdout
    assert "python -m neuroevo budget --dataset iris" in output
    assert "--budget results/budget/iris.json" in output
    assert "results/pilot/iris/sgd" in output and "results/pilot/iris/cmaes" not in output
