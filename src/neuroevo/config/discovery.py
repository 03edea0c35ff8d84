"""The comparison protocol of a discovery study (write-up section 5) as plain dicts: which
runs it makes and the `train` spec of each. Imports nothing heavy (no torch): the workflow
uses it while it builds the DAG, to check a study's `comparison` block before any job and
to give every comparison run its spec.

Comparison seeds must differ from the seeds the GA selected the rule on, so that the rule
is not scored on the runs it was picked for.
"""

from __future__ import annotations

from neuroevo.config.checks import optimizers_schema, resolved


def compared() -> tuple[str, ...]:
    """The optimizers a comparison may include: those of kind gradient (a task may be a CNN,
    which only they train), as `python -m neuroevo schema` wrote them from the registry."""
    return tuple(optimizers_schema()["$defs"]["gradient_optimizer"]["enum"])


# The write-up does not give its baselines' settings: these are the usual defaults (SGD with
# momentum 0.9, torch's lr for Adam and RMSprop, AdamW's usual decay). Config values win.
DEFAULT_HYPERPARAMETERS = {
    "sgd": {"lr": 0.01, "momentum": 0.9},
    "rmsprop": {"lr": 0.001},
    "adam": {"lr": 0.001},
    "adamw": {"lr": 0.001, "weight_decay": 0.01},
}
# The default selection (in the order the section lists them); compared() is what may be chosen.
COMPARISON_DEFAULTS = {
    "optimizers": ["evolved", "evolved_prior", "sgd", "rmsprop", "adam", "adamw"],
    "seeds": [100, 101, 102, 103, 104, 105, 106, 107],
    "max_steps": 1000,
    "hyperparameters": {},
}
TASK_DEFAULTS = {"model": "mlp", "hidden": 32, "subsample": 15000, "batch_size": 128, "augment": False}
SET_BY_PROTOCOL = ("genome_file", "total_steps")  # the study's genome and max_steps


def comparison_settings(study: dict) -> dict:
    return COMPARISON_DEFAULTS | study.get("comparison", {})


def ga_seeds(study: dict) -> list[int]:
    return study.get("settings", {}).get("seeds", [0])


def check_comparison(study: dict, config_schema: dict) -> None:
    """What the schema cannot say; raises ValueError naming the key. `config_schema` as read
    from config.schema.yaml, or resolved."""
    compared_optimizers = compared()
    comparison = comparison_settings(study)
    datasets = [task["dataset"] for task in study["tasks"]]
    repeated = sorted({name for name in datasets if datasets.count(name) > 1})
    if repeated:
        raise ValueError(f"tasks: dataset(s) {', '.join(repeated)} appear twice; a task is named by its dataset")
    unknown = [name for name in comparison["optimizers"] if name not in compared_optimizers]
    if unknown:
        raise ValueError(
            f"comparison.optimizers: {', '.join(unknown)} cannot be compared; known: {', '.join(compared_optimizers)}"
        )
    blocks = resolved(config_schema)["properties"]["optimizer_settings"]["properties"]
    for name, values in comparison["hyperparameters"].items():
        if name not in compared_optimizers:
            raise ValueError(
                f"comparison.hyperparameters.{name}: not a compared optimizer; known: {', '.join(compared_optimizers)}"
            )
        known = set(blocks[name]["properties"]) - set(SET_BY_PROTOCOL)
        extra = sorted(set(values) - known)
        if extra:
            raise ValueError(
                f"comparison.hyperparameters.{name}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known)) or 'none'}"
            )
    shared = sorted(set(comparison["seeds"]) & set(ga_seeds(study)))
    if shared:
        raise ValueError(
            f"comparison.seeds: seed(s) {', '.join(map(str, shared))} are also the GA's settings.seeds; "
            "the rule would be scored on the runs it was selected on"
        )


def comparison_runs(study: dict) -> list[tuple[str, str, int]]:
    """(task dataset, optimizer, seed) of every comparison run."""
    comparison = comparison_settings(study)
    return [
        (task["dataset"], optimizer, seed)
        for task in study["tasks"]
        for optimizer in comparison["optimizers"]
        for seed in comparison["seeds"]
    ]


def comparison_run_spec(study: dict, dataset: str, optimizer: str, genome_file: str) -> dict:
    """The `train` spec of one comparison run: the task's model, batch and subsample, exactly
    max_steps minibatches (the epoch and patience limits never bind), on the study's device."""
    comparison = comparison_settings(study)
    task = TASK_DEFAULTS | next(task for task in study["tasks"] if task["dataset"] == dataset)
    hyperparameters = DEFAULT_HYPERPARAMETERS.get(optimizer, {}) | comparison["hyperparameters"].get(optimizer, {})
    if optimizer.startswith("evolved"):
        hyperparameters |= {"total_steps": comparison["max_steps"]}  # the horizon of the rule's cosine decay
    if optimizer == "evolved":
        hyperparameters |= {"genome_file": str(genome_file)}
    steps = comparison["max_steps"]
    return {
        "model": {"kind": task["model"], "hidden": task["hidden"]},
        "training": {
            "batch_size": task["batch_size"],
            "max_steps": steps,
            "max_epochs": steps,
            "patience": steps,
            "subsample": task["subsample"],
            "augment": task["augment"],
            "device": study.get("settings", {}).get("device", "cpu"),
        },
        "hyperparameters": hyperparameters,
    }
