"""Input limits (issue 32, items 8-10): study files get the config's strict checks; every seed
is below 2**32; budgets have an upper bound; only listed study files are read and a study has
at most 1000 seeds; special files are refused as genome files; deep_ga's fitness_batch is
checked against the training set while the DAG is built; a prepared file's labels are checked;
summaries are strict JSON. Each bad input is refused before any work, naming the key or file."""

import copy
import functools
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPOSITORY, snakemake, tool_environment
from snakemake.utils import validate

from neuroevo.cli import build_parser, main
from neuroevo.config import checks
from neuroevo.config import workflow as specs
from neuroevo.config.blocks import study_names
from neuroevo.config.limits import (
    DATASET_EXAMPLES,
    GENOME_FILE_MAX_BYTES,
    SEED_LIMIT,
    check_input_file,
    special_file_problem,
    training_examples,
)
from neuroevo.config.run_spec import RunSpec
from neuroevo.config.workflow import study_schema

TINY_STUDY = yaml.safe_load((REPOSITORY / "tests" / "tiny" / "studies" / "tiny.yaml").read_text())
SCHEMAS = REPOSITORY / "workflow" / "schemas"
# A main config of one quick run: what the dry runs below plan (nothing is trained).
QUICK = "datasets: [iris]\noptimizers: [sgd]\nseeds: 1\ntuning: {enabled: false}\ndiscovery_enabled: false\n"


def _config(**changes) -> dict:
    """config.yaml with the schema's defaults, as the Snakefile has it when it checks (a copy)."""
    return copy.deepcopy(_default_config()) | changes


@functools.cache
def _default_config() -> dict:
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text())
    validate(config, str(SCHEMAS / "config.schema.yaml"))  # 2 s: once
    return config


def _write_study(folder, name, study) -> str:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(study if isinstance(study, str) else yaml.safe_dump(study))
    return str(path)


def _load(tmp_path, study, config=None, name="x"):
    """Study `study` written as tmp_path/studies/NAME.yaml and loaded as the workflow does."""
    path = _write_study(tmp_path / "studies", name, study)
    config = {"study_dir": str(tmp_path / "studies")} | (config or {})
    return path, lambda: specs.load_study(config, name, REPOSITORY)


def _dry_run(tmp_path, config_text, *targets):
    configfile = tmp_path / "limits.yaml"
    configfile.write_text(config_text)
    result = snakemake(tmp_path, "--dry-run", "--cores", "1", *targets, configfile=configfile, check=False)
    return result.returncode, result.stdout + result.stderr


# --- 8. Study files get the config's strict checks -------------------------------------------


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s["training"].update(budget_flops=math.inf), "training.budget_flops: inf is not a finite number"),
        (lambda s: s["variants"]["adam"].update(settings={"lr": math.nan}), "variants.adam.settings.lr: nan is not a"),
        (lambda s: s["training"].update(max_epochs=3.0), "training.max_epochs: 3.0 is not of type 'integer'"),
        (lambda s: s["variants"]["es"]["settings"].update(pairs=8.0), "variants.es.settings.pairs (es): 8.0 is not of"),
        (lambda s: s.update(seeds=2.0), "seeds: 2.0 is not valid under any of the given schemas"),
        (lambda s: s["alignment"].update(sigma=math.inf), "alignment.sigma: inf is not a finite number"),
    ],
)
def test_a_study_file_gets_the_configs_strict_checks_naming_the_file_and_key(edit, message, tmp_path):
    study = copy.deepcopy(TINY_STUDY)
    edit(study)
    path, load = _load(tmp_path, study)
    with pytest.raises(specs.ConfigError) as refused:
        load()
    assert str(refused.value).startswith(f"invalid study file {path}: ")
    assert message in str(refused.value)


def test_a_non_finite_study_value_is_refused_before_any_job(tmp_path):
    study = yaml.safe_dump(TINY_STUDY).replace("budget_flops: 500000.0", "budget_flops: .inf")
    assert "budget_flops: .inf" in study
    path = _write_study(tmp_path / "studies", "x", study)
    code, output = _dry_run(tmp_path, QUICK + f"studies: [x]\nstudy_dir: {tmp_path / 'studies'}\n")
    assert code != 0
    assert f"invalid study file {path}: training.budget_flops: inf is not a finite number" in output
    assert not (tmp_path / "results").exists()


