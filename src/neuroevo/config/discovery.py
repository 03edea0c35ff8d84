"""The comparison protocol of a discovery study (write-up section 5) as plain dicts: which
runs it makes and the `train` spec of each. Imports nothing heavy (no torch): the workflow
uses it while it builds the DAG, to check a study's `comparison` block before any job and
to give every comparison run its spec.

Comparison seeds must differ from the seeds the GA selected the rule on, so that the rule
is not scored on the runs it was picked for. Tuned baselines (`comparison.tuned`) are tuned on
the GA's tasks and seeds (neuroevo.discovery.baselines) and run under the label NAME_tuned;
held-out tasks (`comparison.held_out`) are compared on, never selected on.
"""

from __future__ import annotations

from neuroevo.config.checks import optimizers_schema, resolved
from neuroevo.config.search_space import check_search_space


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
TUNED_SUFFIX = "_tuned"  # the label of a tuned baseline's runs: adam_tuned
SCHEDULE_CHOICES = ["constant", "warmup_cosine"]
TUNING_DEFAULTS = {"trials": None, "startup_trials": 4, "search_spaces": {}}
# The default selection (in the order the section lists them); compared() is what may be chosen.
COMPARISON_DEFAULTS = {
    "optimizers": ["evolved", "evolved_prior", "sgd", "rmsprop", "adam", "adamw"],
    "tuned": ["sgd", "rmsprop", "adam", "adamw"],
    "tuning": TUNING_DEFAULTS,
    "held_out": [],
    "seeds": [100, 101, 102, 103, 104, 105, 106, 107],
    "max_steps": 1000,
    "hyperparameters": {},
}
TASK_DEFAULTS = {"model": "mlp", "hidden": 32, "subsample": 15000, "batch_size": 128, "augment": False}
SET_BY_PROTOCOL = ("genome_file", "total_steps")  # the study's genome and max_steps


def comparison_settings(study: dict) -> dict:
    comparison = COMPARISON_DEFAULTS | study.get("comparison", {})
    return comparison | {"tuning": TUNING_DEFAULTS | comparison["tuning"]}


def ga_seeds(study: dict) -> list[int]:
    return study.get("settings", {}).get("seeds", [0])


def _named(task: dict) -> dict:
    return TASK_DEFAULTS | {"name": task["dataset"]} | task


def ga_tasks(study: dict) -> list[dict]:
    """The GA's tasks, with their defaults and names (a task's name defaults to its dataset's)."""
    return [_named(task) for task in study["tasks"]]


def held_out_tasks(study: dict) -> list[dict]:
    """The comparison's tasks the GA never saw."""
    return [_named(task) for task in comparison_settings(study)["held_out"]]


def comparison_tasks(study: dict) -> list[dict]:
    return ga_tasks(study) + held_out_tasks(study)


def task_named(study: dict, name: str) -> dict:
    return next(task for task in comparison_tasks(study) if task["name"] == name)


def labels(study: dict) -> list[str]:
    """What the comparison's runs are filed under: each optimizer, then each tuned baseline."""
    comparison = comparison_settings(study)
    return comparison["optimizers"] + [name + TUNED_SUFFIX for name in comparison["tuned"]]


def label_optimizer(label: str) -> tuple[str, bool]:
    """The optimizer a label runs, and whether with its tuned values."""
    if label.endswith(TUNED_SUFFIX):
        return label[: -len(TUNED_SUFFIX)], True
    return label, False


def tunable(config_schema: dict) -> list[str]:
    """The compared optimizers that have a learning-rate schedule to tune (the torch.optim ones)."""
    blocks = resolved(config_schema)["properties"]["optimizer_settings"]["properties"]
    return [name for name in compared() if "schedule" in blocks[name]["properties"]]


def baseline_hyperparameters(study: dict, optimizer: str) -> dict:
    """A baseline's fixed hyperparameters: the defaults below, then the config's."""
    return DEFAULT_HYPERPARAMETERS.get(optimizer, {}) | comparison_settings(study)["hyperparameters"].get(optimizer, {})


