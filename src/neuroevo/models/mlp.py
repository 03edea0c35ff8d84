"""The MLP, as an nn.Module and as a function of a population of flat parameter vectors.

Flat layout, layer by layer: weight [out, in] row-major, then bias [out] - the order of
`nn.Module.parameters()`, so `parameters_to_vector` and the population view agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuroevo.files.checkpoint import checkpointable

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


@checkpointable
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

    def load_flat(self, flat: torch.Tensor) -> MLP:
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


# Candidates per chunk of population_logits: about this many hidden activations (1 MiB of
# float32) at a time, so each chunk's hidden layer stays in cache between its two matmuls.
HIDDEN_CHUNK_ELEMENTS = 1 << 18


def population_logits(spec: MLPSpec, population: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits [P, B, classes] of P parameter vectors [P, n] on one batch x [B, features].

    No loop over candidates: the first layer sees the same input for every candidate, so the
    weight matrices of a chunk of candidates are stacked into one [B, in] x [in, chunk*hidden]
    GEMM; the second layer is a batched matmul over the chunk. Chunks (a few for large P*B)
    keep the hidden activations in cache; the activation runs in place on the GEMM's output.
    """
    inplace_activation = getattr(torch, spec.activation + "_")  # relu_ / tanh_
    (hidden, n_features), (n_classes, _) = spec.layer_shapes
    first, second = (population[:, part] for part in spec.layer_slices)
    weight1 = first[:, : hidden * n_features].unflatten(1, (hidden, n_features))
    bias1 = first[:, hidden * n_features :]
    weight2 = second[:, : n_classes * hidden].unflatten(1, (n_classes, hidden))
    bias2 = second[:, n_classes * hidden :].unsqueeze(1)

    batch, n_candidates = x.shape[0], population.shape[0]
    step = max(1, HIDDEN_CHUNK_ELEMENTS // (hidden * batch))
    chunks = []
    for start in range(0, n_candidates, step):
        part = slice(start, min(start + step, n_candidates))
        size = part.stop - part.start
        stacked = weight1[part].reshape(size * hidden, n_features)
        out = torch.addmm(bias1[part].reshape(-1), x, stacked.t())  # [B, size*hidden]
        activations = inplace_activation(out).view(batch, size, hidden).transpose(0, 1)
        chunks.append(torch.baddbmm(bias2[part], activations, weight2[part].transpose(1, 2)))
    return chunks[0] if len(chunks) == 1 else torch.cat(chunks)


def network_logits(spec: MLPSpec, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits [B, classes] of one parameter vector [n]: two addmm, the path a gradient step
    takes (population_logits' stacking and chunks only cost there)."""
    (hidden, n_features), (n_classes, _) = spec.layer_shapes
    first, second = (params[part] for part in spec.layer_slices)
    weight1, bias1 = first[: hidden * n_features].view(hidden, n_features), first[hidden * n_features :]
    weight2, bias2 = second[: n_classes * hidden].view(n_classes, hidden), second[n_classes * hidden :]
    return torch.addmm(bias2, getattr(torch, spec.activation)(torch.addmm(bias1, x, weight1.t())), weight2.t())


def last_layer_population_logits(
    spec: MLPSpec, mean: torch.Tensor, candidates: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """Logits [P, B, classes] of P networks that equal `mean` [n] except in the last layer,
    whose weight and bias are the rows of candidates [P, n_last] (layerwise search).

    The hidden activations of the mean are computed once and shared: each candidate costs a
    slice of one [B, hidden] x [hidden, P*classes] GEMM instead of a whole network."""
    (hidden, n_features), (n_classes, _) = spec.layer_shapes
    first = mean[spec.layer_slices[0]]
    activations = getattr(torch, spec.activation + "_")(
        torch.addmm(first[hidden * n_features :], x, first[: hidden * n_features].view(hidden, n_features).t())
    )
    weights = candidates[:, : n_classes * hidden].reshape(-1, hidden)  # [P*classes, hidden]
    logits = (activations @ weights.t()).view(x.shape[0], -1, n_classes).transpose(0, 1)
    return logits + candidates[:, n_classes * hidden :].unsqueeze(1)


def population_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy [P] of logits [P, B, C] against labels y [B]."""
    log_probs = F.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, y.view(1, -1, 1).expand(logits.shape[0], -1, 1))
    return -picked.squeeze(-1).mean(dim=1)
