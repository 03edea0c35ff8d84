"""Search distributions behind the CMA-ES optimizers: pycma, and a torch sep-CMA-ES."""

from __future__ import annotations

import torch

from neuroevo.evolution.protocol import SearchDistribution
from neuroevo.evolution.pycma_engine import PycmaEngine
from neuroevo.evolution.pycma_engine import replay as replay_pycma
from neuroevo.evolution.sep_cma import SepCMA

__all__ = [
    "PycmaEngine",
    "SearchDistribution",
    "SepCMA",
    "describe_engine",
    "make_engine",
    "replay_pycma",
    "use_diagonal",
]

# Past this many parameters a full covariance costs O(n^2) memory and O(n^3) eigen-
# decompositions per update; the diagonal (separable) variant scales linearly.
AUTO_DIAGONAL_ABOVE = 1000


def use_diagonal(diagonal: bool | str, n: int) -> bool:
    return n > AUTO_DIAGONAL_ABOVE if diagonal == "auto" else bool(diagonal)


def make_engine(
    x0: torch.Tensor,
    sigma0: float,
    popsize: int | None,
    diagonal: bool | str,
    engine: str,
    seed: int,
    mirrored: bool = False,
) -> SearchDistribution:
    """engine 'auto': the torch sep-CMA-ES for the diagonal case (pycma's per-candidate
    Python work dominates a generation there), pycma for the full covariance."""
    diagonal = use_diagonal(diagonal, x0.numel())
    if engine == "torch" and not diagonal:
        raise ValueError(
            "engine 'torch' implements only the diagonal (separable) CMA-ES; set diagonal: true or engine: pycma"
        )
    if engine == "torch" or (engine == "auto" and diagonal):
        return SepCMA(x0, sigma0, popsize, seed, mirrored)
    if mirrored:
        raise ValueError(
            "mirrored: true (mirrored sampling with pairwise selection) is implemented by the torch sep-CMA-ES "
            f"only, and this search ({x0.numel()} parameters, diagonal: {diagonal}, engine: {engine}) runs on pycma"
        )
    return PycmaEngine(x0, sigma0, popsize, diagonal, seed)


def describe_engine(engine: SearchDistribution) -> dict:
    """What `auto` and `None` settings resolved to, for the summary and the report."""
    if isinstance(engine, SepCMA):
        return {"popsize": engine.popsize, "diagonal": True, "engine": "torch", "mirrored": engine.mirrored}
    return {"popsize": engine.popsize, "diagonal": engine.diagonal, "engine": "pycma", "mirrored": False}
