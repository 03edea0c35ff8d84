"""The run spec of the train and tune commands (`--spec`) checked against the blocks of the
config schema that the workflow validates the config with, before any work: a spec typed by
hand gets the same refusals, naming the key, as a config would.

    {"model": {...the config's model block, plus "kind": mlp | cnn},
     "training": {...the config's training block},
     "hyperparameters": {...the optimizer's block of optimizer_settings}}
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
# The registries' part, written by `python -m neuroevo schema` and referred to by SCHEMA_PATH.
OPTIMIZERS_SCHEMA_PATH = SCHEMA_PATH.with_name("optimizers.schema.yaml")
MODEL_KINDS = ("mlp", "cnn")


class SpecError(ValueError):
    """A run spec that the schema refuses; the message names the key."""


def config_schema() -> dict:
    """The config schema as one dict, as the workflow validates with, with the parts it refers
    to in other files (optimizers.schema.yaml) written in: `$ref`s left are to its own $defs
    (callers must not change it)."""
    return _schema()


@cache
def _schema() -> dict:
    return resolved(_load(SCHEMA_PATH), SCHEMA_PATH)


def optimizers_schema() -> dict:
    """The file `python -m neuroevo schema` writes (names and blocks of the registries)."""
    return _load(OPTIMIZERS_SCHEMA_PATH)


@cache
def _load(path: Path) -> dict:
    import yaml

    if not path.is_file():
        hint = (
            "run `python -m neuroevo schema`"
            if path == OPTIMIZERS_SCHEMA_PATH
            else "run neuroevo from its checkout (pip install -e .)"
        )
        raise SpecError(f"the schema file {path} is missing: {hint}")
    return yaml.safe_load(path.read_text())


def resolved(schema: object, path: Path = SCHEMA_PATH) -> object:
    """`schema` (read from `path`) with every `$ref` to another file replaced by what it points
    to, and the keywords beside the `$ref` (description, default) kept over it; refs to
    `path`'s own $defs stay, as do those that point back to it. A dict without such refs comes
    back equal, so a resolved schema may be resolved again.

    What a $ref points to loses its own top-level `default`: Snakemake fills in a default only
    where a property names it, not one reached through a $ref (training_overrides relies on
    that), so the resolved dict fills in exactly the defaults the files do."""
    return _inline(schema, path.resolve(), path.resolve())


def _inline(node: object, here: Path, root: Path) -> object:
    if isinstance(node, list):
        return [_inline(item, here, root) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _inline(value, here, root) for key, value in node.items()}
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    file, _, pointer = ref.partition("#")
    target = (here.parent / file).resolve() if file else here
    if target == root:
        return node | {"$ref": f"#{pointer}"}
    found = _load(target)
    for part in filter(None, pointer.split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(found, dict) or part not in found:
            raise SpecError(
                f"{here.name}: $ref {ref!r}: {target} has no {pointer!r}; if it is optimizers.schema.yaml, run `python -m neuroevo schema`"
            )
        found = found[part]
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    inlined = _inline(found, target, root)
    return {key: value for key, value in inlined.items() if key != "default"} | siblings


def strict_type_checker():
    """JSON Schema's types with only ints as integers (JSON Schema calls 2.0 one, but the
    training loop and the optimizers need real ints; bools are refused too)."""
    import jsonschema

    return jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
    )


def strict_validator(schema: dict):
    """A validator of `schema` with strict_type_checker's integers: what the config, a spec and
    a study file are checked with."""
    import jsonschema

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=strict_type_checker())(schema)


def _first_non_finite(value: object, where: str = "") -> tuple[str, float] | None:
    """The key and value of the first NaN or infinity in `value` (no minimum or maximum refuses them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the value", value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_non_finite(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _non_finite(value: object) -> str | None:
    """The key of the first NaN or infinity in `value`."""
    found = _first_non_finite(value)
    return found[0] if found else None


def non_finite_problem(value: object) -> str | None:
    """`training.budget_flops: inf is not a finite number (...)` for the first NaN or infinity
    in `value` (YAML's .nan and .inf, which no schema keyword refuses), or None."""
    found = _first_non_finite(value)
    if found is None:
        return None
    where, number = found
    return f"{where}: {number} is not a finite number (NaN and infinity are not allowed); give a finite value"


@cache
def _validator(optimizer: str):
    schema = _schema()
    blocks = schema["properties"]["optimizer_settings"]["properties"]
    if optimizer not in blocks:
        raise SpecError(f"--optimizer: unknown optimizer {optimizer!r}; known: {', '.join(sorted(blocks))}")
    model = dict(schema["properties"]["model"])
    model["properties"] = model["properties"] | {"kind": {"enum": list(MODEL_KINDS)}}
    spec_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"model": model, "training": {"$ref": "#/$defs/training"}, "hyperparameters": blocks[optimizer]},
        "$defs": schema["$defs"],
    }
    return strict_validator(spec_schema)