# --- 9. Every seed is below 2**32 -------------------------------------------------------------


def _seed_keys(node, path=()):
    """(dotted key, schema) of every property whose name says it holds seeds, at any depth."""
    if isinstance(node, list):
        for item in node:
            yield from _seed_keys(item, path)
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, schema in value.items():
                if "seed" in name:
                    yield ".".join((*path, name)), schema
                yield from _seed_keys(schema, (*path, name))
        elif isinstance(value, (dict, list)):
            yield from _seed_keys(value, path)


@pytest.mark.parametrize(
    "schema, names",
    [
        (checks.config_schema(), {"seeds", "split_seed", "study_seed", "study_seeds"}),
        (study_schema(), {"seeds"}),
    ],
    ids=["config", "study"],
)
def test_every_seed_of_the_schemas_is_below_2_to_the_32_and_at_most_1000_of_them(schema, names):
    found = list(_seed_keys(schema))
    assert {key.rsplit(".", 1)[-1] for key, _ in found} == names
    for key, seed_schema in found:
        for branch in seed_schema.get("oneOf", [seed_schema]):
            if branch.get("type") == "array":  # a list of seeds
                assert branch["items"]["maximum"] == SEED_LIMIT - 1 and branch["maxItems"] == 1000, key
            elif key.rsplit(".", 1)[-1] in ("seeds", "study_seeds"):  # a count N: seeds 0..N-1
                assert branch["maximum"] == 1000, key
            else:
                assert branch["maximum"] == SEED_LIMIT - 1, key


def _set(config: dict, key: str, value) -> dict:
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = value
    return config


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("seeds", [0, 2**32], "seeds.1"),
        ("data.split_seed", 2**32, "data.split_seed"),
        ("tuning.seeds", [2**32], "tuning.seeds.0"),
        ("tuning.study_seed", 2**63, "tuning.study_seed"),
        ("discovery.small.settings.seeds", [2**32], "discovery.small.settings.seeds.0"),
        ("discovery.small.settings.study_seed", 2**32, "discovery.small.settings.study_seed"),
        ("discovery.small.comparison.seeds", [100, 2**64], "discovery.small.comparison.seeds.1"),
    ],
)
def test_a_config_seed_of_2_to_the_32_is_refused_by_key_and_one_below_is_taken(key, value, named):
    with pytest.raises(specs.ConfigError, match=rf"^config: {named}: "):
        specs.check_config(_set(_config(), key, value), REPOSITORY)
    below = [2**32 - 1] if isinstance(value, list) else 2**32 - 1
    specs.check_config(_set(_config(), key, below), REPOSITORY)


def test_a_study_seed_of_2_to_the_32_is_refused(tmp_path):
    path, load = _load(tmp_path, TINY_STUDY | {"seeds": [0, 2**32]})
    with pytest.raises(specs.ConfigError, match=rf"^invalid study file {path}: seeds.1: 4294967296 is greater than"):
        load()
    _, load = _load(tmp_path, TINY_STUDY | {"seeds": [0, 2**32 - 1]})
    assert load()["seeds"] == [0, 2**32 - 1]


TRAIN = ["train", "--data", "x.npz", "--dataset", "iris", "--optimizer", "sgd", "--out-dir", "run"]
TUNE = ["tune", "--data", "x.npz", "--dataset", "iris", "--optimizer", "sgd", "--search-space", "{}"]
TUNE += ["--storage", "j", "--out", "o", "--trials-out", "t"]
DISCOVER_JSON = json.dumps({"tasks": [{"dataset": "iris"}], "settings": {"seeds": [0], "study_seed": 2**32}})


