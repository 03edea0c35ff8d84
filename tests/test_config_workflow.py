"""neuroevo.config.workflow, what the Snakefile takes from the config: the checks before any
job, the study files, every job's spec."""

import copy
import json
import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPOSITORY
from snakemake.utils import validate

from neuroevo.config import workflow as specs

SHIPPED_STUDIES = sorted(path.stem for path in (REPOSITORY / "config" / "studies").glob("*.yaml"))
TINY_STUDIES = ["tiny", "genome"]


def _config(**changes) -> dict:
    """config.yaml with the schema's defaults, as the Snakefile has it when it checks."""
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text()) | changes
    validate(config, str(REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_the_package_is_torch_free():
    code = "import sys, neuroevo.config.workflow; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "study_dir, name",
    [("config/studies", name) for name in SHIPPED_STUDIES] + [("tests/tiny/studies", name) for name in TINY_STUDIES],
)
def test_a_study_gets_the_defaults_snakemakes_validate_gave_it(study_dir, name):
    path = REPOSITORY / study_dir / f"{name}.yaml"
    expected = yaml.safe_load(path.read_text())
    validate(expected, str(REPOSITORY / "workflow" / "schemas" / "study.schema.yaml"))
    assert specs.load_study({"study_dir": study_dir}, name, REPOSITORY) == expected


def test_studies_never_share_a_default_object():
    first = specs.load_study({"study_dir": "tests/tiny/studies"}, "tiny", REPOSITORY)
    second = specs.load_study({"study_dir": "tests/tiny/studies"}, "tiny", REPOSITORY)
    filled = [key for key in first if isinstance(first[key], (dict, list))]
    assert "optimizer_settings" in filled  # a default ({}) that tiny.yaml leaves out
    assert all(first[key] is not second[key] for key in filled)


def test_a_missing_or_bad_study_file_is_named(tmp_path):
    with pytest.raises(specs.ConfigError, match=f"study 'absent': no study file {tmp_path / 'absent.yaml'}"):
        specs.load_study({"study_dir": str(tmp_path)}, "absent", REPOSITORY)
    (tmp_path / "torn.yaml").write_text("title: [")
    with pytest.raises(specs.ConfigError, match=f"invalid study file {tmp_path / 'torn.yaml'}: not valid YAML"):
        specs.load_study({"study_dir": str(tmp_path)}, "torn", REPOSITORY)
    study = yaml.safe_load((REPOSITORY / "tests" / "tiny" / "studies" / "tiny.yaml").read_text()) | {"seeds": 0}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(study))
    with pytest.raises(specs.ConfigError, match=r"bad.yaml: seeds: 0 is less than the minimum of 1"):
        specs.load_study({"study_dir": str(tmp_path)}, "bad", REPOSITORY)


def test_the_shipped_configs_pass_every_check():
    specs.check_config(_config(), REPOSITORY)
    specs.check_config(_config(studies=SHIPPED_STUDIES), REPOSITORY)


def _discovery_seeds_shared(config):
    config["discovery"]["small"]["comparison"]["seeds"] = [0, 100]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda config: config["training"].update(batch_size=32.0),
            "config: training.batch_size: 32.0 is not of type 'integer'",
        ),
        (
            lambda config: config["tuning"]["search_spaces"]["adam"].update(
                lrr={"distribution": "uniform", "low": 0, "high": 1}
            ),
            "tuning.search_spaces.adam.lrr: 'lrr' is not a hyperparameter",
        ),
        (lambda config: config.update(seeds=[1000, 1]), "tuning.seeds [1000] are also evaluation seeds"),
        (_discovery_seeds_shared, "discovery.small: comparison.seeds: seed(s) 0 are also the GA's settings.seeds"),
        (lambda config: config.update(studies=["absent"]), "study 'absent': no study file"),
        (
            lambda config: config["dataset_overrides"]["digits"].update(max_sample_evals=1000),
            "training with dataset_overrides.digits: budget_flops (the equal-budget arm) cannot be combined with "
            "max_sample_evals",
        ),
    ],
)
def test_check_config_refuses_by_key(edit, message):
    config = _config()
    edit(config)
    with pytest.raises(specs.ConfigError, match=re.escape(message)):
        specs.check_config(config, REPOSITORY)


def test_a_run_spec_is_sorted_json_of_its_settings_with_the_dataset_overrides():
    config = _config()
    spec = specs.run_spec(config, "digits", "adam")
    assert spec == json.dumps(json.loads(spec), sort_keys=True)
    assert json.loads(spec) == {
        "model": config["model"],
        "training": config["training"] | config["dataset_overrides"]["digits"],
        "hyperparameters": config["optimizer_settings"]["adam"],
    }


def test_editing_one_optimizers_block_changes_only_its_specs():
    config = _config()
    edited = copy.deepcopy(config)
    edited["optimizer_settings"]["adam"]["lr"] = 0.5
    for dataset in config["datasets"]:
        for optimizer in config["optimizers"]:
            changed = specs.run_spec(config, dataset, optimizer) != specs.run_spec(edited, dataset, optimizer)
            assert changed == (optimizer == "adam")


def test_genome_inputs_are_the_genome_file_a_run_names():
    assert specs.genome_inputs({"hyperparameters": {"genome_file": "g.json"}}) == ["g.json"]
    assert specs.genome_inputs({"hyperparameters": {"genome_file": ""}}) == []
    assert specs.genome_inputs({"hyperparameters": {"lr": 0.1}}) == []


def test_the_discovery_ga_spec_leaves_out_the_comparison():
    config = _config()
    ga = json.loads(specs.discovery_ga_spec(config, "small"))
    assert sorted(ga) == ["settings", "tasks"]
    config["discovery"]["small"]["comparison"]["max_steps"] = 7
    assert json.loads(specs.discovery_ga_spec(config, "small")) == ga


def test_the_regenerate_command_quotes_its_config_files_and_config_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = specs.regenerate_command([tmp_path / "config.yaml", tmp_path / "my config.yaml"], ["seeds=3", "a=b c"])
    assert command == "snakemake --cores 2 --forcerun aggregate --configfile 'my config.yaml' --config seeds=3 'a=b c'"
    assert specs.regenerate_command([tmp_path / "config.yaml"], None) == "snakemake --cores 2 --forcerun aggregate"
