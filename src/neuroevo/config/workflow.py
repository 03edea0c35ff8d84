"""What the workflow takes from its config while it builds the DAG: the checks run before any
job (`check_config`), the study files (config/studies/NAME.yaml) and the spec of every job.

Torch-free and free of Snakemake: the Snakefile imports it, turns its ConfigError into a
WorkflowError and keeps paths, input functions and resources itself. A spec is JSON with
sorted keys because a rule's params are what Snakemake compares to decide on a rerun: a
change in one optimizer's block changes only that optimizer's specs, so only its jobs rerun.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
from collections.abc import Callable
from functools import cache
from pathlib import Path

from neuroevo.config import checks, discovery, inputs
from neuroevo.config.defaults import MIN_PROFILE_DATASETS, MIN_RANK_DATASETS
from neuroevo.config.names import IMAGE_DATASETS
from neuroevo.config.search_space import SearchSpaceError, check_search_space, check_tuning_seeds
from neuroevo.config.studies import StudyError, alignment_settings, check_study, study_seeds
from neuroevo.config.studies import run_spec as study_run_settings

STUDY_SCHEMA_PATH = checks.SCHEMA_PATH.with_name("study.schema.yaml")


class ConfigError(ValueError):
    """A config or study file that cannot run; the message names the key or the file."""


def check_config(config: dict, root: Path) -> None:
    """Every check of a config (already validated against its schema, defaults filled) before
    any job: what the schema's validate lets through (integers as 32.0, NaN, infinity), search
    spaces and tuning seeds, deep_ga's fitness_batch against each dataset's training set, the
    genome file (a regular file), each discovery study's comparison and each listed study's
    file (study_dir is relative to `root`, the checkout; only listed study files are read)."""
    try:
        checks.check_config(config)
        checks.check_training_budgets(config["training"], "training")  # also where every dataset overrides it
        for dataset in config["datasets"]:
            where = (
                f"training with dataset_overrides.{dataset}" if dataset in config["dataset_overrides"] else "training"
            )
            checks.check_training_budgets(training_settings(config, dataset), where)
        for optimizer, space in config["tuning"]["search_spaces"].items():
            check_search_space(optimizer, space, config["optimizer_settings"][optimizer])
        if config["tuning"]["enabled"]:
            check_tuning_seeds(config["tuning"]["seeds"], study_seeds(config))
    except (checks.SpecError, SearchSpaceError) as error:
        raise ConfigError(str(error)) from None
    check_ladder(config)
    check_models(config)
    subsamples = {dataset: training_settings(config, dataset).get("subsample") for dataset in config["datasets"]}
    try:
        deep_ga_tuned = {dataset for dataset in config["datasets"] if tuned(config, "deep_ga", dataset)}
        inputs.check_main_runs_inputs(config, subsamples, deep_ga_tuned)
    except ValueError as error:
        raise ConfigError(f"config: {error}") from None
    for name, study in config["discovery"].items():
        try:
            discovery.check_comparison(study, checks.config_schema())
        except ValueError as error:
            raise ConfigError(f"discovery.{name}: {error}") from None
    for name in config["studies"]:
        load_study(config, name, root)


def to_json(value: object) -> str:
    """The channel from rule to job: the same settings always give the same string."""
    return json.dumps(value, sort_keys=True)


# The main runs: dataset x optimizer x seed (the config is a study too: `seeds: N | list`, read
# by study_seeds).


def training_settings(config: dict, dataset: str) -> dict:
    """The training block with the dataset's overrides applied."""
    return {**config["training"], **config["dataset_overrides"].get(dataset, {})}


def model_settings(config: dict, dataset: str) -> dict:
    """The model block with the dataset's overrides applied."""
    return {**config["model"], **config.get("model_overrides", {}).get(dataset, {})}


def run_settings(config: dict, dataset: str, optimizer: str) -> dict:
    """Everything that shapes one main run's result, in the --spec layout of train and tune."""
    return {
        "model": model_settings(config, dataset),
        "training": training_settings(config, dataset),
        "hyperparameters": config["optimizer_settings"][optimizer],
    }