@pytest.mark.parametrize(
    "arguments, flag",
    [
        ([*TRAIN, "--seed", str(2**32)], "--seed"),
        ([*TRAIN, "--seed", str(2**64)], "--seed"),
        ([*TRAIN[:-2], "--runs-dir", "runs", "--seeds", "0", str(2**32)], "--seeds"),
        (["data", "--dataset", "iris", "--out", "o.npz", "--split-seed", str(2**32)], "--split-seed"),
        (
            [
                "compare",
                "--data",
                "x",
                "--dataset",
                "iris",
                "--seeds",
                str(2**63),
                "--jobs-json",
                "[]",
                "--runs-dir",
                "r",
            ],
            "--seeds",
        ),
        ([*TUNE, "--seeds", f"1000,{2**32}"], "--seeds"),
        ([*TUNE, "--study-seed", str(2**32)], "--study-seed"),
        (["discover", "--study-json", DISCOVER_JSON, "--data", "iris=x.npz", "--out-dir", "d"], "--study-json"),
        (
            ["study-alignment", "--data", "x.npz", "--settings", '{"seeds": [0, 4294967296]}', "--out", "a"],
            "--settings",
        ),
    ],
)
def test_a_seed_of_2_to_the_32_on_the_command_line_is_refused_by_flag(arguments, flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}: " in error and "is not below 2**32" in error


def test_the_largest_seed_is_taken_and_a_spec_seed_is_checked_too():
    args = build_parser().parse_args([*TRAIN, "--seed", str(2**32 - 1)])
    assert args.seed == 2**32 - 1
    assert build_parser().parse_args([*TUNE, "--seeds", "1,2"]).seeds == "1,2"  # the command parses the text
    with pytest.raises(checks.SpecError, match=r"--seed: must be a non-negative integer below 2\*\*32"):
        RunSpec.from_json("iris", "sgd", 2**32, "{}")
    assert RunSpec.from_json("iris", "sgd", 2**32 - 1, "{}").seed == 2**32 - 1


# --- 10 (a). Budgets have an upper bound -----------------------------------------------------

BUDGETS = {"budget_flops": 1e16, "max_steps": 10**8, "max_sample_evals": 10**12, "max_seconds": 604800}


def test_each_budget_has_an_upper_bound_generous_for_every_shipped_config():
    training = checks.config_schema()["$defs"]["training"]["properties"]
    assert {key: training[key]["maximum"] for key in BUDGETS} == BUDGETS
    paths = [REPOSITORY / "config.yaml", *(REPOSITORY / "config").glob("*.yaml")]
    paths += [*(REPOSITORY / "config" / "studies").glob("*.yaml"), *(REPOSITORY / "tests" / "tiny").rglob("*.yaml")]
    largest = dict.fromkeys(BUDGETS, 0)

    def visit(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in BUDGETS and isinstance(value, (int, float)):
                    largest[key] = max(largest[key], value)
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    for path in paths:
        visit(yaml.safe_load(path.read_text()))
    assert largest["budget_flops"] >= 5e12  # cnn_cifar10's: the largest shipped
    for key, bound in BUDGETS.items():
        assert largest[key] * 1000 <= bound, key  # three orders of magnitude above any shipped value


def test_a_budget_above_its_bound_is_refused_before_any_job_naming_the_key(tmp_path):
    code, output = _dry_run(tmp_path, QUICK + "training: {budget_flops: 1.0e+30}\n")
    assert code != 0 and "Error validating config file" in output
    assert (
        "1e+30 is greater than the maximum of 1e+16" in output and "On instance['training']['budget_flops']" in output
    )
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "training, key",
    [
        ({"budget_flops": 1e30}, "training.budget_flops: 1e+30 is greater than the maximum of 1e+16"),
        ({"max_steps": 10**9}, "training.max_steps: 1000000000 is greater than the maximum"),
        ({"max_sample_evals": 10**13}, "training.max_sample_evals: 10000000000000 is greater than the maximum"),
        ({"max_seconds": 1e7}, "training.max_seconds: 10000000.0 is greater than the maximum of 604800"),
    ],
)
def test_a_budget_above_its_bound_is_refused_in_a_spec_and_a_study(training, key, tmp_path):
    with pytest.raises(checks.SpecError, match=re.escape(f"--spec: {key}")):
        checks.parse_spec(json.dumps({"training": training}), "sgd")
    study = copy.deepcopy(TINY_STUDY)
    study["verdict"] = False
    study["training"] = {"batch_size": 16} | training
    path, load = _load(tmp_path, study)
    with pytest.raises(specs.ConfigError, match=re.escape(f"invalid study file {path}: {key}")):
        load()


# --- 10 (b). Only listed study files are read; a study has at most 1000 seeds ----------------


