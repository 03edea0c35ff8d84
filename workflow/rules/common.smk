# Paths, input functions, wildcard constraints; resources: cluster.smk; config checks and
# every job's spec: the package (neuroevo.config.workflow, torch-free).
import os
import re
import sys
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError

REPOSITORY = Path(workflow.basedir)
sys.path.insert(0, str(REPOSITORY / "src"))  # for the config layer below, in any env
import neuroevo.config.blocks as blocks
import neuroevo.config.workflow as specs
from neuroevo.config.discovery import comparison_runs as comparison_keys
from neuroevo.config.discovery import labels as discovery_labels
from neuroevo.config.studies import study_seeds

# Jobs (`python -m neuroevo ...`) import the package from this checkout, also inside conda
# envs that hold only its dependencies (envs/neuroevo.yaml); cluster jobs rerun this file.
PATHS = [str(REPOSITORY / "src"), os.environ.get("PYTHONPATH")]
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, PATHS)))


def raw_files_present(name):
    """Whether dataset NAME's raw files are in data.dir (read only for a configured stand-in)."""
    from neuroevo.data.datasets import raw_files_present as present

    return present(name, config["data"]["dir"])


# A stand-in dataset takes the place of a missing one (the prior-work audit's MNIST-14).
STOOD_IN = specs.apply_stand_ins(config, raw_files_present)

try:  # before any job: the config, its search spaces, discovery studies and listed studies
    specs.check_config(config, REPOSITORY)
except specs.ConfigError as error:
    raise WorkflowError(str(error)) from None


wildcard_constraints:
    dataset="[a-z][a-z0-9_]*",
    optimizer="[a-z][a-z0-9_]*",
    seed=r"\d+",
    study="[a-z0-9][a-z0-9_]*",
    variant="[a-z0-9][a-z0-9_.]*",
    name="[a-z0-9][a-z0-9_]*",
    task="[a-z][a-z0-9_]*",


def all_summaries():
    return [
        f"results/runs/{dataset}/{optimizer}/{seed}/summary.json"
        for dataset in config["datasets"]
        for optimizer in config["optimizers"]
        for seed in study_seeds(config)  # the config's `seeds: N | list`, as a study's
    ]


def block_files(runs_dir, block, name):
    """A block's files NAME, one per run folder RUNS_DIR/SEED (RUNS_DIR a pattern)."""
    return [f"{runs_dir}/{seed}/{name}" for seed in block]


def tuning_results(wildcards):
    """The train job's tuned values, when its optimizer is tuned."""
    if not specs.tuned(config, wildcards.optimizer, wildcards.dataset):
        return []
    return f"results/tuning/{wildcards.dataset}/{wildcards.optimizer}.json"


def run_spec(wildcards):
    return specs.run_spec(config, wildcards.dataset, wildcards.optimizer)


def run_genome(wildcards):
    settings = specs.run_settings(config, wildcards.dataset, wildcards.optimizer)
    return specs.genome_inputs(settings)


@cache
def load_study(name):
    """Study NAME, validated, with its schema's defaults (checked before any job). Only the
    studies listed in `studies` are read: a target of another one is refused by name."""
    if name not in config["studies"]:
        listed = ", ".join(config["studies"]) or "none"
        raise WorkflowError(
            f"study {name!r} is not listed in the config's `studies` (listed: {listed}), and only listed "
            f"study files are read: add it there, or run snakemake results/studies/{name}/study.md "
            f"--config 'studies=[{name}]'"
        )
    try:
        return specs.load_study(config, name, REPOSITORY)
    except specs.ConfigError as error:
        raise WorkflowError(str(error)) from None


def study_blocks(name):
    """Study NAME's blocks of seeds (a listed study, checked before any job); none for a
    study whose raw data are missing (its section says so)."""
    study = load_study(name)
    return [] if study_missing_data(name) else blocks.study_blocks(config, study)