def parse_spec(text: str, optimizer: str, flag: str = "--spec") -> dict:
    """The spec as a dict, or SpecError naming `flag` and the offending key."""
    spec = load_json(text, flag)
    check_spec(spec, optimizer, flag)
    return spec


def load_json(text: str, flag: str) -> object:
    """JSON as the standard has it: NaN and Infinity, which Python's json reads, are refused."""

    def refuse(constant: str):
        raise SpecError(f"{flag}: {constant} is not a number JSON allows; give a finite value")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as error:
        raise SpecError(f"{flag}: not valid JSON ({error})") from None


def check_spec(spec: object, optimizer: str, flag: str = "--spec") -> None:
    _raise_first_error(_validator(optimizer), spec, flag)


# Budgets that end a whole run, which the equal-budget arm's FLOP budget cannot share it with.
RUN_ENDING_BUDGETS = ("max_steps", "max_sample_evals", "max_seconds")


MAX_BUDGET_FLOPS = 1e16  # the schema's bound on budget_flops, also on the ladder's top rung


def check_training_budgets(training: dict, where: str) -> None:
    """SpecError when a training block's ladder (budget_multiples) is not strictly increasing and
    positive, or gives budget_flops (or a ladder) with a budget that would end its runs before
    the top rung, or a top rung beyond MAX_BUDGET_FLOPS (`where` names the block)."""
    multiples = training.get("budget_multiples", [1])
    if multiples is None or not isinstance(multiples, (list, tuple)) or not multiples:
        raise SpecError(f"{where}: budget_multiples must be a non-empty list of positive numbers, got {multiples!r}")
    for value in multiples:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise SpecError(f"{where}: budget_multiples must be positive finite numbers, got {value!r}")
    if any(later <= earlier for earlier, later in zip(multiples, multiples[1:], strict=False)):
        raise SpecError(
            f"{where}: budget_multiples must be strictly increasing (each rung above the one before), got {list(multiples)}"
        )
    clashing = [key for key in RUN_ENDING_BUDGETS if training.get(key) is not None]
    ladder = list(multiples) != [1]
    if (training.get("budget_flops") is not None or ladder) and clashing:
        what = "budget_flops (the equal-budget arm)" if training.get("budget_flops") is not None else "budget_multiples"
        raise SpecError(
            f"{where}: {what} cannot be combined with {', '.join(clashing)}, which would end runs before the "
            f"top rung; set {' and '.join(clashing)} to null, or budget_flops to null and budget_multiples to [1]"
        )
    budget = training.get("budget_flops")
    if isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget * max(multiples) > MAX_BUDGET_FLOPS:
        raise SpecError(
            f"{where}: budget_flops x the top rung of budget_multiples is {budget * max(multiples):.3g} FLOPs per run, "
            f"more than {MAX_BUDGET_FLOPS:.0e} (a bound against typos); lower budget_flops or the top multiple"
        )


def check_config(config: dict) -> None:
    """The whole config against its schema with the strict integers of a spec, and no NaN or
    infinity anywhere (YAML's .nan and .inf): what Snakemake's validate lets through but a
    job would fail on, refused before any job, by key."""
    _raise_first_error(_config_validator(), config, "config")


@cache
def _config_validator():
    return strict_validator(_schema())


def _raise_first_error(validator, instance: object, flag: str) -> None:
    import jsonschema

    found = _non_finite(instance)
    if found:
        raise SpecError(f"{flag}: {found}: NaN and infinity are not allowed; give a finite value")
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        key = ".".join(filter(None, [where, unknown[0] if unknown else ""]))
        raise SpecError(f"{flag}: unknown key {key!r}; known here: {', '.join(known)}")
    raise SpecError(f"{flag}: {where or 'the spec'}: {error.message}")