def test_an_unlisted_study_file_is_not_read_and_a_target_of_it_is_refused_by_name(tmp_path):
    studies = tmp_path / "studies"
    _write_study(studies, "big", TINY_STUDY | {"seeds": 100000})  # was 10,000 rules at every start
    _write_study(studies, "torn", "title: [")
    config = QUICK + f"study_dir: {studies}\nruns_per_job: 10\n"
    configfile = tmp_path / "limits.yaml"
    configfile.write_text(config)
    rules = snakemake(tmp_path, "--list-rules", configfile=configfile).stdout
    assert "study_run" not in rules and "train_seeds_0" in rules
    code, output = _dry_run(tmp_path, config, "results/studies/big/study.md")
    assert code != 0
    assert "study 'big' is not listed in the config's `studies` (listed: none)" in output
    assert "--config 'studies=[big]'" in output
    assert study_names({"studies": ["a", "b"], "study_dir": str(studies)}) == ["a", "b"]


def test_a_study_of_more_than_1000_seeds_is_refused(tmp_path):
    path, load = _load(tmp_path, TINY_STUDY | {"seeds": 100000})
    with pytest.raises(
        specs.ConfigError, match=f"invalid study file {path}: seeds: 100000 is greater than the maximum of 1000"
    ):
        load()
    path, load = _load(tmp_path, TINY_STUDY | {"seeds": list(range(1001))})
    with pytest.raises(specs.ConfigError, match=f"invalid study file {path}: seeds: "):
        load()
    _, load = _load(tmp_path, TINY_STUDY | {"seeds": 1000})
    assert load()["seeds"] == 1000
    with pytest.raises(specs.ConfigError, match="config: study_seeds: 5000 is greater than the maximum of 1000"):
        specs.check_config(_config() | {"study_seeds": 5000}, REPOSITORY)


# --- 10 (c). Special files are refused as genome files, before reading ---------------------


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "genome.fifo"
    os.mkfifo(path)
    return path


def _load_genomes_in_a_child(paths) -> subprocess.CompletedProcess:
    """Genome.load of each path in a process of 1 GiB more than torch's import maps, killed
    after 60 s: today's code read /dev/zero until memory ran out and waited on a FIFO forever."""
    code = textwrap.dedent(
        f"""
        import os, resource
        from neuroevo.update_rules.genome import Genome, GenomeError
        mapped = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + (1 << 30), resource.RLIM_INFINITY))
        for path in {[str(path) for path in paths]!r}:
            try:
                Genome.load(path)
            except GenomeError as error:
                print("refused:", error, flush=True)
        """
    )
    try:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=tool_environment()
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"Genome.load hung: {error.stdout}")


def test_a_special_or_huge_genome_file_is_refused_before_it_is_read(fifo, tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (GENOME_FILE_MAX_BYTES + 1))
    expected = {
        "/dev/zero": "not a regular file but a character device",
        tmp_path: "not a regular file but a directory",
        huge: f"{GENOME_FILE_MAX_BYTES + 1:,} bytes, more than the {GENOME_FILE_MAX_BYTES:,} allowed",
        fifo: "not a regular file but a FIFO (named pipe)",  # last: it hung the reader
    }
    result = _load_genomes_in_a_child(expected)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), result.stdout
    for line, (path, problem) in zip(lines, expected.items(), strict=True):
        assert line.startswith(f"refused: genome_file: {path}: {problem}; give the path of a regular file"), line


def test_the_special_file_check_names_the_key_and_passes_regular_and_missing_files(fifo, tmp_path):
    genome = tmp_path / "genome.json"
    genome.write_text("{}")
    assert special_file_problem(genome) is None and special_file_problem(tmp_path / "absent.json") is None
    check_input_file(genome, "genome_file")
    check_input_file(tmp_path / "absent.json", "genome_file")  # a file a rule will make
    for path in ("/dev/zero", fifo):
        with pytest.raises(ValueError, match=f"^hyperparameters.genome_file: {path}: not a regular file"):
            check_input_file(path, "hyperparameters.genome_file")
    link = tmp_path / "link.json"
    link.symlink_to("/dev/zero")
    assert special_file_problem(link) == "not a regular file but a character device"


