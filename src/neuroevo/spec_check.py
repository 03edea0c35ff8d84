"""The run spec of the train and tune commands (`--spec`) checked against the blocks of the
config schema that the workflow validates the config with, before any work: a spec typed by
hand gets the same refusals, naming the key, as a config would.

    {"model": {...the config's model block, plus "kind": mlp | cnn},
     "training": {...the config's training block},
     "hyperparameters": {...the optimizer's block of optimizer_settings}}
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
MODEL_KINDS = ("mlp", "cnn")


class SpecError(ValueError):
    """A run spec that the schema refuses; the message names the key."""


@cache
def _schema() -> dict:
    import yaml

    if not SCHEMA_PATH.is_file():
        raise SpecError(f"the config schema {SCHEMA_PATH} is missing: run neuroevo from its checkout (pip install -e .)")
    return yaml.safe_load(SCHEMA_PATH.read_text())


@cache
def _validator(optimizer: str):
    import jsonschema

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
    # JSON Schema calls 2.0 an integer; the training loop and optimizers need real ints.
    strict = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    validator_class = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=strict)
    return validator_class(spec_schema)


def parse_spec(text: str, optimizer: str, flag: str = "--spec") -> dict:
    """The spec as a dict, or SpecError naming `flag` and the offending key."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(f"{flag}: not valid JSON ({error})") from None
    check_spec(spec, optimizer, flag)
    return spec


def check_spec(spec: object, optimizer: str, flag: str = "--spec") -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(optimizer).iter_errors(spec))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        key = ".".join(filter(None, [where, unknown[0] if unknown else ""]))
        raise SpecError(f"{flag}: unknown key {key!r}; known here: {', '.join(known)}")
    raise SpecError(f"{flag}: {where or 'the spec'}: {error.message}")
