"""What an optimizer asks of a search distribution, declared once: the CMA-ES optimizers hold
their engines by this type, so another engine (a new CMA variant, an NES) only has to
satisfy it. Both engines here do (tests/test_search_distribution.py checks)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class SearchDistribution(Protocol):
    """Ask a population, tell its fitness (lower is better, same order), read the mean (the
    model evaluated) and the step size; popsize is what `None` resolved to."""

    def ask(self) -> torch.Tensor: ...  # [popsize, n] candidates

    def tell(self, fitness: torch.Tensor) -> None: ...  # [popsize] of the last asked population

    @property
    def mean(self) -> torch.Tensor: ...

    @property
    def sigma(self) -> float: ...

    @property
    def popsize(self) -> int: ...
