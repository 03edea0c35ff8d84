import dataclasses

import jsonschema
import pytest
import yaml

from conftest import REPOSITORY, snakemake
from neuroevo.data.datasets import DATASETS
from neuroevo.optimizers import OPTIMIZERS
from neuroevo.config.run_spec import TrainingSettings

SCHEMA = yaml.safe_load((REPOSITORY / "workflow" / "schemas" / "config.schema.yaml").read_text())


@pytest.mark.parametrize(
    "config, key, problem",
    [
        ("optimizers: [sgd, nadam]", "['optimizers'][1]", "'nadam' is not one of"),
        ("datasets: [iris, imagenet]", "['datasets'][1]", "'imagenet' is not one of"),
        ("optimizer_settings: {cmaes: {popsize: -4}}", "['optimizer_settings']['cmaes']['popsize']", "-4 is less than the minimum"),
        ("optimizer_settings: {sgd: {lrr: 0.1}}", "['optimizer_settings']['sgd']", "'lrr' was unexpected"),
        ("trainig: {batch_size: 8}", "", "'trainig' was unexpected"),
        ("discovery_enabled: maybe", "['discovery_enabled']", "'maybe' is not of type 'boolean'"),
        ("cluster: {gpu_partition: [gpu]}", "['cluster']['gpu_partition']", "is not of type 'string', 'null'"),
    ],
)
def test_bad_config_is_refused_before_any_job_with_the_key_named(config, key, problem, tmp_path):
    configfile = tmp_path / "config.yaml"
    configfile.write_text(config + "\n")
    result = snakemake(tmp_path, "--dry-run", configfile=configfile, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Error validating config file" in output
    assert problem in output and f"On instance{key}" in output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "config, message",
    [
        ("training: {batch_size: 32.0}", "config: training.batch_size: 32.0 is not of type 'integer'"),
        ("seeds: 3.0", "config: seeds: 3.0 is not valid under any of the given schemas"),
        ("training: {min_delta: .nan}", "config: training.min_delta: NaN and infinity are not allowed"),
        ("optimizer_settings: {cmaes: {sigma0: .inf}}", "config: optimizer_settings.cmaes.sigma0: NaN and infinity"),
    ],
)
def test_what_json_schema_lets_through_but_a_job_would_fail_on_is_refused_by_key(config, message, tmp_path):
    configfile = tmp_path / "config.yaml"
    configfile.write_text(config + "\n")
    result = snakemake(tmp_path, "--dry-run", configfile=configfile, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def _enum(schema_part):
    return set(schema_part["items"]["enum"])


def test_schema_enums_match_the_registries():
    assert _enum(SCHEMA["properties"]["datasets"]) == set(DATASETS)
    assert _enum(SCHEMA["properties"]["optimizers"]) == set(OPTIMIZERS)
    assert set(SCHEMA["properties"]["optimizer_settings"]["properties"]) == set(OPTIMIZERS)


def _properties(schema_part):
    if "$ref" in schema_part:
        schema_part = SCHEMA["$defs"][schema_part["$ref"].split("/")[-1]]
    return schema_part["properties"]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_block_mirrors_its_hyperparameters_dataclass(name):
    block = _properties(SCHEMA["properties"]["optimizer_settings"]["properties"][name])
    defaults = {field.name: field.default for field in dataclasses.fields(OPTIMIZERS[name].hyperparameters)}
    assert {key: value["default"] for key, value in block.items()} == defaults


def test_training_block_mirrors_training_settings():
    block = _properties(SCHEMA["properties"]["training"])
    defaults = {field.name: field.default for field in dataclasses.fields(TrainingSettings)}
    assert {key: value["default"] for key, value in block.items()} == defaults


SHIPPED_CONFIGS = sorted((REPOSITORY / "config").glob("*.yaml")) + sorted((REPOSITORY / "tests" / "tiny").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_CONFIGS + [REPOSITORY / "config.yaml"], ids=lambda path: path.name)
def test_shipped_configs_are_valid(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
