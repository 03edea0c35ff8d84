"""How well the ES gradient estimate points along the true gradient.

For each hidden size and seed: the seed's initial weights (the ones every optimizer starts
from), a few training minibatches drawn with the seed, and on each minibatch the cosine
similarity between the true gradient (backprop) and the ES estimate of es.py (antithetic
Gaussian pairs, optional centered ranks) for each number of pairs.

All pairs of one minibatch are evaluated as one population of 2 * max(pairs) candidates;
the estimate with P pairs uses the first P of them, so the numbers of pairs are nested
(fewer pairs are a prefix of more), which compares them on the same noise.
"""

from __future__ import annotations

import pandas as pd
import torch

from neuroevo.config.defaults import ALIGNMENT_SIGMA
from neuroevo.data.prepare import PreparedData
from neuroevo.models.mlp import init_parameters
from neuroevo.models.problem import Problem
from neuroevo.optimizers.es import centered_ranks


def estimates_by_pairs(
    losses: torch.Tensor, noise: torch.Tensor, pairs: list[int], sigma: float, rank_shaping: bool
) -> dict[int, torch.Tensor]:
    """ES estimates from the losses [2M] of params + sigma noise [M, n] (first M) and
    params - sigma noise (last M), using the first P pairs for each P in `pairs`."""
    most = noise.shape[0]
    estimates = {}
    for count in pairs:
        used = torch.cat([losses[:count], losses[most : most + count]])
        weights = centered_ranks(used) if rank_shaping else used
        difference = weights[:count] - weights[count:]
        estimates[count] = difference @ noise[:count] / (2 * sigma * count)
    return estimates


def measure(
    data: PreparedData,
    hidden: list[int],
    pairs: list[int],
    seeds: list[int],
    sigma: float = ALIGNMENT_SIGMA,
    rank_shaping: bool = True,
    batches: int = 4,
    batch_size: int = 256,
    activation: str = "relu",
) -> pd.DataFrame:
    """One row per (hidden, seed, batch, pairs): n_parameters and cosine_similarity."""
    rows = []
    for width in hidden:
        problem = Problem.from_data(data, width, activation)
        n_train = problem.x["train"].shape[0]
        for seed in seeds:
            params = init_parameters(problem.spec, seed)
            generator = torch.Generator().manual_seed(seed)
            for batch_index in range(batches):
                batch = problem.batch(torch.randperm(n_train, generator=generator)[:batch_size])
                exact = params.clone().requires_grad_(True)
                problem.loss_and_grad(exact, batch)
                noise = torch.randn(max(pairs), params.numel(), generator=generator)
                losses = problem.population_loss(torch.cat([params + sigma * noise, params - sigma * noise]), batch)
                for count, estimate in estimates_by_pairs(losses, noise, pairs, sigma, rank_shaping).items():
                    rows.append(
                        {
                            "hidden": width,
                            "n_parameters": problem.n_parameters,
                            "seed": seed,
                            "batch": batch_index,
                            "pairs": count,
                            "cosine_similarity": float(
                                torch.nn.functional.cosine_similarity(estimate, exact.grad, dim=0)
                            ),
                        }
                    )
    return pd.DataFrame(rows)
