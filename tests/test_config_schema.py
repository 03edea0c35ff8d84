import copy
import dataclasses

import jsonschema
import pytest
import yaml
from conftest import REPOSITORY, snakemake

from neuroevo.config.checks import OPTIMIZERS_SCHEMA_PATH, SCHEMA_PATH, config_schema, resolved
from neuroevo.config.discovery import compared
from neuroevo.config.names import DATASET_NAMES
from neuroevo.config.run_spec import TrainingSettings
from neuroevo.data.datasets import DATASETS
from neuroevo.optimizers import OPTIMIZERS
from neuroevo.optimizers.schema import schema_text

SCHEMA = config_schema()  # config.schema.yaml with optimizers.schema.yaml written in
STUDY_SCHEMA_PATH = REPOSITORY / "workflow" / "schemas" / "study.schema.yaml"


@pytest.mark.parametrize(
    "config, key, problem",
    [
        ("optimizers: [sgd, nadam]", "['optimizers'][1]", "'nadam' is not one of"),
        ("datasets: [iris, imagenet]", "['datasets'][1]", "'imagenet' is not one of"),
        (
            "optimizer_settings: {cmaes: {popsize: -4}}",
            "['optimizer_settings']['cmaes']['popsize']",
            "-4 is less than the minimum",
        ),
        ("optimizer_settings: {sgd: {lrr: 0.1}}", "['optimizer_settings']['sgd']", "'lrr' was unexpected"),
        ("trainig: {batch_size: 8}", "", "'trainig' was unexpected"),
        ("discovery_enabled: maybe", "['discovery_enabled']", "'maybe' is not of type 'boolean'"),
        ("cluster: {gpu_partition: [gpu]}", "['cluster']['gpu_partition']", "is not of type 'string', 'null'"),
        ("runs_per_job: 0", "['runs_per_job']", "0 is less than the minimum of 1"),
        ("runs_per_job: -3", "['runs_per_job']", "-3 is less than the minimum of 1"),
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
        ("runs_per_job: 5.0", "config: runs_per_job: 5.0 is not of type 'integer'"),
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


def test_the_written_optimizer_schema_is_fresh():
    assert OPTIMIZERS_SCHEMA_PATH.read_text() == schema_text(), (
        f"{OPTIMIZERS_SCHEMA_PATH} is stale: it differs from what the optimizer registry writes; run `python -m neuroevo schema`"
    )


def test_schema_enums_match_the_registries():
    assert DATASET_NAMES == tuple(DATASETS)
    assert SCHEMA["properties"]["datasets"]["items"]["enum"] == list(DATASETS)
    assert SCHEMA["properties"]["optimizers"]["items"]["enum"] == list(OPTIMIZERS)
    assert list(SCHEMA["properties"]["optimizer_settings"]["properties"]) == list(OPTIMIZERS)
    assert list(SCHEMA["properties"]["tuning"]["properties"]["search_spaces"]["properties"]) == list(OPTIMIZERS)
    assert compared() == tuple(name for name, spec in OPTIMIZERS.items() if spec.kind == "gradient")


def _enums(node, where=""):
    """(where, enum) of every enum in a schema as written."""
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield where, node["enum"]
        for key, value in node.items():
            yield from _enums(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _enums(value, f"{where}[{index}]")


@pytest.mark.parametrize("path", [SCHEMA_PATH, STUDY_SCHEMA_PATH], ids=lambda path: path.name)
def test_the_names_of_datasets_and_optimizers_are_written_once(path):
    """Only optimizers.schema.yaml lists them; the hand-written schemas refer to it."""
    names = set(DATASET_NAMES) | set(OPTIMIZERS)
    lists = [where for where, enum in _enums(yaml.safe_load(path.read_text())) if names & set(map(str, enum))]
    assert lists == [], (
        f"{path.name} lists dataset or optimizer names at {lists}; refer to optimizers.schema.yaml's $defs instead"
    )


def test_the_study_schema_takes_the_config_schemas_datasets():
    study = resolved(yaml.safe_load(STUDY_SCHEMA_PATH.read_text()), STUDY_SCHEMA_PATH)
    assert study["properties"]["dataset"]["enum"] == list(DATASETS)


def _refs(node):
    if isinstance(node, dict):
        yield from [node["$ref"]] if "$ref" in node else []
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_resolved_schema_is_one_dict():
    written = list(_refs(yaml.safe_load(SCHEMA_PATH.read_text())))
    assert any(ref.startswith("optimizers.schema.yaml#") for ref in written)
    assert [
        ref for ref in _refs(SCHEMA) if not ref.startswith("#/$defs/")
    ] == []  # only refs into its own $defs are left
    assert resolved(SCHEMA) == SCHEMA


def test_snakemake_fills_in_the_defaults_of_the_referenced_file():
    """The Snakefile's validate follows config.schema.yaml's $refs into optimizers.schema.yaml
    and fills in the defaults there, as it did when the blocks were in one file."""
    from snakemake.utils import validate

    config = {"dataset_overrides": {"digits": {"batch_size": 32}}, "optimizer_settings": {"cmaes": {"sigma0": 0.05}}}
    validate(config, str(SCHEMA_PATH))
    defaults = {
        name: {field.name: field.default for field in dataclasses.fields(spec.hyperparameters)}
        for name, spec in OPTIMIZERS.items()
    }
    assert config["optimizer_settings"] == defaults | {"cmaes": defaults["cmaes"] | {"sigma0": 0.05}}
    assert config["tuning"]["search_spaces"] == {name: spec.search_space for name, spec in OPTIMIZERS.items()}
    assert config["dataset_overrides"] == {"digits": {"batch_size": 32}}  # an override gets no defaults
    assert config["discovery"] == {} and config["report"]["targets"] == {}


def _filling_validator(schema):
    """A validator that fills in defaults as Snakemake's validate does (jsonschema's FAQ recipe)."""
    base = jsonschema.Draft202012Validator

    def properties(validator, properties, instance, schema):
        for key, subschema in properties.items():
            if "default" in subschema and isinstance(instance, dict):
                instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": properties})(schema)


SHIPPED_STUDIES = sorted((REPOSITORY / "config" / "studies").glob("*.yaml")) + sorted(
    (REPOSITORY / "tests" / "tiny" / "studies").glob("*.yaml")
)


@pytest.mark.parametrize(
    "path, schema_path",
    [(REPOSITORY / "config.yaml", SCHEMA_PATH), (None, SCHEMA_PATH)]
    + [(path, STUDY_SCHEMA_PATH) for path in SHIPPED_STUDIES],
    ids=lambda value: value.name if value else "empty",
)
def test_the_resolved_schema_fills_in_what_snakemake_fills_in_from_the_files(path, schema_path):
    from snakemake.utils import validate

    instance = yaml.safe_load(path.read_text()) if path else {}
    by_snakemake, by_resolved = copy.deepcopy(instance), copy.deepcopy(instance)
    validate(by_snakemake, str(schema_path))
    _filling_validator(resolved(yaml.safe_load(schema_path.read_text()), schema_path)).validate(by_resolved)
    assert by_resolved == by_snakemake


def test_training_overrides_take_the_training_keys_without_their_defaults():
    training = SCHEMA["$defs"]["training"]["properties"]
    overrides = SCHEMA["$defs"]["training_overrides"]["properties"]
    assert list(overrides) == list(training)
    assert all(value == {"$ref": f"#/$defs/training/properties/{key}"} for key, value in overrides.items())
    refused = copy.deepcopy(SCHEMA) | {"properties": {"override": {"$ref": "#/$defs/training_overrides"}}}
    errors = list(jsonschema.Draft202012Validator(refused).iter_errors({"override": {"batch_size": 0}}))
    assert [error.message for error in errors] == ["0 is less than the minimum of 1"]  # the training key's bound


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
    defaults = {
        field.name: field.default_factory() if field.default is dataclasses.MISSING else field.default
        for field in dataclasses.fields(TrainingSettings)
    }
    assert {key: value["default"] for key, value in block.items()} == defaults


SHIPPED_CONFIGS = sorted((REPOSITORY / "config").glob("*.yaml")) + sorted(
    (REPOSITORY / "tests" / "tiny").glob("*.yaml")
)


@pytest.mark.parametrize("path", SHIPPED_CONFIGS + [REPOSITORY / "config.yaml"], ids=lambda path: path.name)
def test_shipped_configs_are_valid(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)


def test_the_schema_command_writes_the_file_and_its_check_names_a_stale_one(tmp_path, capsys):
    from neuroevo.cli import main

    out = tmp_path / "optimizers.schema.yaml"
    assert main(["schema", "--check", "--out", str(out)]) == 1  # missing
    assert f"{out} is stale" in capsys.readouterr().err
    assert main(["schema", "--out", str(out)]) == 0
    assert out.read_text() == OPTIMIZERS_SCHEMA_PATH.read_text()
    assert main(["schema", "--check", "--out", str(out)]) == 0
    out.write_text(out.read_text().replace("default: 0.1}", "default: 0.2}", 1))
    assert main(["schema", "--check", "--out", str(out)]) == 1
    assert "run `python -m neuroevo schema`" in capsys.readouterr().err