def test_a_special_genome_file_is_refused_while_the_dag_is_built(fifo, tmp_path):
    config = "datasets: [iris]\noptimizers: [evolved]\nseeds: 1\ntuning: {enabled: false}\n"
    code, output = _dry_run(tmp_path, config + "optimizer_settings: {evolved: {genome_file: /dev/zero}}\n")
    assert code != 0
    assert (
        "config: optimizer_settings.evolved.genome_file: /dev/zero: not a regular file but a character device" in output
    )
    study = TINY_STUDY | {"variants": {"evolved": {"optimizer": "evolved", "settings": {"genome_file": str(fifo)}}}}
    path, load = _load(tmp_path, study | {"verdict": False})
    with pytest.raises(specs.ConfigError, match=f"invalid study file {path}: variants.evolved.settings.genome_file: "):
        load()


# --- 10 (d). deep_ga's fitness_batch against the training set, while the DAG is built --------


@pytest.mark.parametrize("dataset", ["iris", "digits"])
@pytest.mark.parametrize("fractions", [(0.2, 0.2), (0.1, 0.3), (0.25, 0.15), (0.33, 0.07)])
def test_the_training_set_size_known_without_data_is_what_prepare_makes(dataset, fractions):
    from neuroevo.data.prepare import prepare

    val, test = fractions
    data = prepare(dataset, val_fraction=val, test_fraction=test)
    assert training_examples(dataset, val, test) == len(data.y["train"])
    assert training_examples(dataset, val, test, subsample=50) == 50
    assert training_examples(dataset, val, test, subsample=10**6) == len(data.y["train"])


def test_the_sizes_of_the_datasets_that_need_files_are_their_loaders():
    from neuroevo.data.datasets import DATASETS, load_raw, raw_files_present

    assert set(DATASET_EXAMPLES) == set(DATASETS)
    assert training_examples("fashion_mnist14") == 48000  # the README's "48,000 training images"
    if not raw_files_present("fashion_mnist14", "data"):
        pytest.skip("Fashion-MNIST's files are not here")
    raw = load_raw("fashion_mnist", "data")
    assert DATASET_EXAMPLES["fashion_mnist"] == (len(raw.y_train), len(raw.y_test))


def test_a_fitness_batch_larger_than_the_training_set_is_refused_while_the_dag_is_built(tmp_path):
    config = "datasets: [iris]\noptimizers: [deep_ga]\nseeds: 1\ntuning: {enabled: false}\n"
    code, output = _dry_run(tmp_path, config + "optimizer_settings: {deep_ga: {fitness_batch: 91}}\n")
    assert code != 0 and not (tmp_path / "results").exists()
    assert (
        "config: optimizer_settings.deep_ga.fitness_batch: 91 is larger than the training set of iris (90 examples); "
        "use 'full' for all of them, or a size of at most 90"
    ) in output


def test_a_fitness_batch_is_checked_with_the_config_fractions_subsample_and_search_space(tmp_path):
    config = _config(datasets=["iris"], optimizers=["sgd", "deep_ga"])  # sgd: the budget rule's pilot
    config["optimizer_settings"]["deep_ga"]["fitness_batch"] = 90
    specs.check_config(config, REPOSITORY)
    config["data"]["val_fraction"] = 0.3  # 150 - 30 test - 45 validation: 75
    with pytest.raises(specs.ConfigError, match=r"fitness_batch: 90 is larger than the training set of iris \(75"):
        specs.check_config(config, REPOSITORY)
    config = _config(datasets=["digits"], optimizers=["sgd", "deep_ga"])
    config["optimizer_settings"]["deep_ga"]["fitness_batch"] = 600
    config["dataset_overrides"]["digits"]["subsample"] = 500
    with pytest.raises(
        specs.ConfigError, match=r"600 is larger than the training set of digits \(500 examples, training"
    ):
        specs.check_config(config, REPOSITORY)
    config = _config(datasets=["iris"], optimizers=["sgd", "deep_ga"])
    config["tuning"]["search_spaces"]["deep_ga"] = {"fitness_batch": {"distribution": "int", "low": 10, "high": 200}}
    with pytest.raises(specs.ConfigError, match=r"config: tuning.search_spaces.deep_ga.fitness_batch.high: 200 is"):
        specs.check_config(config, REPOSITORY)
    study = TINY_STUDY | {
        "dataset": "digits",
        "verdict": False,
        "training": {"batch_size": 16, "subsample": 500},
        "variants": {"ga": {"optimizer": "deep_ga", "settings": {"fitness_batch": 600}}},
    }
    path, load = _load(tmp_path, study)
    with pytest.raises(
        specs.ConfigError,
        match=rf"invalid study file {path}: variants.ga.settings.fitness_batch \(deep_ga\): 600 is larger than the "
        r"training set of digits \(500 examples, training.subsample 500\)",
    ):
        load()


