"""pycma (Hansen's reference CMA-ES) behind the ask/tell interface the optimizers use."""

from __future__ import annotations

import math

import numpy as np
import torch

# Our early stopping and budget decide when training ends; pycma's termination criteria,
# tuned for noiseless functions, would fire on noisy minibatch fitness.
NO_TERMINATION = {
    "tolfun": 0,
    "tolfunhist": 0,
    "tolfunrel": 0,
    "tolx": 0,
    "tolstagnation": math.inf,
    "tolxstagnation": False,
    "tolflatfitness": math.inf,
    "tolconditioncov": math.inf,
    "tolfacupx": math.inf,
    "tolupsigma": math.inf,
    "maxiter": math.inf,
    "maxfevals": math.inf,
}


class PycmaEngine:
    def __init__(self, x0: torch.Tensor, sigma0: float, popsize: int | None, diagonal: bool, seed: int):
        import cma  # imports matplotlib and scipy.stats (~2 s): only jobs that use it pay

        options = {
            "seed": seed + 1,  # pycma draws a random seed for 0
            "CMA_diagonal": diagonal,
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            **NO_TERMINATION,
        }
        if popsize is not None:
            options["popsize"] = popsize
        self.diagonal = diagonal
        self.dtype, self.device = x0.dtype, x0.device
        self.es = cma.CMAEvolutionStrategy(x0.detach().cpu().double().numpy(), sigma0, options)
        self._asked: list[np.ndarray] = []

    @property
    def popsize(self) -> int:
        return self.es.popsize

    @property
    def mean(self) -> torch.Tensor:
        return torch.as_tensor(self.es.mean, dtype=self.dtype, device=self.device)

    @property
    def sigma(self) -> float:
        return float(self.es.sigma)

    def ask(self) -> torch.Tensor:
        self._asked = self.es.ask()
        return torch.as_tensor(np.stack(self._asked), dtype=self.dtype, device=self.device)

    def tell(self, fitness: torch.Tensor) -> None:
        """Fitness (lower is better) of the last asked population, in the same order."""
        self.es.tell(self._asked, fitness.detach().cpu().double().tolist())

    def stop(self) -> dict:
        return self.es.stop()
