"""Studies (config/studies/NAME.yaml, described by workflow/schemas/study.schema.yaml):
what each run of a study is, as plain dicts.

Imports nothing heavy (no torch, no pandas): the workflow uses it while it builds the DAG,
to check a study before any job and to give every run its spec. A study leaves out what
the main config already says, so the settings of a run are layered:

    model:           config model <- study model (never the main runs' model_overrides)
    training:        config training <- dataset_overrides[dataset] <- study training <- variant training
    hyperparameters: config optimizer_settings[optimizer] <- study optimizer_settings[optimizer] <- variant settings
"""

from __future__ import annotations

from neuroevo.config.checks import resolved, strict_validator
from neuroevo.config.defaults import ALIGNMENT_SIGMA


class StudyError(ValueError):
    """A study the schema lets through but that cannot run; the message names the key."""


def study_seeds(study: dict) -> list[int]:
    """`seeds: N` means seeds 0..N-1; a list is taken as it is."""
    value = study.get("seeds", 3)
    return list(range(value)) if isinstance(value, int) else list(value)


def _settings(study: dict, label: str) -> dict:
    variant = study["variants"][label]
    shared = study.get("optimizer_settings", {}).get(variant["optimizer"], {})
    return shared | variant.get("settings", {})


def check_study(study: dict, config_schema: dict) -> None:
    """What the study schema cannot say: every variant's optimizer is one the config knows,
    and its settings (the study's shared ones included) fit that optimizer's block of the
    config schema, so a misspelt hyperparameter is refused before any job. Figure names
    are unique (each is a file). `config_schema` as read from config.schema.yaml, or resolved.
    Integers must be ints, as in the config (2.0 is refused)."""
    import jsonschema

    config_schema = resolved(config_schema)  # the optimizer blocks are in optimizers.schema.yaml
    blocks = config_schema["properties"]["optimizer_settings"]["properties"]
    known = ", ".join(sorted(blocks))
    for optimizer in study.get("optimizer_settings", {}):
        if optimizer not in blocks:
            raise StudyError(f"optimizer_settings: unknown optimizer {optimizer!r}; known: {known}")
    for label, variant in study["variants"].items():
        optimizer = variant["optimizer"]
        if optimizer not in blocks:
            raise StudyError(f"variants.{label}.optimizer: unknown optimizer {optimizer!r}; known: {known}")
        block = blocks[optimizer] | {"$defs": config_schema.get("$defs", {})}  # the block's $refs point there
        error = jsonschema.exceptions.best_match(strict_validator(block).iter_errors(_settings(study, label)))
        if error is not None:
            where = "".join(f".{part}" for part in error.absolute_path)
            raise StudyError(f"variants.{label}.settings{where} ({optimizer}): {error.message}")
    # A study's runs take their budget as a number: the rule and the ladder are the main runs'.
    blocks_training = [("training", study.get("training", {}))] + [
        (f"variants.{label}.training", variant.get("training", {})) for label, variant in study["variants"].items()
    ]
    for where, training in blocks_training:
        if training.get("budget_flops") == "rule":
            raise StudyError(f'{where}.budget_flops: "rule" is for the main runs; give a study\'s budget as a number')
        if list(training.get("budget_multiples", [1])) != [1]:
            raise StudyError(f"{where}.budget_multiples: a study's runs have one budget; remove the key")
    if study.get("verdict"):  # the verdicts compare variants at one budget
        for label, variant in study["variants"].items():
            clashing = sorted(
                set(variant.get("training", {})) & {"budget_flops", "max_seconds", "max_sample_evals", "max_steps"}
            )
            if clashing:
                raise StudyError(
                    f"variants.{label}.training.{clashing[0]}: a study with verdict: true compares its variants at "
                    "one budget; give it in the study's training block, not per variant"
                )
    names = [figure["name"] for figure in study["figures"]]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise StudyError(f"figures: name(s) used more than once: {', '.join(repeated)}")


# The main runs' equal-budget arm and ladder, which a study's runs never take from the config.
MAIN_RUNS_ONLY = ("budget_flops", "budget_multiples")


def study_model(study: dict, config: dict) -> dict:
    """The config's model, then the study's own: a study says its network itself (the main
    runs' model_overrides are not its, as their budgets are not)."""
    return config.get("model", {}) | study.get("model", {})


def run_spec(study: dict, label: str, config: dict) -> dict:
    """The spec of one run of variant `label`, in the train command's --spec format."""
    variant = study["variants"][label]
    optimizer = variant["optimizer"]
    dataset_overrides = config.get("dataset_overrides", {}).get(study["dataset"], {})
    # A study compares its variants under its own protocol: the main runs' equal-budget arm
    # stays theirs (a study's training block may give budget_flops itself).
    dataset_overrides = {key: value for key, value in dataset_overrides.items() if key not in MAIN_RUNS_ONLY}
    base_training = {key: value for key, value in config.get("training", {}).items() if key not in MAIN_RUNS_ONLY}
    return {
        "model": study_model(study, config),
        "training": base_training | dataset_overrides | study.get("training", {}) | variant.get("training", {}),
        "hyperparameters": config.get("optimizer_settings", {}).get(optimizer, {}) | _settings(study, label),
    }


def alignment_settings(study: dict, config: dict) -> dict:
    """The alignment block with defaults, the study's seeds and the model's activation:
    everything that shapes the measurement (the study-alignment command's --settings)."""
    block = {"sigma": ALIGNMENT_SIGMA, "rank_shaping": True, "batches": 4, "batch_size": 256} | study["alignment"]
    activation = study_model(study, config).get("activation", "relu")
    return block | {"seeds": study_seeds(study), "activation": activation}