def run_threads(config: dict, dataset: str) -> int:
    """A run reserves as many cores as it runs torch threads (`training.threads`), so that
    runs under a wall-time budget never share cores."""
    return training_settings(config, dataset)["threads"]


def run_spec(config: dict, dataset: str, optimizer: str) -> str:
    return to_json(run_settings(config, dataset, optimizer))


def tuned(config: dict, optimizer: str, dataset: str | None = None) -> bool:
    """Whether an optimizer is tuned on `dataset` (None: on any of `datasets`): tuning is on,
    it has a non-empty search space, and tuning.datasets (null: every dataset) holds the
    dataset (a name not in `datasets` is ignored, so that a subset of them can run)."""
    tuning = config["tuning"]
    if not (tuning["enabled"] and tuning["search_spaces"].get(optimizer)):
        return False
    chosen = tuning.get("datasets")
    if chosen is None:
        return True
    return dataset in chosen if dataset is not None else any(name in chosen for name in config["datasets"])


def tuning_trials(config: dict, optimizer: str) -> int:
    """Completed tuning trials an optimizer needs: trials_per_dimension per dimension of its space."""
    return config["tuning"]["trials_per_dimension"] * max(1, len(config["tuning"]["search_spaces"][optimizer]))


def search_space_spec(config: dict, optimizer: str) -> str:
    return to_json(config["tuning"]["search_spaces"][optimizer])


def genome_inputs(settings: dict) -> list[str]:
    """The genome file a run's settings name (`evolved`'s genome_file), as the run's input, so
    that a changed genome reruns exactly the runs that train with it."""
    genome_file = settings["hyperparameters"].get("genome_file", "")
    return [genome_file] if genome_file else []


# The equal-budget ladder: per dataset with a budget_flops, pilot runs of the gradient optimizers
# (early stopping only) -> the budget job (B by budget_rule, or the hand-set one beside what the
# rule gives) -> every main run's rung marks, read from results/budget/DATASET.json.


def gradient_optimizers(config: dict) -> list[str]:
    """The configured optimizers of kind gradient (the registry's, as optimizers.schema.yaml has them)."""
    names = checks.optimizers_schema()["$defs"]["gradient_optimizer"]["enum"]
    return [optimizer for optimizer in config["optimizers"] if optimizer in names]


def rule_budget(config: dict, dataset: str) -> bool:
    """Whether the dataset's B comes from the rule (budget_flops: rule), so that its main runs
    read it from the budget job's file."""
    return training_settings(config, dataset)["budget_flops"] == "rule"


def budget_multiples(config: dict, dataset: str) -> list[float]:
    """The dataset's ladder: its rungs as multiples of B."""
    return [float(value) for value in training_settings(config, dataset).get("budget_multiples", [1])]


def early_stopping_settings(config: dict, dataset: str, optimizer: str) -> dict:
    """A run's settings without the equal-budget arm: what pilot runs and tuning trials train
    under (the early-stopping protocol), so neither depends on B."""
    settings = run_settings(config, dataset, optimizer)
    training = settings["training"] | {"budget_flops": None, "budget_multiples": [1]}
    return settings | {"training": training}


def early_stopping_spec(config: dict, dataset: str, optimizer: str) -> str:
    return to_json(early_stopping_settings(config, dataset, optimizer))


def budget_job_spec(config: dict, dataset: str) -> str:
    """What the budget job of a dataset reads besides the pilot runs: the rule's fraction, the
    margin, the ladder, the hand-set B (null: the rule's) and a run's cluster time limit."""
    budget = training_settings(config, dataset)["budget_flops"]
    return to_json(
        {
            "fraction": config["budget_rule"]["fraction"],
            "margin": config["report"]["equivalence_margin"],
            "multiples": budget_multiples(config, dataset),
            "hand_flops": None if budget == "rule" else budget,
            "run_minutes": run_minutes(config, dataset),
        }
    )


