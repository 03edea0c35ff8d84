# Config helpers, wildcard constraints and input functions. Logic lives in the package.
import json
import os
import shlex
import sys
from functools import cache
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.resources import Resources

REPOSITORY = Path(workflow.basedir)
sys.path.insert(0, str(REPOSITORY / "src"))  # for the config checks below, in any env
from neuroevo.config.search_space import check_search_space, check_tuning_seeds
from neuroevo.config.studies import StudyError, alignment_settings, check_study, study_seeds
from neuroevo.config.studies import run_spec as study_run_spec
from neuroevo.config import discovery as discovery_protocol
from neuroevo.config.checks import SpecError, check_config

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


def run_threads(wildcards):
    """A run reserves as many cores as it runs torch threads (`training.threads`), so that
    runs under a wall-time budget never share cores."""
    return training_settings(wildcards.dataset)["threads"]


def run_settings(wildcards):
    """Everything that shapes one run's result: a change in one optimizer's block changes
    only that optimizer's specs, so Snakemake reruns only its jobs."""
    return {
        "model": config["model"],
        "training": training_settings(wildcards.dataset),
        "hyperparameters": config["optimizer_settings"][wildcards.optimizer],
    }


def run_spec(wildcards):
    """One run's settings as JSON, the train and tune commands' --spec."""
    return json.dumps(run_settings(wildcards), sort_keys=True)


def genome_input(spec):
    """The genome file a run's settings name (`evolved`'s genome_file), as an input, so that
    a changed genome reruns exactly the runs that train with it."""
    genome_file = spec["hyperparameters"].get("genome_file", "")
    return genome_file or []


def run_genome(wildcards):
    return genome_input(run_settings(wildcards))


def run_group(dataset):
    """On a cluster, runs of short datasets join the group "short_runs", so that several
    share one submission (the profile's group-components says how many); long runs keep
    a submission each. `--cores N` runs ignore groups."""
    cluster = config["cluster"]
    short = dataset in cluster["short_datasets"]
    return "short_runs" if short and dataset not in cluster["gpu_datasets"] else None


def dataset_run_minutes(dataset):
    """Time limit of one training job on a cluster, in minutes."""
    cluster = config["cluster"]
    short = dataset in cluster["short_datasets"]
    return cluster["short_run_minutes"] if short else cluster["run_minutes"]


def dataset_gpus(dataset):
    """GPUs a training job asks the scheduler for (the SLURM plugin's `gpu` resource)."""
    return 1 if dataset in config["cluster"]["gpu_datasets"] else 0


def train_group(wildcards):
    return run_group(wildcards.dataset)


def run_minutes(wildcards):
    return dataset_run_minutes(wildcards.dataset)


def gpus_for_run(wildcards):
    return dataset_gpus(wildcards.dataset)


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


# Studies (config/studies/NAME.yaml): see workflow/rules/studies.smk.
CONFIG_SCHEMA = yaml.safe_load(
    (REPOSITORY / "workflow/schemas/config.schema.yaml").read_text()
)


@cache
def load_study(name):
    """The study file, validated and with the schema's defaults; a bad one stops the
    workflow before any job, with the file and the key named."""
    path = REPOSITORY / config["study_dir"] / f"{name}.yaml"
    if not path.exists():
        raise WorkflowError(f"study {name!r}: no study file {path}")
    study = yaml.safe_load(path.read_text())
    try:
        validate(study, str(REPOSITORY / "workflow/schemas/study.schema.yaml"))
        check_study(study, CONFIG_SCHEMA)
    except (WorkflowError, StudyError) as error:
        raise WorkflowError(f"invalid study file {path}: {error}") from None
    return study


wildcard_constraints:
    study="[a-z0-9][a-z0-9_]*",
    variant="[a-z0-9][a-z0-9_.]*",


def study_dataset(wildcards):
    return load_study(wildcards.study)["dataset"]


def study_optimizer(wildcards):
    return load_study(wildcards.study)["variants"][wildcards.variant]["optimizer"]


def study_data(wildcards):
    return f"resources/data/{study_dataset(wildcards)}.npz"


def study_runs(name):
    study = load_study(name)
    return [
        f"results/studies/{name}/{variant}/{seed}/summary.json"
        for variant in study["variants"]
        for seed in study_seeds(study)
    ]


def study_alignment(wildcards):
    """The alignment measurement, for studies with an `alignment` block."""
    if "alignment" not in load_study(wildcards.study):
        return []
    return f"results/studies/{wildcards.study}/alignment.parquet"


def study_run_threads(wildcards):
    """The cores of a study run: its torch threads, as `run_threads`."""
    spec = study_run_spec(load_study(wildcards.study), wildcards.variant, config)
    return spec["training"]["threads"]


