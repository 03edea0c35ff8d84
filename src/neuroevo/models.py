"""The MLP, as an nn.Module and as a function of a population of flat parameter vectors.

Flat layout, layer by layer: weight [out, in] row-major, then bias [out] - the order of
`nn.Module.parameters()`, so `parameters_to_vector` and the population view agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


@dataclass(frozen=True)
class MLPSpec:
    """Two fully connected layers: n_features -> hidden -> n_classes."""

    n_features: int
    hidden: int
    n_classes: int
    activation: str = "relu"

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_out, fan_in) of each layer."""
        return [(self.hidden, self.n_features), (self.n_classes, self.hidden)]

    @property
    def layer_slices(self) -> list[slice]:
        """Slice of the flat vector holding each layer's weight and bias."""
        slices, start = [], 0
        for fan_out, fan_in in self.layer_shapes:
            size = fan_out * fan_in + fan_out
            slices.append(slice(start, start + size))
            start += size
        return slices

    @property
    def n_parameters(self) -> int:
        return self.layer_slices[-1].stop


class MLP(nn.Module):
    def __init__(self, spec: MLPSpec):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(nn.Linear(fan_in, fan_out) for fan_out, fan_in in spec.layer_shapes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activation = ACTIVATIONS[self.spec.activation]
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = activation(x)
        return x

    def load_flat(self, flat: torch.Tensor) -> "MLP":
        nn.utils.vector_to_parameters(flat, self.parameters())
        return self


def init_parameters(spec: MLPSpec, seed: int) -> torch.Tensor:
    """Flat initial weights of seed `seed`: nn.Linear's default init (U(+-1/sqrt(fan_in)))
    drawn from a private generator, so every optimizer starts from the same point."""
    generator = torch.Generator().manual_seed(seed)
    parts = []
    for fan_out, fan_in in spec.layer_shapes:
        bound = fan_in**-0.5
        parts.append((torch.rand(fan_out * fan_in + fan_out, generator=generator) * 2 - 1) * bound)
    return torch.cat(parts)


def population_logits(spec: MLPSpec, population: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits [P, B, classes] of P parameter vectors [P, n] on one batch x [B, features].

    One matmul per layer, no loop over candidates: the first layer sees the same input for
    every candidate, so all P weight matrices are stacked into one [B, in] x [in, P*out]
    GEMM; later layers are a batched matmul over P.
    """
    activation = ACTIVATIONS[spec.activation]
    n_candidates = population.shape[0]
    hidden = None
    for index, ((fan_out, fan_in), part) in enumerate(zip(spec.layer_shapes, spec.layer_slices)):
        block = population[:, part]
        weight = block[:, : fan_out * fan_in].reshape(n_candidates, fan_out, fan_in)
        bias = block[:, fan_out * fan_in :]
        if hidden is None:
            stacked = weight.reshape(n_candidates * fan_out, fan_in)
            out = torch.addmm(bias.reshape(-1), x, stacked.t())  # [B, P*out]
            hidden = out.view(x.shape[0], n_candidates, fan_out).transpose(0, 1)
        else:
            hidden = torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))
        if index < len(spec.layer_shapes) - 1:
            hidden = activation(hidden)
    return hidden


def population_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy [P] of logits [P, B, C] against labels y [B]."""
    log_probs = F.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, y.view(1, -1, 1).expand(logits.shape[0], -1, 1))
    return -picked.squeeze(-1).mean(dim=1)
