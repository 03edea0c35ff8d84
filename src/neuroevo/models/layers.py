"""What the population models share: the flat layout of their layers (one weight-and-bias
group per layer) and the evaluation of populations through their layers.

A model evaluates a population layer by layer, each layer as one tensor operation over all
candidates. Its `forward_layer(index, h, block)` takes the activations `h` of either one
network (shared by every candidate: the input, or the mean network's activations) or of P
candidates, and the layer's parameters `block` [1 or P, group size]: one row is a layer that
every candidate shares. So a layerwise search, whose candidates for layer k equal the mean
elsewhere, computes the mean's layers before k once and its candidates from there on
(`layer_population_logits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from neuroevo.files.checkpoint import checkpointable


@checkpointable
@dataclass(frozen=True)
class Group:
    """One layer's weight (`weight_size` values, row-major) then bias in the flat vector;
    `fan_in` is the inputs of one output unit (a He initialization's scale)."""

    start: int
    weight_size: int
    bias_size: int
    fan_in: int

    @property
    def stop(self) -> int:
        return self.start + self.weight_size + self.bias_size

    @property
    def part(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def size(self) -> int:
        return self.weight_size + self.bias_size


class LayeredModel(Protocol):
    """What `population_forward` and `layer_population_logits` need of a model."""

    @property
    def groups(self) -> list[Group]: ...

    def input_activations(self, x: torch.Tensor) -> torch.Tensor:
        """The batch x [B, features] as the shared activations the first layer takes."""

    def forward_layer(self, index: int, h: torch.Tensor, n_in: int, block: torch.Tensor) -> torch.Tensor:
        """Layer `index` of the networks of `block` [1 or P, group size] on h, the activations
        of n_in (1 or P) networks; returns the activations of max(n_in, len(block)) networks
        (the last layer: logits [P, classes, B])."""

    def candidates_per_chunk(self, batch: int) -> int:
        """Candidates evaluated at a time on a batch of this size (bounds the memory); a model
        may also set `examples_per_chunk`, the batch's examples evaluated at a time."""


def population_forward(model: LayeredModel, h: torch.Tensor, n_in: int, blocks: list[torch.Tensor]) -> torch.Tensor:
    """Layers len(groups) - len(blocks) onward, with blocks[i] their parameters, from h."""
    first = len(model.groups) - len(blocks)
    for offset, block in enumerate(blocks):
        h = model.forward_layer(first + offset, h, n_in, block)
        n_in = max(n_in, block.shape[0])
    return h


def chunked_logits(model: LayeredModel, n_candidates: int, batch: int, logits_of) -> torch.Tensor:
    """logits_of(slice of candidates) -> [p, classes, B], for all candidates, in chunks
    of model.candidates_per_chunk(batch), into one tensor [P, classes, B]."""
    step = model.candidates_per_chunk(batch)
    if step >= n_candidates:
        return logits_of(slice(0, n_candidates))
    parts = [logits_of(slice(start, min(start + step, n_candidates))) for start in range(0, n_candidates, step)]
    return torch.cat(parts)


def layer_population_logits(
    model: LayeredModel, mean: torch.Tensor, layer: int, candidates: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """Logits [P, B, classes] (a transposed view of [P, classes, B]) of P networks that equal
    `mean` [n] except in layer `layer`, whose weight and bias are the rows of candidates
    [P, size of that layer]. The mean's layers before `layer` run once, shared; the
    candidates' networks from `layer` on."""
    groups = model.groups

    def chunk_logits(chunk: torch.Tensor) -> torch.Tensor:
        h = model.input_activations(chunk)
        for index in range(layer):
            h = model.forward_layer(index, h, 1, mean[groups[index].part].unsqueeze(0))
        suffix = [mean[group.part].unsqueeze(0) for group in groups[layer + 1 :]]
        return chunked_logits(
            model,
            candidates.shape[0],
            chunk.shape[0],
            lambda part: population_forward(model, h, 1, [candidates[part], *suffix]),
        )

    return over_examples(model, x, chunk_logits).transpose(1, 2)


def over_examples(model: LayeredModel, x: torch.Tensor, chunk_logits) -> torch.Tensor:
    """chunk_logits(examples) -> [P, classes, b] over x in chunks of the model's
    `examples_per_chunk` (if it sets one), joined into [P, classes, B]."""
    step = getattr(model, "examples_per_chunk", None) or max(1, x.shape[0])
    parts = [chunk_logits(chunk) for chunk in x.split(step)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def population_linear(h: torch.Tensor, n_in: int, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A linear layer of the networks of weight [1 or P, out, in] and bias [1 or P, out, 1] on
    h [n_in, in, B]: [P, out, B]. Shared input (n_in = 1): one GEMM of the stacked weights
    [P*out, in]; candidates' own inputs: a batched matmul (a shared weight broadcast, not copied)."""
    n_weights, (fan_out, fan_in), batch = weight.shape[0], weight.shape[1:], h.shape[2]
    if n_in == 1:
        out = torch.mm(weight.reshape(n_weights * fan_out, fan_in), h[0]).view(n_weights, fan_out, batch)
        return out.add_(bias)
    if n_weights == 1:
        weight, bias = weight.expand(n_in, -1, -1), bias.expand(n_in, -1, -1)
    return torch.baddbmm(bias, weight, h)


def he_parameters(groups: list[Group], seed: int, device) -> torch.Tensor:
    """Weights N(0, 2 / fan_in), biases zero (He et al. 2015), drawn layer by layer from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    parts = []
    for group in groups:
        weight = torch.randn(group.weight_size, generator=generator) * math.sqrt(2 / group.fan_in)
        parts += [weight, torch.zeros(group.bias_size)]
    return torch.cat(parts).to(device)
