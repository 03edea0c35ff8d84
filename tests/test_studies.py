"""Studies (config/studies/*.yaml): validation, the ES gradient alignment, the figures,
and a tiny study through Snakemake into the report."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPOSITORY, snakemake

from neuroevo.config.checks import config_schema
from neuroevo.config.studies import StudyError, check_study, run_spec
from neuroevo.config.workflow import study_schema
from neuroevo.report.plots import median_band, plot_curves
from neuroevo.report.study_section import model_text, rebased

CONFIG_SCHEMA = config_schema()
STUDY_SCHEMA = study_schema()
SHIPPED_STUDIES = [
    "ga_mutation",
    "ga_gamma",
    "ga_fitness_batch",
    "es_gradient",
    "cmaes_speed",
    "cnn_fashion_mnist",
    "cnn_cifar10",
]
CNN_STUDIES = {"cnn_fashion_mnist": "fashion_mnist", "cnn_cifar10": "cifar10"}
TINY_STUDY = REPOSITORY / "tests" / "tiny" / "studies" / "tiny.yaml"


def _config(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_config_studies_lists_the_shipped_studies():
    listed = yaml.safe_load((REPOSITORY / "config" / "studies.yaml").read_text())["studies"]
    assert listed == SHIPPED_STUDIES
    assert sorted(path.stem for path in (REPOSITORY / "config" / "studies").glob("*.yaml")) == sorted(SHIPPED_STUDIES)


@pytest.mark.parametrize("name", SHIPPED_STUDIES)
def test_shipped_study_variants_fit_their_optimizers_blocks(name):
    study = yaml.safe_load((REPOSITORY / "config" / "studies" / f"{name}.yaml").read_text())
    check_study(study, CONFIG_SCHEMA)
    if name in CNN_STUDIES:  # the real-network studies: the CNN at one FLOP budget, a verdict table
        assert study["dataset"] == CNN_STUDIES[name] and study["model"]["kind"] == "cnn" and study["verdict"]
        # Enough seeds for a verdict to be reachable: all pairs one way, Holm over the variants.
        evolutionary = len(study["variants"]) - 1
        assert study["training"]["budget_flops"] and evolutionary * 0.5 ** study["seeds"] < 0.05
        assert {variant["optimizer"] for variant in study["variants"].values()} == {
            "adam",
            "pgpe",
            "es",
            "cmaes",
            "deep_ga",
        }
    else:
        assert study["dataset"] == "fashion_mnist14" and study["model"]["hidden"] == 32


def test_shipped_studies_load_and_plan_in_the_workflow(tmp_path):
    result = snakemake(tmp_path, "--dry-run", "--cores", "4", configfile=REPOSITORY / "config" / "studies.yaml")
    for name in SHIPPED_STUDIES:
        assert f"results/studies/{name}/study.md" in result.stdout
    assert "results/studies/es_gradient/alignment.parquet" in result.stdout
    # A run reserves as many cores as its torch threads: cmaes_speed's 120 s runs use 2 each.
    # Under a wall-time budget a run is measured again rather than restored, so each of its
    # 4 variants x 6 seeds is a job of its own (a block of one seed), whatever runs_per_job.
    jobs = result.stdout.split("rule ")
    speed_runs = [job for job in jobs if re.match(r"study_run_cmaes_speed_seeds_\d:", job)]
    assert len(speed_runs) == 24 and all("threads: 2" in job for job in speed_runs)
    assert all("threads: 1" in job or "threads:" not in job for job in jobs if "study=ga_gamma" in job)
    # CIFAR-10's files are not here: its study runs nothing, and only its section is planned.
    assert "results/studies/cnn_cifar10/study.md" in result.stdout
    assert "study_run_cnn_cifar10" not in result.stdout
    assert _planned_runs(result.stdout, "cnn_fashion_mnist") == 40  # 5 variants x 8 seeds


def _planned_runs(stdout, study):
    """How many distinct run folders of `study` a dry run plans to write."""
    return len(set(re.findall(rf"results/studies/{study}/[a-z0-9_.]+/\d+/summary\.json", stdout)))


def _cifar10_files(data_dir):
    """Files where CIFAR-10's loader looks (their content is not read while planning)."""
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"stand-in")


