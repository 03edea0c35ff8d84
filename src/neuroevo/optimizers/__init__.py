"""The optimizer registry: name -> OptimizerSpec. An optimizer is one module of this package
(see base.py) plus its name in REGISTRY; the tests iterate over the registry and
`python -m neuroevo schema` writes its part of the config schema from it."""

from __future__ import annotations

import dataclasses
from importlib import import_module
from types import ModuleType

from neuroevo.config.names import OPTIMIZER_NAMES
from neuroevo.optimizers.base import KINDS, OptimizerSpec

# The registry: one module name per optimizer, in the order the schema lists them.
REGISTRY = list(OPTIMIZER_NAMES)

OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register(module: ModuleType) -> OptimizerSpec:
    """Add an optimizer module to OPTIMIZERS; a module that breaks the contract is refused by
    name, so a new optimizer fails here rather than in its first job."""
    where = f"optimizer module {module.__name__}"
    spec = getattr(module, "OPTIMIZER", None)
    if not isinstance(spec, OptimizerSpec):
        raise TypeError(f"{where}: needs OPTIMIZER = OptimizerSpec(...)")
    if spec.hyperparameters is not getattr(module, "Hyperparameters", None) or not dataclasses.is_dataclass(
        spec.hyperparameters
    ):
        raise TypeError(f"{where}: OPTIMIZER.hyperparameters must be the module's Hyperparameters dataclass")
    if spec.search_space is not getattr(module, "SEARCH_SPACE", None):
        raise TypeError(f"{where}: OPTIMIZER.search_space must be the module's SEARCH_SPACE ({{}} for none)")
    if spec.kind not in KINDS:
        raise ValueError(f"{where}: kind {spec.kind!r} is not one of {', '.join(KINDS)}")
    if spec.name in OPTIMIZERS:
        raise ValueError(f"{where}: optimizer {spec.name!r} is registered already")
    OPTIMIZERS[spec.name] = spec
    return spec


for _name in REGISTRY:
    register(import_module(f"{__name__}.{_name}"))


def get_optimizer(name: str) -> OptimizerSpec:
    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(sorted(OPTIMIZERS))}")
    return OPTIMIZERS[name]