def study_spec(wildcards):
    """One study run's spec as JSON (see neuroevo.config.studies for how settings are layered)."""
    study = load_study(wildcards.study)
    return json.dumps(study_run_spec(study, wildcards.variant, config), sort_keys=True)


def study_genome(wildcards):
    study = load_study(wildcards.study)
    return genome_input(study_run_spec(study, wildcards.variant, config))


def study_gpus(wildcards):
    return dataset_gpus(study_dataset(wildcards))


def study_sections():
    return [f"results/studies/{name}/study.md" for name in config["studies"]]


wildcard_constraints:
    name="[a-z0-9][a-z0-9_]*",


def discovery_studies():
    """The discovery studies of the report and `all`: none when `discovery_enabled` is false
    (a deep-merged --configfile or --config cannot remove the default's `small`); each is
    still a target of its own."""
    return list(config["discovery"]) if config["discovery_enabled"] else []


def discovery_sections():
    """The report section of every discovery study: it needs the study and its comparison."""
    return [f"results/discovery/{name}/section.md" for name in discovery_studies()]


def comparison_runs(name):
    return [
        f"results/discovery/{name}/comparison/{dataset}/{optimizer}/{seed}/summary.json"
        for dataset, optimizer, seed in discovery_protocol.comparison_runs(
            config["discovery"][name]
        )
    ]


def all_comparison_runs():
    return [path for name in discovery_studies() for path in comparison_runs(name)]


def comparison_settings(wildcards):
    study = config["discovery"][wildcards.name]
    genome = f"results/discovery/{wildcards.name}/best_genome.json"
    return discovery_protocol.comparison_run_spec(
        study, wildcards.dataset, wildcards.optimizer, genome
    )


def comparison_genome(wildcards):
    """The genome the run trains with: the study's best genome for the evolved runs."""
    return genome_input(comparison_settings(wildcards))


def comparison_spec(wildcards):
    return json.dumps(comparison_settings(wildcards), sort_keys=True)


def discovery_ga_block(wildcards):
    """The GA's part of a study (JSON): editing the comparison does not rerun the GA."""
    study = config["discovery"][wildcards.name]
    return json.dumps(
        {key: study[key] for key in ("tasks", "settings")}, sort_keys=True
    )


def discovery_gpus(wildcards):
    """A GPU for the study's GA and comparison runs when its settings say device: cuda."""
    device = (
        config["discovery"][wildcards.name].get("settings", {}).get("device", "cpu")
    )
    return 1 if device == "cuda" else 0


def comparison_group(wildcards):
    """CPU comparison runs take seconds: on a cluster several share a submission."""
    return None if discovery_gpus(wildcards) else "short_runs"


def check_discovery_config():
    """Each discovery study's comparison, before any job; errors name the study and key."""
    for name, study in config["discovery"].items():
        try:
            discovery_protocol.check_comparison(study, CONFIG_SCHEMA)
        except ValueError as error:
            raise WorkflowError(f"discovery.{name}: {error}") from None


def discovery_data(wildcards):
    """Prepared data of a discovery study's tasks, by dataset."""
    tasks = config["discovery"][wildcards.name]["tasks"]
    return {task["dataset"]: f"resources/data/{task['dataset']}.npz" for task in tasks}


def report_figures():
    """The report's figures, one cost curve and one boxplot per dataset, and the ranks."""
    per_dataset = [
        f"results/report/figures/{dataset}_{kind}.png"
        for dataset in config["datasets"]
        for kind in ("cost", "test_acc")
    ]
    return per_dataset + ["results/report/figures/critical_difference.png"]


def regenerate_command():
    """What the report header gives as the command that regenerates it; paths quoted, as
    it is meant to be pasted into a shell."""
    configfiles = [os.path.relpath(path) for path in workflow.overwrite_configfiles]
    extra = "".join(
        f" --configfile {shlex.quote(path)}"
        for path in configfiles
        if path != "config.yaml"
    )
    config_args = workflow.config_settings.config_args or []  # --config KEY=VALUE ...
    if config_args:
        extra += " --config " + " ".join(shlex.quote(arg) for arg in config_args)
    return f"snakemake --cores 2 --forcerun aggregate{extra}"


def all_study_runs():
    return [path for name in config["studies"] for path in study_runs(name)]


try:  # what the schema's validate lets through: 32.0 for an integer, .nan, .inf
    check_config(config)
except SpecError as error:
    raise WorkflowError(str(error)) from None
check_tuning_config()
check_discovery_config()
for name in config["studies"]:  # the report's studies are checked before any job
    load_study(name)