def baseline_search_space(study: dict, optimizer: str) -> dict:
    """What a tuned baseline's study varies: the config's space for it, else its learning rate
    over the registry's range and the schedule (constant or warmup_cosine)."""
    spaces = comparison_settings(study)["tuning"]["search_spaces"]
    if optimizer in spaces:
        return spaces[optimizer]
    lr = optimizers_schema()["$defs"]["search_spaces"]["properties"][optimizer]["default"]["lr"]
    return {"lr": lr, "schedule": {"distribution": "categorical", "choices": SCHEDULE_CHOICES}}


def check_comparison(study: dict, config_schema: dict) -> None:
    """What the schema cannot say; raises ValueError naming the key. `config_schema` as read
    from config.schema.yaml, or resolved."""
    compared_optimizers = compared()
    comparison = comparison_settings(study)
    names = [task["name"] for task in ga_tasks(study)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"tasks: {', '.join(repeated)} appear(s) twice; a task is named by its dataset unless given a `name`"
        )
    held_out = held_out_tasks(study)
    for index, task in enumerate(held_out):
        if task["name"] in names or [task["name"] for task in held_out].count(task["name"]) > 1:
            raise ValueError(
                f"comparison.held_out[{index}]: the name {task['name']!r} is taken; give the task a `name` of its own"
            )
        seen = [other for other in ga_tasks(study) if _same_task(task, other)]
        if seen:
            raise ValueError(
                f"comparison.held_out[{index}]: the GA trains on this task ({seen[0]['name']}); a held-out task must "
                "differ in its dataset or model"
            )
    unknown = [name for name in comparison["optimizers"] if name not in compared_optimizers]
    if unknown:
        raise ValueError(
            f"comparison.optimizers: {', '.join(unknown)} cannot be compared; known: {', '.join(compared_optimizers)}"
        )
    can_tune = tunable(config_schema)
    untunable = [name for name in comparison["tuned"] if name not in can_tune]
    if untunable:
        raise ValueError(f"comparison.tuned: {', '.join(untunable)} cannot be tuned; known: {', '.join(can_tune)}")
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
    for name, space in comparison["tuning"]["search_spaces"].items():
        if name not in comparison["tuned"]:
            raise ValueError(
                f"comparison.tuning.search_spaces.{name}: not a tuned baseline; tuned: {', '.join(comparison['tuned']) or 'none'}"
            )
        check_search_space(name, space, set(blocks[name]["properties"]) - set(SET_BY_PROTOCOL))
    shared = sorted(set(comparison["seeds"]) & set(ga_seeds(study)))
    if shared:
        raise ValueError(
            f"comparison.seeds: seed(s) {', '.join(map(str, shared))} are also the GA's settings.seeds; "
            "the rule would be scored on the runs it was selected on"
        )


def _same_task(a: dict, b: dict) -> bool:
    """One model on one dataset (a width is the MLP's only)."""
    keys = ("dataset", "model") + (("hidden",) if a["model"] == "mlp" else ())
    return all(a[key] == b[key] for key in keys)


def comparison_runs(study: dict) -> list[tuple[str, str, int]]:
    """(task name, label, seed) of every comparison run, held-out tasks included."""
    comparison = comparison_settings(study)
    return [
        (task["name"], label, seed)
        for task in comparison_tasks(study)
        for label in labels(study)
        for seed in comparison["seeds"]
    ]


def comparison_run_spec(study: dict, task_name: str, label: str, genome_file: str) -> dict:
    """The `train` spec of one comparison run: the task's model, batch and subsample, exactly
    max_steps minibatches (the epoch and patience limits never bind), on the study's device. A
    tuned baseline's tuned values come from its tuning result (the train command's --tuned),
    its schedule's horizon is max_steps, as the rule's is."""
    comparison = comparison_settings(study)
    task = task_named(study, task_name)
    optimizer, tuned = label_optimizer(label)
    hyperparameters = baseline_hyperparameters(study, optimizer)
    if optimizer.startswith("evolved") or tuned:
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
