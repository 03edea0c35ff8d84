"""A network per dataset (model_overrides) and tuning on some datasets only (tuning.datasets):
what lets one study climb the budget ladder with the MLP on the small datasets and the CNN
on images, and what the report then says about each dataset's network and tuning."""

import json

import pytest
import yaml
from conftest import REPOSITORY, TINY_CONFIG, snakemake, train_arguments
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from neuroevo.analysis.aggregate import aggregate
from neuroevo.cli import main
from neuroevo.config import studies
from neuroevo.config import workflow as specs
from neuroevo.report.render import render_report, untuned_datasets

SCHEMA = str(REPOSITORY / "workflow" / "schemas" / "config.schema.yaml")
TEMPLATE = REPOSITORY / "report" / "templates" / "report.md.j2"


def _config(**overrides) -> dict:
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text())
    for key, value in overrides.items():
        config[key] = config[key] | value if isinstance(value, dict) and isinstance(config.get(key), dict) else value
    validate(config, SCHEMA)
    return config


def test_one_dataset_runs_the_cnn_untuned_while_the_others_keep_the_tuned_mlp(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config |= {
        "datasets": ["iris", "digits"],
        "optimizers": ["sgd", "cmaes"],
        "model_overrides": {"digits": {"kind": "cnn"}},
    }
    config["tuning"] = {"enabled": True, "datasets": ["iris"], "trials_per_dimension": 1}
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(config))
    output = snakemake(tmp_path, "--dry-run", "--printshellcmds", configfile=path).stdout
    commands = [line for line in output.splitlines() if "python -m neuroevo train" in line and "results/runs/" in line]
    digits = [line for line in commands if "--dataset digits" in line]
    iris = [line for line in commands if "--dataset iris" in line]
    assert len(digits) == 2 and len(iris) == 2
    assert all('"kind": "cnn"' in line and "--tuned" not in line for line in digits)
    assert all('"kind"' not in line and '"hidden": 8' in line and "--tuned" in line for line in iris)
    assert "results/tuning/iris/sgd.json" in output and "results/tuning/digits/" not in output


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"model_overrides": {"iris": {"kind": "cnn"}}}, r"model_overrides\.iris\.kind: cnn needs square images"),
        ({"model": {"kind": "cnn"}}, r"model\.kind: cnn needs square images and iris is not images"),
    ],
)
def test_the_cnn_on_a_dataset_that_is_not_images_is_refused_naming_the_key(overrides, pattern):
    with pytest.raises(specs.ConfigError, match=pattern):
        specs.check_config(_config(**overrides), REPOSITORY)


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"model_overrides": {"digits": {"kind": "resnet"}}}, r"'resnet' is not one of \['mlp', 'cnn'\]"),
        ({"model_overrides": {"digits": {"width": 3}}}, r"\('width' was unexpected\)"),
        ({"model_overrides": {"imagenet": {"kind": "cnn"}}}, r"'imagenet' is not one of"),
        ({"tuning": {"datasets": ["imagenet"]}}, r"'imagenet' is not one of"),
    ],
)
def test_the_schema_refuses_an_unknown_model_key_or_kind_and_an_unknown_dataset(overrides, pattern):
    with pytest.raises(WorkflowError, match=pattern):
        _config(**overrides)


def test_a_dataset_override_back_to_the_mlp_lifts_a_global_cnn():
    config = _config(model={"kind": "cnn"}, model_overrides={"iris": {"kind": "mlp"}})
    specs.check_config(config, REPOSITORY)  # iris's MLP; digits and fashion_mnist14 are images
    assert specs.run_settings(config, "iris", "sgd")["model"]["kind"] == "mlp"
    assert specs.run_settings(config, "digits", "sgd")["model"]["kind"] == "cnn"