def study_missing_data(name):
    """Why study NAME runs nothing (its needs_raw_files dataset's files are missing), or None.
    Data once prepared count as present: removing the raw files later keeps its section.
    """

    def present(dataset):
        return Path(f"resources/data/{dataset}.npz").exists() or raw_files_present(
            dataset
        )

    return specs.study_missing_data(config, load_study(name), present)


def study_dataset(wildcards):
    return load_study(wildcards.study)["dataset"]


def study_optimizer(wildcards):
    return load_study(wildcards.study)["variants"][wildcards.variant]["optimizer"]


def study_data(wildcards):
    return f"resources/data/{study_dataset(wildcards)}.npz"


def study_runs(name):
    study = load_study(name)
    if study_missing_data(name):
        return []
    return [
        f"results/studies/{name}/{variant}/{seed}/summary.json"
        for variant in study["variants"]
        for seed in study_seeds(study)
    ]


def all_study_runs():
    return [path for name in config["studies"] for path in study_runs(name)]


def study_alignment(wildcards):
    """The alignment measurement, for studies with an `alignment` block."""
    if "alignment" not in load_study(wildcards.study) or study_missing_data(
        wildcards.study
    ):
        return []
    return f"results/studies/{wildcards.study}/alignment.parquet"


def study_settings(wildcards):
    study = load_study(wildcards.study)
    return specs.study_settings(config, study, wildcards.variant)


def comparison_runs(name):
    return [
        f"results/discovery/{name}/comparison/{task}/{label}/{seed}/summary.json"
        for task, label, seed in comparison_keys(config["discovery"][name])
    ]


def all_comparison_runs():
    studies = specs.discovery_studies(config)
    return [path for name in studies for path in comparison_runs(name)]


def comparison_jobs(wildcards):
    genome = f"results/discovery/{wildcards.name}/best_genome.json"
    return specs.comparison_jobs(config, wildcards.name, wildcards.task, genome)


def comparison_inputs(wildcards):
    """The genome and tuning results a task's comparison job reads."""
    jobs = comparison_jobs(wildcards)
    genomes = [path for job in jobs for path in specs.genome_inputs(job["spec"])]
    return sorted(set(genomes)) + [job["tuned"] for job in jobs if job["tuned"]]


def comparison_data(wildcards):
    dataset = specs.comparison_dataset(config, wildcards.name, wildcards.task)
    return f"resources/data/{dataset}.npz"


def discovery_data(wildcards):
    """The GA's datasets (also those its baselines are tuned on), by name."""
    tasks = config["discovery"][wildcards.name]["tasks"]
    return {task["dataset"]: f"resources/data/{task['dataset']}.npz" for task in tasks}


def all_tuning_results():
    return [
        f"results/tuning/{dataset}/{optimizer}.json"
        for dataset in config["datasets"]
        for optimizer in config["optimizers"]
        if specs.tuned(config, optimizer, dataset)
    ]


def report_figures():
    """The report's figures (neuroevo.config.workflow.report_figure_names)."""
    return [
        f"results/report/figures/{name}" for name in specs.report_figure_names(config)
    ]


# The equal-budget ladder's pilot runs and budget files (budget.smk).


def pilot_summaries(dataset):
    return [
        f"results/pilot/{dataset}/{optimizer}/{seed}/summary.json"
        for optimizer in specs.gradient_optimizers(config)
        for seed in study_seeds(config)
    ]


def pilot_inputs(wildcards):
    summaries = pilot_summaries(wildcards.dataset)
    return {
        "summaries": summaries,
        "histories": [
            path.replace("summary.json", "history.parquet") for path in summaries
        ],
    }


def run_budget(wildcards):
    """The budget file a main run reads B from, when the rule gives its dataset's B (a B set by
    hand is in the run's spec: its runs never wait for, or rerun after, the pilot)."""
    if not specs.rule_budget(config, wildcards.dataset):
        return []
    return f"results/budget/{wildcards.dataset}.json"


def all_budgets():
    return [
        f"results/budget/{dataset}.json" for dataset in specs.budget_datasets(config)
    ]