def check_models(config: dict) -> None:
    """ConfigError, naming the key, for a CNN on a dataset that is not images."""
    for dataset in config["datasets"]:
        if model_settings(config, dataset).get("kind") == "cnn" and dataset not in IMAGE_DATASETS:
            key = "model_overrides" if config.get("model_overrides", {}).get(dataset, {}).get("kind") else "model"
            where = f"{key}.{dataset}.kind" if key == "model_overrides" else "model.kind"
            raise ConfigError(
                f"{where}: cnn needs square images and {dataset} is not images; "
                f"give {dataset} kind: mlp (model_overrides.{dataset}), or use it on {', '.join(IMAGE_DATASETS)}"
            )


def check_ladder(config: dict) -> None:
    """ConfigError, naming the key, for a ladder that cannot run: budget_flops "rule" without a
    gradient optimizer to derive B from, or a primary endpoint rung that a dataset's ladder lacks."""
    gradient = gradient_optimizers(config)
    primary = config["report"].get("primary_endpoint", "parity")
    for dataset in budget_datasets(config):
        where = f"dataset_overrides.{dataset}" if dataset in config["dataset_overrides"] else "training"
        if training_settings(config, dataset)["budget_flops"] == "rule" and not gradient:
            raise ConfigError(
                f'{where}.budget_flops: "rule" derives B from the gradient optimizers\' runs, and `optimizers` '
                "has none; add one (sgd, adam, ...) or give budget_flops as a number"
            )
        multiples = budget_multiples(config, dataset)
        if primary != "parity" and float(primary) not in multiples:
            raise ConfigError(
                f"report.primary_endpoint: {primary} is not a rung of {dataset}'s ladder "
                f"({where}.budget_multiples: {multiples}); name one of them, or parity"
            )


# Studies (config/studies/NAME.yaml; see neuroevo.config.studies for how settings are layered).


def load_study(config: dict, name: str, root: Path) -> dict:
    """Study `name` from the config's study_dir, validated against study.schema.yaml with its
    defaults filled in and checked against the optimizers' blocks; ConfigError names the file
    and the key."""
    import yaml

    path = Path(root) / config["study_dir"] / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"study {name!r}: no study file {path}")
    try:
        study = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"invalid study file {path}: not valid YAML ({error})") from None
    if config.get("study_seeds") and isinstance(study, dict):  # the config's count for every study (the audit's)
        study["seeds"] = config["study_seeds"]
    try:
        problem = checks.non_finite_problem(study)  # YAML's .nan and .inf, which no schema keyword refuses
        if problem:
            raise StudyError(problem)
        _fill_and_validate(study)
        check_study(study, checks.config_schema())
        inputs.check_study_inputs(config, study)
    except StudyError as error:
        raise ConfigError(f"invalid study file {path}: {error}") from None
    return study


def study_missing_data(config: dict, study: dict, present: Callable[[str], bool]) -> str | None:
    """Why a study runs nothing, or None: it `needs_raw_files`, its dataset's are not `present`
    in data.dir and no download is allowed. The section prints it in place of results."""
    dataset, data_dir = study["dataset"], config["data"]["dir"]
    if not study.get("needs_raw_files") or config["data"]["download"] or present(dataset):
        return None
    return (
        f"not run: the {dataset} files are not in data.dir ({data_dir}) and data.download is false; put them "
        f"there in torchvision's layout, or set data.download: true, and rerun to fill this section"
    )


