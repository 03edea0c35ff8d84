"""The optimizer registry: name -> OptimizerSpec. Tests iterate over it, so a new
optimizer (one file, one line here, one config block) is tested for free."""

from neuroevo.optimizers import adam, adamw, cmaes, deep_ga, es, evolved, evolved_prior, layerwise_cmaes, rmsprop, sgd
from neuroevo.optimizers.base import OptimizerSpec

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for module in (sgd, adam, rmsprop, adamw, evolved_prior, evolved, cmaes, layerwise_cmaes, es, deep_ga)
    for spec in (module.OPTIMIZER,)
}


def get_optimizer(name: str) -> OptimizerSpec:
    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(sorted(OPTIMIZERS))}")
    return OPTIMIZERS[name]
