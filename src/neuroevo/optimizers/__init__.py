"""The optimizer registry: name -> OptimizerSpec. Tests iterate over it, so a new
optimizer (one file, one line here, one config block) is tested for free."""

from neuroevo.optimizers import adam, cmaes, deep_ga, es, layerwise_cmaes, sgd
from neuroevo.optimizers.base import OptimizerSpec

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (sgd.OPTIMIZER, adam.OPTIMIZER, cmaes.OPTIMIZER, layerwise_cmaes.OPTIMIZER, es.OPTIMIZER, deep_ga.OPTIMIZER)
}


def get_optimizer(name: str) -> OptimizerSpec:
    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(sorted(OPTIMIZERS))}")
    return OPTIMIZERS[name]
