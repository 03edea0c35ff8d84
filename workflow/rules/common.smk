# Paths, input functions, resources and wildcard constraints that several rule files share
# (a rule file's own sit at its top). The config checks and every job's spec come from the
# package (neuroevo.config.workflow, torch-free).
import os
import shlex
import sys
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.resources import Resources

REPOSITORY = Path(workflow.basedir)
sys.path.insert(0, str(REPOSITORY / "src"))  # for the config layer below, in any env
import neuroevo.config.workflow as specs
from neuroevo.config.discovery import comparison_runs as comparison_keys
from neuroevo.config.studies import study_seeds

# Jobs (`python -m neuroevo ...`) import the package from this checkout, also inside conda
# envs that hold only its dependencies (envs/neuroevo.yaml); cluster jobs rerun this file.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPOSITORY / "src"), os.environ.get("PYTHONPATH")])
    )
)

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


def all_summaries():
    return [
        f"results/runs/{dataset}/{optimizer}/{seed}/summary.json"
        for dataset in config["datasets"]
        for optimizer in config["optimizers"]
        for seed in study_seeds(config)  # the config's `seeds: N | list`, as a study's
    ]


def tuning_results(wildcards):
    """The train job's tuned values, when its optimizer is tuned."""
    if not specs.tuned(config, wildcards.optimizer):
        return []
    return f"results/tuning/{wildcards.dataset}/{wildcards.optimizer}.json"


def run_spec(wildcards):
    return specs.run_spec(config, wildcards.dataset, wildcards.optimizer)


def run_genome(wildcards):
    settings = specs.run_settings(config, wildcards.dataset, wildcards.optimizer)
    return specs.genome_inputs(settings)


def run_threads(wildcards):
    return specs.run_threads(config, wildcards.dataset)


def run_gpus(wildcards):
    return specs.dataset_gpus(config, wildcards.dataset)


def gpu_job_setting(resource, key, gpus):
    """A SLURM plugin resource (slurm_partition, slurm_account) of a rule whose jobs may ask
    for a GPU: cluster.KEY (gpu_partition, gpu_account) for the jobs that ask for one, when
    set; for the others the profile's default-resources value, which a rule's own resource
    would otherwise replace (None drops it: then SLURM's default applies)."""
    defaults = workflow.resource_settings.default_resources
    default = Resources.from_mapping(defaults or {}).get(resource)

    def setting(wildcards, **aux):
        if gpus(wildcards) and config["cluster"][key]:
            return config["cluster"][key]
        return default.evaluate(wildcards, **aux).value

    return setting


def gpu_partition(gpus):
    return gpu_job_setting("slurm_partition", "gpu_partition", gpus)


def gpu_account(gpus):
    return gpu_job_setting("slurm_account", "gpu_account", gpus)
