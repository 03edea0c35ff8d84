"""Separable CMA-ES (Ros & Hansen 2008, "A Simple Modification in CMA-ES Achieving Linear
Time and Space Complexity") in torch: the whole generation is a few vector operations on
the population's device, with the default constants of Hansen's tutorial (arXiv:1604.00772)
and the learning rates of the covariance scaled by (n + 2) / 3 as the paper proposes.

`mirrored`: the population is lambda/2 samples and their mirror images about the mean, with
pairwise selection (Auger, Brockhoff & Hansen 2011, "Mirrored sampling in evolution
strategies with weighted recombination"): only the better of each pair can be selected, and
the best quarter of the population is recombined, so the step size is not biased downwards.
It halves the normals drawn per generation, most of the engine's own work when n is large.
"""

from __future__ import annotations

import math

import torch

from neuroevo.files.checkpoint import checkpointable


@checkpointable
class SepCMA:
    def __init__(self, x0: torch.Tensor, sigma0: float, popsize: int | None, seed: int, mirrored: bool = False):
        n = x0.numel()
        self.n = n
        self.lam = popsize or 4 + int(3 * math.log(n))
        self.mirrored = mirrored
        if mirrored:
            self.lam = max(4, self.lam + self.lam % 2)  # pairs
        self.mu = self.lam // 4 if mirrored else self.lam // 2
        raw = torch.tensor([math.log((self.lam + 1) / 2) - math.log(i + 1) for i in range(self.mu)])
        self.weights = (raw / raw.sum()).to(dtype=x0.dtype, device=x0.device)
        mueff = float(1 / (self.weights.double() ** 2).sum())
        self.mueff = mueff
        self.cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
        self.cs = (mueff + 2) / (n + mueff + 5)
        c1 = 2 / ((n + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
        self.c1 = min(1.0, c1 * (n + 2) / 3)
        self.cmu = min(1 - self.c1, cmu * (n + 2) / 3)
        self.damps = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + self.cs
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2))

        self.mean = x0.detach().clone()
        self.sigma = float(sigma0)
        self.variances = torch.ones_like(self.mean)  # the diagonal of C
        self.path_sigma = torch.zeros_like(self.mean)
        self.path_c = torch.zeros_like(self.mean)
        self.generation = 0
        self.generator = torch.Generator(device=x0.device).manual_seed(seed)
        self._population: torch.Tensor | None = None

    @property
    def popsize(self) -> int:
        return self.lam

    def ask(self) -> torch.Tensor:
        drawn = self.lam // 2 if self.mirrored else self.lam
        z = torch.randn(drawn, self.n, generator=self.generator, dtype=self.mean.dtype, device=self.mean.device)
        scale = self.variances.sqrt().mul_(self.sigma)
        # m + sigma * sqrt(diag C) * z in one pass over the population; the mean is never
        # modified in place, since callers may hold it (it is the model being trained).
        if not self.mirrored:
            self._population = torch.addcmul(self.mean, z, scale)
            return self._population
        self._population = torch.empty(self.lam, self.n, dtype=self.mean.dtype, device=self.mean.device)
        torch.addcmul(self.mean, z, scale, out=self._population[:drawn])
        torch.addcmul(self.mean, z, scale.neg_(), out=self._population[drawn:])  # candidate i + lambda/2 mirrors i
        return self._population

    def tell(self, fitness: torch.Tensor) -> None:
        """Fitness (lower is better) of the last asked population, in the same order."""
        if self.mirrored:
            half = self.lam // 2
            # Pairwise selection: the better of candidates i and i + lambda/2 competes.
            second_better = fitness[half:] < fitness[:half]
            winners = torch.arange(half, device=fitness.device) + half * second_better
            order = winners[torch.argsort(torch.minimum(fitness[:half], fitness[half:]))[: self.mu]]
        else:
            order = torch.argsort(fitness)[: self.mu]
        steps = self._population.index_select(0, order).sub_(self.mean).div_(self.sigma)  # y_i = B D z_i
        step_mean = self.weights @ steps
        self.mean = torch.add(self.mean, step_mean, alpha=self.sigma)
        self.generation += 1

        std = self.variances.sqrt()
        self.path_sigma.mul_(1 - self.cs).addcdiv_(
            step_mean, std, value=math.sqrt(self.cs * (2 - self.cs) * self.mueff)
        )
        norm_ps = float(self.path_sigma.norm())
        correction = math.sqrt(1 - (1 - self.cs) ** (2 * self.generation))
        stalled = norm_ps / correction / self.chi_n >= 1.4 + 2 / (self.n + 1)
        h_sigma = 0.0 if stalled else 1.0
        self.path_c.mul_(1 - self.cc).add_(step_mean, alpha=h_sigma * math.sqrt(self.cc * (2 - self.cc) * self.mueff))

        rank_mu = self.weights @ steps.square_()
        decay = 1 - self.c1 - self.cmu + (1 - h_sigma) * self.c1 * self.cc * (2 - self.cc)
        # In place: decay * C + c1 * p_c^2 + cmu * rank_mu.
        self.variances.mul_(decay).addcmul_(self.path_c, self.path_c, value=self.c1).add_(rank_mu, alpha=self.cmu)
        self.sigma *= math.exp(min(1.0, (self.cs / self.damps) * (norm_ps / self.chi_n - 1)))