def test_settings_layer_the_dataset_model_and_tuning_follows_its_datasets():
    config = _config(model_overrides={"fashion_mnist": {"kind": "cnn"}}, tuning={"datasets": ["digits"]})
    cnn = specs.run_settings(config, "fashion_mnist", "pgpe")["model"]
    assert cnn == {"hidden": 16, "activation": "relu", "kind": "cnn"}
    assert specs.run_settings(config, "digits", "pgpe")["model"] == {"hidden": 16, "activation": "relu"}
    assert specs.early_stopping_settings(config, "fashion_mnist", "sgd")["model"] == cnn  # pilots and tuning too
    assert specs.tuned(config, "adam", "digits") and not specs.tuned(config, "adam", "fashion_mnist")
    assert specs.tuned(config, "adam")  # on one of `datasets`
    # A subset of the datasets that tuning.datasets does not meet: nothing tuned, nothing refused.
    subset = config | {"datasets": ["iris"]}
    specs.check_config(subset, REPOSITORY)
    assert not specs.tuned(subset, "adam") and not specs.tuned(subset, "adam", "iris")
    assert not specs.tuned(config | {"tuning": config["tuning"] | {"datasets": []}}, "adam", "digits")
    # A study says its own network: the main runs' overrides are not its.
    study = {"dataset": "fashion_mnist", "variants": {"a": {"optimizer": "adam"}}}
    assert "kind" not in studies.run_spec(study, "a", config)["model"]
    assert studies.run_spec(study | {"model": {"kind": "cnn"}}, "a", config)["model"]["kind"] == "cnn"


def test_a_stand_in_takes_the_datasets_model_and_tuning():
    config = _config(
        datasets=["mnist14"], model_overrides={"mnist14": {"kind": "cnn"}}, tuning={"datasets": ["mnist14"]}
    )
    config["audit"] = {"stand_ins": {"mnist14": "fashion_mnist14"}}
    assert specs.apply_stand_ins(config, lambda name: False) == {"mnist14": "fashion_mnist14"}
    assert specs.run_settings(config, "fashion_mnist14", "sgd")["model"]["kind"] == "cnn"
    assert specs.tuned(config, "sgd", "fashion_mnist14")


def test_deep_ga_search_space_is_checked_only_where_it_is_tuned():
    space = {"fitness_batch": {"distribution": "int", "low": 16, "high": 100000}}
    config = _config(
        datasets=["iris", "digits"], optimizers=["sgd", "deep_ga"], tuning={"search_spaces": {"deep_ga": space}}
    )
    with pytest.raises(specs.ConfigError, match=r"tuning.search_spaces.deep_ga.fitness_batch.high"):
        specs.check_config(config, REPOSITORY)
    config["tuning"]["datasets"] = []  # tuned nowhere: its space is never tried
    specs.check_config(config, REPOSITORY)


def test_a_cnn_run_climbs_the_ladder_and_the_report_names_each_network(digits_data, iris_data, tmp_path):
    training = {"batch_size": 64, "max_epochs": 2, "budget_flops": 2.0e7, "budget_multiples": [0.5, 1, 2]}
    cnn = {"model": {"kind": "cnn"}, "training": training, "hyperparameters": {"popsize": 8}}
    mlp = {"model": {"hidden": [8, 4], "activation": "tanh"}, "training": training | {"budget_flops": 2.0e4}}
    runs = {"digits": tmp_path / "runs" / "digits", "iris": tmp_path / "runs" / "iris"}
    for (dataset, out), data, spec in zip(runs.items(), (digits_data, iris_data), (cnn, mlp), strict=True):
        assert main(train_arguments(data, out, spec | {"hyperparameters": {"popsize": 8}}, "pgpe", "0", dataset)) == 0
    summary = json.loads((runs["digits"] / "summary.json").read_text())
    assert summary["model"]["kind"] == "cnn" and [rung["multiple"] for rung in summary["rungs"]] == [0.5, 1, 2]
    assert all(rung["flops"] >= 2.0e7 * rung["multiple"] for rung in summary["rungs"])

    config = _config(datasets=["iris", "digits"], tuning={"datasets": ["iris"]})
    assert untuned_datasets(config) == ["digits"]
    assert untuned_datasets(config | {"tuning": config["tuning"] | {"enabled": False}}) == []
    aggregate([out / "summary.json" for out in runs.values()], tmp_path / "summary")
    render_report(tmp_path / "summary", TEMPLATE, config, tmp_path / "report.md", REPOSITORY)
    text = (tmp_path / "report.md").read_text()
    digits = text.split("\n## digits\n")[1].split("\n## ")[0]
    network = "CNN (two 3x3 convolutions with max pooling, then a linear classifier)"
    assert (
        f"\nModel: {network}, {summary['n_parameters']:,} parameters; {summary['n_train']:,} training examples per run.\n"
        in digits
    )
    assert "\nNot tuned on this dataset (`tuning.datasets`): every optimizer runs its `optimizer_settings`" in digits
    iris = text.split("\n## iris\n")[1].split("\n## ")[0]
    assert "\nModel: MLP with 8-4 hidden units per layer (tanh), " in iris and "Not tuned" not in iris
