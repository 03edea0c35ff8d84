# Config helpers, wildcard constraints and input functions. Logic lives in the package.
import json
import os
import sys
from pathlib import Path

REPOSITORY = Path(workflow.basedir)
sys.path.insert(0, str(REPOSITORY / "src"))  # for the config checks below, in any env
from neuroevo.search_space import check_search_space, check_tuning_seeds

# Jobs (`python -m neuroevo ...`) import the package from this checkout, also inside conda
# envs that hold only its dependencies (envs/neuroevo.yaml); cluster jobs rerun this file.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPOSITORY / "src"), os.environ.get("PYTHONPATH")])
    )
)


def check_tuning_config():
    """What the schema cannot say: bounds in order, log bounds positive, tuned keys that the
    optimizer has, tuning seeds disjoint from evaluation seeds. Before any job starts.
    """
    for optimizer, space in config["tuning"]["search_spaces"].items():
        check_search_space(optimizer, space, config["optimizer_settings"][optimizer])
    if config["tuning"]["enabled"]:
        check_tuning_seeds(config["tuning"]["seeds"], seeds())


wildcard_constraints:
    dataset="[a-z][a-z0-9_]*",
    optimizer="[a-z][a-z0-9_]*",
    seed=r"\d+",


def seeds():
    """`seeds: N` means seeds 0..N-1; a list is taken as it is."""
    value = config["seeds"]
    return list(range(value)) if isinstance(value, int) else list(value)


def run_dir(dataset, optimizer, seed):
    return f"results/runs/{dataset}/{optimizer}/{seed}"


def all_summaries():
    return [
        f"{run_dir(dataset, optimizer, seed)}/summary.json"
        for dataset in config["datasets"]
        for optimizer in config["optimizers"]
        for seed in seeds()
    ]


def tuned(optimizer):
    """Whether an optimizer is tuned: tuning is on and it has a non-empty search space."""
    return config["tuning"]["enabled"] and bool(
        config["tuning"]["search_spaces"].get(optimizer)
    )


def tuning_results(wildcards):
    """The train job's tuned values, when its optimizer is tuned."""
    if not tuned(wildcards.optimizer):
        return []
    return f"results/tuning/{wildcards.dataset}/{wildcards.optimizer}.json"


def all_tuning_results():
    return [
        f"results/tuning/{dataset}/{optimizer}.json"
        for dataset in config["datasets"]
        for optimizer in config["optimizers"]
        if tuned(optimizer)
    ]


def training_settings(dataset):
    """The training block with the dataset's overrides applied."""
    return {**config["training"], **config["dataset_overrides"].get(dataset, {})}


def run_spec(wildcards):
    """Everything that shapes one run's result, as JSON: a change in one optimizer's block
    changes only that optimizer's specs, so Snakemake reruns only its jobs."""
    spec = {
        "model": config["model"],
        "training": training_settings(wildcards.dataset),
        "hyperparameters": config["optimizer_settings"][wildcards.optimizer],
    }
    return json.dumps(spec, sort_keys=True)


def train_group(wildcards):
    """On a cluster, runs of short datasets join the group "short_runs", so that several
    share one submission (the profile's group-components says how many); long runs keep
    a submission each. `--cores N` runs ignore groups."""
    cluster = config["cluster"]
    short = wildcards.dataset in cluster["short_datasets"]
    return (
        "short_runs"
        if short and wildcards.dataset not in cluster["gpu_datasets"]
        else None
    )


def run_minutes(wildcards):
    """Time limit of one training job on a cluster, in minutes."""
    cluster = config["cluster"]
    short = wildcards.dataset in cluster["short_datasets"]
    return cluster["short_run_minutes"] if short else cluster["run_minutes"]


def gpus_for_run(wildcards):
    """GPUs a training job asks the scheduler for (the SLURM plugin's `gpu` resource)."""
    return 1 if wildcards.dataset in config["cluster"]["gpu_datasets"] else 0


check_tuning_config()