def _fill_and_validate(study: object) -> None:
    """Fills in the schema's defaults as Snakemake's validate does (each object's missing
    properties, at every depth), then raises StudyError naming the key of the best error."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_study_validator().iter_errors(study))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        message += f"; known here: {', '.join(sorted(error.schema.get('properties', {})))}"
    raise StudyError(f"{where}: {message}" if where else message)


@cache
def _study_validator():
    import jsonschema
    import yaml

    schema = checks.resolved(yaml.safe_load(STUDY_SCHEMA_PATH.read_text()), STUDY_SCHEMA_PATH)
    # Integers that are integers (max_epochs: 3.0 is refused), as in the config.
    base = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checks.strict_type_checker())
    check_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:  # a copy: studies never share a default's object
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})(schema)


def study_schema() -> dict:
    """study.schema.yaml with the parts of other schema files it refers to written in."""
    return _study_validator().schema


def study_settings(config: dict, study: dict, variant: str) -> dict:
    """One study run's settings, in the --spec layout (threads and genome file included)."""
    return study_run_settings(study, variant, config)


def alignment_spec(config: dict, study: dict) -> str:
    """The study-alignment command's --settings."""
    return to_json(alignment_settings(study, config))


# The prior-work audit (config `audit`; neuroevo.analysis.audit tests the claims).


def apply_stand_ins(config: dict, present: Callable[[str], bool]) -> dict[str, str]:
    """Puts each `audit.stand_ins` dataset in the place of the one it stands in for, in
    `datasets` and its `dataset_overrides`, when that one's files are not `present` and no
    download is allowed; returns what stood in for what (the audit says so)."""
    stood_in = {}
    for wanted, standing in config.get("audit", {}).get("stand_ins", {}).items():
        if wanted not in config["datasets"] or present(wanted) or config["data"]["download"]:
            continue
        config["datasets"] = [standing if name == wanted else name for name in config["datasets"]]
        overrides = config.setdefault("dataset_overrides", {})
        overrides[standing] = dict(overrides.get(wanted, {}))  # the protocol's, not the stand-in's own
        models = config.setdefault("model_overrides", {})
        if wanted in models:
            models[standing] = dict(models[wanted])
        tuning = config.get("tuning", {})
        if tuning.get("datasets") is not None:
            tuning["datasets"] = [standing if name == wanted else name for name in tuning["datasets"]]
        stood_in[wanted] = standing
    return stood_in


# Discovery studies (config `discovery`; see neuroevo.config.discovery for the comparison).


def discovery_studies(config: dict) -> list[str]:
    """The discovery studies of the report and `all`: none when `discovery_enabled` is false
    (a deep-merged --configfile or --config cannot remove the default's `small`), else those
    `discovery_studies` names (all when null); each is still a target of its own."""
    if not config["discovery_enabled"]:
        return []
    chosen = config.get("discovery_studies")
    return [name for name in config["discovery"] if chosen is None or name in chosen]


def comparison_dataset(config: dict, name: str, task: str) -> str:
    return discovery.task_named(config["discovery"][name], task)["dataset"]


def comparison_jobs(config: dict, name: str, task: str, genome_file: str) -> list[dict]:
    """What a comparison job of one task trains, per label: the optimizer, its `train` spec and
    the tuning result whose values it takes (a tuned baseline's; None for the others)."""
    study = config["discovery"][name]
    jobs = []
    for label in discovery.labels(study):
        optimizer, tuned = discovery.label_optimizer(label)
        jobs.append(
            {
                "label": label,
                "optimizer": optimizer,
                "spec": discovery.comparison_run_spec(study, task, label, genome_file),
                "tuned": f"results/discovery/{name}/tuning/{optimizer}.json" if tuned else None,
            }
        )
    return jobs


def baseline_tuning_spec(config: dict, name: str, optimizer: str) -> str:
    """What a baseline's tuning job varies and keeps: its fixed hyperparameters, its search
    space and the trial counts (null trials: the GA's genome evaluations)."""
    study = config["discovery"][name]
    tuning = discovery.comparison_settings(study)["tuning"]
    return to_json(
        {
            "hyperparameters": discovery.baseline_hyperparameters(study, optimizer),
            "space": discovery.baseline_search_space(study, optimizer),
            "trials": tuning["trials"],
            "startup_trials": tuning["startup_trials"],
        }
    )