# --- 10 (e). A prepared file's labels are checked, naming the file --------------------------


@pytest.mark.parametrize("label", [7, -1])
def test_a_prepared_file_with_a_label_outside_its_classes_is_refused_by_name(label, tmp_path):
    from neuroevo.data.prepare import load_prepared, prepare, save_prepared
    from neuroevo.files.errors import CorruptFileError

    data = prepare("iris")
    data.y["train"] = data.y["train"].copy()
    data.y["train"][5] = label
    path = tmp_path / "iris.npz"
    save_prepared(data, path)  # a valid checksum: the labels are what is wrong
    with pytest.raises(CorruptFileError) as refused:
        load_prepared(path, expected_name="iris")
    assert str(refused.value) == (
        f"{path}: corrupt prepared dataset (y_train holds label {label} (1 label(s) in all) outside the 3 classes "
        "0..2); delete it or run snakemake --forcerun data"
    )
    data.y["train"] = data.y["train"].astype(np.float32)
    save_prepared(data, path)
    with pytest.raises(CorruptFileError, match="y_train is not a vector of integer labels"):
        load_prepared(path)


# --- 10 (f). Summaries are strict JSON ------------------------------------------------------


def _strict_loads(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_strict_json_replaces_non_finite_floats_with_null_at_any_depth():
    from neuroevo.training.summary import nonfinite_fields, strict_json

    value = {"a": math.nan, "b": [math.inf, 1.0, (2.0, -math.inf)], "c": {"d": 1, "e": "x", "f": None}, "g": True}
    assert strict_json(value) == {
        "a": None,
        "b": [None, 1.0, (2.0, None)],
        "c": {"d": 1, "e": "x", "f": None},
        "g": True,
    }
    assert nonfinite_fields(value) == ["a", "b.0", "b.2.1"]
    json.dumps(strict_json(value), allow_nan=False)
    assert strict_json(value)["c"] is not value["c"]


def test_a_diverged_run_writes_a_strict_json_summary_that_says_what_was_not_finite(iris_data, tmp_path):
    from neuroevo.analysis.runs import load_runs

    spec = {
        "training": {"max_epochs": 3, "batch_size": 16},
        "hyperparameters": {"sigma": 1e30, "popsize": 8, "parents": 2},
    }
    out_dir = tmp_path / "run"
    arguments = ["train", "--data", str(iris_data), "--dataset", "iris", "--optimizer", "deep_ga", "--seed", "0"]
    assert main([*arguments, "--spec", json.dumps(spec), "--out-dir", str(out_dir)]) == 0
    text = (out_dir / "summary.json").read_text()
    summary = _strict_loads(text)  # no bare NaN
    assert summary["status"] == "diverged" and "nan" in summary["message"]
    assert summary["final_train_loss"] is None and summary["nonfinite_fields"] == ["final_train_loss"]
    runs = load_runs([out_dir / "summary.json"])  # the readers take null where a number was
    assert pd.isna(runs["final_train_loss"].iloc[0]) and runs["status"].iloc[0] == "diverged"
    both = load_runs([out_dir / "summary.json", *_finite_run(iris_data, tmp_path)])
    assert pd.isna(both["final_train_loss"].iloc[0]) and both["final_train_loss"].iloc[1] > 0


def _finite_run(iris_data, tmp_path):
    out_dir = tmp_path / "finite"
    spec = {"training": {"max_epochs": 1, "batch_size": 16}, "hyperparameters": {"lr": 0.1}}
    arguments = ["train", "--data", str(iris_data), "--dataset", "iris", "--optimizer", "sgd", "--seed", "0"]
    assert main([*arguments, "--spec", json.dumps(spec), "--out-dir", str(out_dir)]) == 0
    summary = _strict_loads((out_dir / "summary.json").read_text())
    assert "nonfinite_fields" not in summary  # a run without a NaN keeps the summary it had
    return [out_dir / "summary.json"]
