"""The optimizer part of the config schema, written from the registry by
`python -m neuroevo schema` into workflow/schemas/optimizers.schema.yaml, which
config.schema.yaml refers to: the dataset and optimizer names, each optimizer's
settings block (from its Hyperparameters fields: default, description, bounds) and its
default search space.

It lives here, not in neuroevo.config, because it reads the registry, which imports torch;
the config layer stays torch-free and only reads the written file.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import yaml

from neuroevo.config.checks import OPTIMIZERS_SCHEMA_PATH
from neuroevo.config.names import DATASET_NAMES
from neuroevo.optimizers import OPTIMIZERS
from neuroevo.optimizers.base import OptimizerSpec

HEADER = """\
# Written by `python -m neuroevo schema` from the optimizer registry (src/neuroevo/optimizers/)
# and neuroevo.config.names.DATASET_NAMES: do not edit it, change those and rerun the command
# (tests/test_config_schema.py fails while this file is stale). config.schema.yaml refers to it.
"""
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", type(None): "null"}


def _json_type(annotation: object, where: str) -> str | list[str]:
    """`int | None` -> ["integer", "null"]: the JSON types of a field's annotation, in its order."""
    members = (
        typing.get_args(annotation)
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
        else (annotation,)
    )
    names = []
    for member in members:
        origin = typing.get_origin(member) or member
        if origin not in JSON_TYPES:
            raise TypeError(
                f"{where}: no JSON type for {member!r}; give the field an enum or oneOf in its setting(...)"
            )
        names.append(JSON_TYPES[origin])
    return names[0] if len(names) == 1 else names


def settings_block(spec: OptimizerSpec) -> dict:
    """The optimizer's block of optimizer_settings: one property per Hyperparameters field."""
    hints = typing.get_type_hints(spec.hyperparameters)
    properties = {}
    for field in dataclasses.fields(spec.hyperparameters):
        where = f"optimizer {spec.name!r}, hyperparameter {field.name!r}"
        if "description" not in field.metadata or field.default is dataclasses.MISSING:
            raise TypeError(f"{where}: declare it as setting(default, description, ...) from neuroevo.optimizers.base")
        schema = dict(field.metadata["schema"])
        typed = {} if "enum" in schema or "oneOf" in schema else {"type": _json_type(hints[field.name], where)}
        properties[field.name] = {
            "description": field.metadata["description"],
            **typed,
            **schema,
            "default": field.default,
        }
    return {
        "description": spec.description,
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "properties": properties,
    }


def optimizer_schema(optimizers: dict[str, OptimizerSpec] | None = None) -> dict:
    optimizers = OPTIMIZERS if optimizers is None else optimizers
    names = list(optimizers)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": (
            "Generated part of the config schema: the names of datasets and optimizers, the settings blocks, "
            "the default search spaces."
        ),
        "$defs": {
            "dataset": {"description": "A dataset (neuroevo.data.datasets.DATASETS).", "enum": list(DATASET_NAMES)},
            "optimizer": {"description": "An optimizer (neuroevo.optimizers.OPTIMIZERS).", "enum": names},
            "gradient_optimizer": {
                # The comparison's tasks may be CNNs, which only gradient optimizers train.
                "description": "An optimizer of kind gradient: those the discovery comparison may include.",
                "enum": [name for name in names if optimizers[name].kind == "gradient"],
            },
            "optimizer_settings": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: settings_block(spec) for name, spec in optimizers.items()},
            },
            "search_spaces": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    name: {"$ref": "config.schema.yaml#/$defs/search_space", "default": spec.search_space}
                    for name, spec in optimizers.items()
                },
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        # Never anchors: a default shared by two blocks would be one object once loaded, and
        # Snakemake's filling-in of defaults would then write into both.
        return True


def schema_text(optimizers: dict[str, OptimizerSpec] | None = None) -> str:
    body = yaml.dump(
        optimizer_schema(optimizers),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=None,
        width=160,
        allow_unicode=True,
    )
    return HEADER + body


def write(path: Path = OPTIMIZERS_SCHEMA_PATH) -> bool:
    """Write the file; True when it changed."""
    text = schema_text()
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def stale(path: Path = OPTIMIZERS_SCHEMA_PATH) -> bool:
    return not path.is_file() or path.read_text() != schema_text()
