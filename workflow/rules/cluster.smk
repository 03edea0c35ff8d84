# Cluster resources of the rules: the GPUs a job asks for, and the SLURM partition and
# account of the jobs that ask for one. `--cores N` runs ignore them.
from snakemake.resources import Resources


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


def study_gpus(wildcards):
    return specs.dataset_gpus(config, study_dataset(wildcards))


def discovery_gpus(wildcards):
    return specs.discovery_gpus(config, wildcards.name)


def block_minutes(run_minutes, runs):
    """A block's SLURM time limit: its runs' limits (`run_minutes(wildcards)` each) added up,
    at most cluster.run_minutes (a block cut off resumes when resubmitted: its finished runs
    are restored, the one in flight from its checkpoint)."""
    cap = max(config["cluster"]["run_minutes"], config["cluster"]["short_run_minutes"])
    return lambda wildcards: min(cap, runs * run_minutes(wildcards))


def dataset_run_minutes(dataset):
    """The time limit of one run of the dataset that `dataset(wildcards)` names."""
    return lambda wildcards: specs.run_minutes(config, dataset(wildcards))