def test_a_study_whose_raw_files_are_missing_says_so_and_runs_once_they_are_there(tmp_path):
    configfile = _config(tmp_path, f"studies: [cnn_cifar10]\ndata: {{dir: {tmp_path / 'data'}, download: false}}\n")
    snakemake(tmp_path, "--cores", "1", "results/studies/cnn_cifar10/study.md", configfile=configfile)
    section = (tmp_path / "results" / "studies" / "cnn_cifar10" / "study.md").read_text()
    assert section.startswith("## Neuroevolution on a CNN: CIFAR-10")
    assert f"not run: the cifar10 files are not in data.dir ({tmp_path / 'data'})" in section
    assert not (tmp_path / "results" / "studies" / "cnn_cifar10" / "adam").exists()
    _cifar10_files(tmp_path / "data")
    result = snakemake(tmp_path, "--dry-run", "results/studies/cnn_cifar10/study.md", configfile=configfile)
    assert _planned_runs(result.stdout, "cnn_cifar10") == 40
    assert "resources/data/cifar10.npz" in result.stdout


def test_study_schema_datasets_match_the_config_schema():
    assert STUDY_SCHEMA["properties"]["dataset"]["enum"] == CONFIG_SCHEMA["properties"]["datasets"]["items"]["enum"]


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda study: study["variants"]["es"].update(setings={}), "'setings' was unexpected"),
        (lambda study: study.update(figurs=[]), "'figurs' was unexpected"),
        (
            lambda study: study["variants"]["adam"].update(settings={"lrr": 0.1}),
            "variants.adam.settings (adam): Additional properties are not allowed ('lrr' was unexpected)",
        ),
        (
            lambda study: study["variants"]["es"].update(optimizer="nadam"),
            "variants.es.optimizer: unknown optimizer 'nadam'",
        ),
        (lambda study: study["figures"][0].update(x="step"), "'step' is not one of"),
        (
            lambda study: study["variants"]["es"].update(training={"budget_flops": 1e6}),
            "variants.es.training.budget_flops: a study with verdict: true compares its variants at one budget",
        ),
    ],
)
def test_bad_study_is_refused_before_any_job_naming_the_file_and_key(edit, problem, tmp_path):
    study = yaml.safe_load(TINY_STUDY.read_text())
    edit(study)
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "bad.yaml").write_text(yaml.safe_dump(study))
    configfile = _config(tmp_path, f"studies: [bad]\nstudy_dir: {tmp_path / 'studies'}\n")
    result = snakemake(tmp_path, "--dry-run", configfile=configfile, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"invalid study file {tmp_path / 'studies' / 'bad.yaml'}" in output
    assert problem in output
    assert not (tmp_path / "results").exists()


def test_run_spec_layers_config_study_and_variant():
    config = {
        "model": {"hidden": 16, "activation": "relu"},
        "training": {"batch_size": 16, "patience": 3},
        "dataset_overrides": {"iris": {"batch_size": 8}},
        "optimizer_settings": {"es": {"pairs": 16, "sigma": 0.02, "lr": 0.01}},
    }
    study = {
        "dataset": "iris",
        "model": {"hidden": 8},
        "training": {"patience": 10},
        "optimizer_settings": {"es": {"sigma": 0.05}},
        "variants": {"many": {"optimizer": "es", "settings": {"pairs": 64}, "training": {"batch_size": 4}}},
    }
    assert run_spec(study, "many", config) == {
        "model": {"hidden": 8, "activation": "relu"},
        "training": {"batch_size": 4, "patience": 10},
        "hyperparameters": {"pairs": 64, "sigma": 0.05, "lr": 0.01},
    }


def test_check_study_refuses_repeated_figure_names():
    study = yaml.safe_load(TINY_STUDY.read_text())
    study["figures"].append(dict(study["figures"][0]))
    with pytest.raises(StudyError, match="figures: name"):
        check_study(study, CONFIG_SCHEMA)


def test_es_estimate_aligns_with_the_true_gradient_more_with_more_pairs(iris_data):
    from neuroevo.analysis.gradient_alignment import measure
    from neuroevo.data.prepare import load_prepared

    alignment = measure(
        load_prepared(iris_data), hidden=[8], pairs=[1, 16, 256], seeds=[0, 1, 2], batches=2, batch_size=32
    )
    medians = alignment.groupby("pairs")["cosine_similarity"].median()
    assert medians[1] < medians[16] < medians[256]
    # 67 parameters: about sqrt(256 / 323) = 0.89 expected, 0.85-0.91 measured; 0.7 leaves margin.
    assert alignment[alignment["pairs"] == 256]["cosine_similarity"].min() > 0.7


def _synthetic_history(seed, generations):
    generation = np.arange(0, generations + 1, 10)
    return pd.DataFrame(
        {
            "epoch": np.arange(len(generation)),
            "generation": np.where(generation == 0, np.nan, generation),  # epoch 0 has no optimizer columns
            "sample_evals": generation * (1000 + seed),
            "val_acc": 1 - np.exp(-generation / (50 + 10 * seed)),
            "sigma_0": np.where(generation == 0, np.nan, 0.01 * 1.01**generation),
        }
    )


def test_median_band_interpolates_and_keeps_x_where_half_the_seeds_have_data():
    runs = [
        pd.DataFrame({"x": [0.0, 10.0], "y": [0.0, 1.0]}),
        pd.DataFrame({"x": [0.0, 5.0, 20.0], "y": [0.0, 2.0, 4.0]}),
        pd.DataFrame({"x": [0.0, 40.0], "y": [1.0, 1.0]}),
    ]
    band = median_band(runs).set_index("x")
    assert list(band.index) == [0, 5, 10, 20]  # 40: one seed of three
    assert band.loc[5, "median"] == 1.0  # 0.5 (interpolated), 2.0, 1.0
    assert band.loc[20, "n"] == 2


def test_figures_write_png_with_median_and_band_from_synthetic_histories(tmp_path):
    histories = {
        "a": [_synthetic_history(seed, 200) for seed in range(3)],
        "b": [_synthetic_history(seed, 100) for seed in range(3)],
    }
    for figure in (
        {"name": "val_acc", "x": "generation", "y": "val_acc"},
        {"name": "sigma_0", "x": "sample_evals", "y": "sigma_0", "log_x": True, "log_y": True},
    ):
        out = tmp_path / f"{figure['name']}.png"
        plot_curves(histories, figure, out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_rebased_rewrites_relative_links_only():
    text = "![a](figures/a.png) [site](https://example.org) [top](#x)"
    assert rebased(text, "results/studies/s", "results/report") == (
        "![a](../studies/s/figures/a.png) [site](https://example.org) [top](#x)"
    )


def test_tiny_study_runs_through_snakemake_into_the_report(tmp_path):
    configfile = _config(
        tmp_path,
        (
            "datasets: [iris]\noptimizers: [adam]\nseeds: 2\nmodel: {hidden: 8}\n"
            "training: {max_epochs: 3}\ntuning: {enabled: false}\n"
            "studies: [tiny]\nstudy_dir: tests/tiny/studies\n"
        ),
    )
    snakemake(tmp_path, "--cores", "2", configfile=configfile)
    study_dir = tmp_path / "results" / "studies" / "tiny"
    section = (study_dir / "study.md").read_text()
    assert section.startswith("## Tiny: es vs adam")
    assert "| es | es | pairs = 8 | 2 |" in section and "| adam | adam | - | 2 |" in section
    # A FLOP budget: every run is read at its end; two seeds cannot decide a verdict.
    assert "every run is read at the end of its budget of 500k forward-equivalent FLOPs" in section
    assert "| es | adam | 2 (" in section and "inconclusive (n = 2 seed pairs" in section
    links = [line.split("](")[1].rstrip(")") for line in section.splitlines() if line.startswith("![")]
    assert len(links) == 4  # two study figures, two alignment figures
    for link in links:
        assert (study_dir / link).stat().st_size > 0
    report_dir = tmp_path / "results" / "report"
    report = (report_dir / "report.md").read_text()
    assert "## Tiny: es vs adam" in report and "### ES gradient alignment" in report
    for link in links:
        assert f"](../studies/tiny/{link})" in report and (report_dir / "../studies/tiny" / link).exists()


def test_study_section_names_the_training_keys_a_variant_changes():
    from neuroevo.report.study_section import _setup_lines

    def summary(batch_size):
        return {
            "model": {"hidden": 8, "activation": "relu"},
            "n_parameters": 99,
            "seed": 0,
            "training": {"batch_size": batch_size, "threads": 2},
            "hyperparameters": {},
        }

    study = {
        "dataset": "iris",
        "variants": {"fast": {"optimizer": "adam", "training": {"batch_size": 4}}, "plain": {"optimizer": "sgd"}},
    }
    lines = _setup_lines("s", study, {"fast": [(summary(4), None)], "plain": [(summary(16), None)]})
    assert lines[1] == "Training: batch_size = 16, threads = 2."
    assert lines[2] == "Variant `fast` differs: batch_size = 4."


def test_the_section_names_the_model_that_ran():
    assert model_text({"kind": "mlp", "hidden": 32, "activation": "relu"}) == "MLP with 32 hidden units (relu)"
    assert model_text({"kind": "mlp", "hidden": [32, 16], "activation": "tanh"}) == (
        "MLP with 32-16 hidden units per layer (tanh)"
    )
    assert model_text({"kind": "cnn", "hidden": 16, "activation": "relu"}).startswith("CNN (two 3x3 convolutions")
