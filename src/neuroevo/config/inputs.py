"""The checks of a config's and a study's settings against what only the data's size or the
file system can say, run while the workflow builds the DAG: deep_ga's fitness_batch against
the training set it draws from (its size known without reading the data), and the files
settings name (genome_file) regular files. Torch-free, like the rest of neuroevo.config."""

from __future__ import annotations

from neuroevo.config.defaults import SPLIT_FRACTION
from neuroevo.config.limits import DATASET_EXAMPLES, check_input_file, training_examples
from neuroevo.config.studies import StudyError
from neuroevo.config.studies import run_spec as study_run_settings


def fitness_batch_problem(fitness_batch: object, dataset: str, data: dict, subsample: int | None) -> str | None:
    """Why deep_ga's `fitness_batch` cannot be drawn from the training set of `dataset` (its size
    known without reading it: neuroevo.config.limits.training_examples, with the config's
    `data` fractions and the run's training.subsample), or None. The run would fail when it
    starts; the workflow refuses it when it builds the DAG."""
    if isinstance(fitness_batch, bool) or not isinstance(fitness_batch, int) or dataset not in DATASET_EXAMPLES:
        return None  # minibatch, full: always fine (a wrong type is the schema's to refuse)
    val, test = data.get("val_fraction", SPLIT_FRACTION), data.get("test_fraction", SPLIT_FRACTION)
    n_train = training_examples(dataset, val, test, subsample)
    if fitness_batch <= n_train:
        return None
    cut = f", training.subsample {subsample}" if subsample and n_train == subsample else ""
    return (
        f"{fitness_batch} is larger than the training set of {dataset} ({n_train} examples{cut}); use 'full' for "
        f"all of them, or a size of at most {n_train}"
    )


def check_main_runs_inputs(config: dict, subsamples: dict[str, int | None], deep_ga_tuned: set[str]) -> None:
    """The main runs' settings that need the data's size or the file system, as a ValueError
    naming the key: deep_ga's fitness_batch (and, when it is tuned, its search space's values)
    against each dataset's training set (`subsamples`: each dataset's training.subsample;
    `deep_ga_tuned`: the datasets deep_ga is tuned on), and
    `evolved`'s genome_file, which must be a regular file when it exists (a rule may make it)."""
    optimizers = config["optimizers"]
    if "deep_ga" in optimizers:
        batch = config["optimizer_settings"].get("deep_ga", {}).get("fitness_batch")
        tried = config["tuning"]["search_spaces"].get("deep_ga", {}).get("fitness_batch", {})
        searched = [("tuning.search_spaces.deep_ga.fitness_batch.high", tried.get("high"))]
        searched += [
            ("tuning.search_spaces.deep_ga.fitness_batch.choices", value) for value in tried.get("choices", [])
        ]
        for dataset, subsample in subsamples.items():
            candidates = [("optimizer_settings.deep_ga.fitness_batch", batch)]
            candidates += searched if dataset in deep_ga_tuned else []
            for key, value in candidates:
                problem = fitness_batch_problem(value, dataset, config["data"], subsample)
                if problem:
                    raise ValueError(f"{key}: {problem}")
    if "evolved" in optimizers:
        genome_file = config["optimizer_settings"].get("evolved", {}).get("genome_file")
        if genome_file:
            check_input_file(genome_file, "optimizer_settings.evolved.genome_file")


def check_study_inputs(config: dict, study: dict) -> None:
    """What a study's runs need of the data and the file system, as for the main runs: each
    deep_ga variant's fitness_batch against the study dataset's training set (after the run's
    training.subsample), and the files its settings name (genome_file) regular files."""
    for label, variant in study["variants"].items():
        settings = study_run_settings(study, label, config)
        hyperparameters = settings["hyperparameters"]
        if variant["optimizer"] == "deep_ga":
            subsample = settings["training"].get("subsample")
            problem = fitness_batch_problem(
                hyperparameters.get("fitness_batch"), study["dataset"], config.get("data", {}), subsample
            )
            if problem:
                raise StudyError(f"variants.{label}.settings.fitness_batch (deep_ga): {problem}")
        for key, value in sorted(hyperparameters.items()):
            if key.endswith("_file") and isinstance(value, str) and value:
                try:
                    check_input_file(value, f"variants.{label}.settings.{key}")
                except ValueError as error:
                    raise StudyError(str(error)) from None