def tuning_results_of(config: dict, name: str) -> list[str]:
    """Every tuned baseline's tuning result of study `name`."""
    tuned = discovery.comparison_settings(config["discovery"][name])["tuned"]
    return [f"results/discovery/{name}/tuning/{optimizer}.json" for optimizer in tuned]


def discovery_ga_spec(config: dict, name: str) -> str:
    """The GA's part of a study: editing the comparison does not rerun the GA."""
    study = config["discovery"][name]
    return to_json({key: study[key] for key in ("tasks", "settings")})


def discovery_ga_outputs(config: dict, name: str) -> list[str]:
    """What the GA of study `name` writes for its section; none when its comparison has no
    `evolved` (a study of the published rule alone runs no GA)."""
    if "evolved" not in discovery.labels(config["discovery"][name]):
        return []
    return [f"results/discovery/{name}/{file}" for file in ("best_genome.json", "summary.json", "fitness.png")]


def discovery_gpus(config: dict, name: str) -> int:
    """A GPU for the study's GA and comparison runs when its settings say device: cuda."""
    return 1 if config["discovery"][name].get("settings", {}).get("device", "cpu") == "cuda" else 0


# The report's figures (neuroevo.report.figures makes them).


def budget_datasets(config: dict) -> list[str]:
    """The datasets whose runs have the equal-budget arm (a budget_flops: a number or "rule")."""
    return [dataset for dataset in config["datasets"] if training_settings(config, dataset)["budget_flops"] is not None]


def report_figure_names(config: dict) -> list[str]:
    """The report-figures command's files for this config: per dataset its anytime curves and
    boxplots, per dataset with a FLOP budget its runtime ECDF and its ladder (test accuracy by
    rung), performance profiles with
    MIN_PROFILE_DATASETS of those, the critical-difference diagram with MIN_RANK_DATASETS datasets."""
    datasets, budgeted = config["datasets"], budget_datasets(config)
    names = [f"{dataset}_{kind}.png" for dataset in datasets for kind in ("cost", "test_acc")]
    names += [f"{dataset}_{kind}.png" for dataset in budgeted for kind in ("ecdf", "ladder")]
    if len(budgeted) >= MIN_PROFILE_DATASETS:
        names.append("performance_profile.png")
    if len(datasets) >= MIN_RANK_DATASETS:
        names.append("critical_difference.png")
    return names


# Cluster resources (config `cluster`), which the rules declare.


def run_group(config: dict, dataset: str) -> str | None:
    """On a cluster, runs of short datasets join the group "short_runs", so that several
    share one submission (the profile's group-components says how many); long runs keep
    a submission each. `--cores N` runs ignore groups."""
    cluster = config["cluster"]
    short = dataset in cluster["short_datasets"]
    return "short_runs" if short and dataset not in cluster["gpu_datasets"] else None


def run_minutes(config: dict, dataset: str) -> int:
    """Time limit of one training job on a cluster, in minutes."""
    cluster = config["cluster"]
    return cluster["short_run_minutes"] if dataset in cluster["short_datasets"] else cluster["run_minutes"]


def dataset_gpus(config: dict, dataset: str) -> int:
    """GPUs a training job asks the scheduler for (the SLURM plugin's `gpu` resource)."""
    return 1 if dataset in config["cluster"]["gpu_datasets"] else 0


def regenerate_command(configfiles: list, config_args: list | None) -> str:
    """What the report header gives as the command that regenerates it (the report rule's
    param): the run's --configfile and --config arguments, quoted, as it is meant to be
    pasted into a shell."""
    paths = [os.path.relpath(path) for path in configfiles]
    extra = "".join(f" --configfile {shlex.quote(path)}" for path in paths if path != "config.yaml")
    if config_args:  # --config KEY=VALUE ...
        extra += " --config " + " ".join(shlex.quote(arg) for arg in config_args)
    return f"snakemake --cores 2 --forcerun aggregate{extra}"
