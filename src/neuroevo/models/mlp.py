"""The MLP, as an nn.Module and as a function of a population of flat parameter vectors.

Flat layout, layer by layer: weight [out, in] row-major, then bias [out] - the order of
`nn.Module.parameters()`, so `parameters_to_vector` and the population view agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
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


# What population_logits may compute in: bf16 runs the candidates' deviations from their mean
# through bf16 matrix units; the mean (and a single network) stays fp32 (neuroevo.models.device).
PRECISIONS = ("fp32", "bf16")
# Candidates per chunk of population_logits: about this many hidden activations (16 MiB of
# float32) at a time, which bounds the memory of large populations on large batches.
HIDDEN_CHUNK_ELEMENTS = 1 << 22


def _hidden_activations(
    spec: MLPSpec, first: torch.Tensor, x: torch.Tensor, low: tuple[torch.Tensor, torch.Tensor] | None
) -> torch.Tensor:
    """Hidden activations [P, hidden, B] of the candidates' first layers `first` [P, size]: one
    GEMM of their stacked weights [P*hidden, in] with x^T, the activation in place on its output.

    With `low` (the population's mean weight [hidden, in] and the mean's pre-activations
    mean @ x^T, both fp32) only the deviations from the mean go through a bf16 GEMM, whose
    output is rounded to bf16 before the fp32 mean part is added. So the rounding error scales
    with the population's spread, not with the weights: a small sigma is not rounded away."""
    (hidden, n_features), _ = spec.layer_shapes
    n_candidates, batch = first.shape[0], x.shape[0]
    weight1 = first[:, : hidden * n_features].unflatten(1, (hidden, n_features))  # [P, hidden, in]
    if low is None:
        out = torch.mm(weight1.reshape(n_candidates * hidden, n_features), x.t())
    else:
        mean, mean_out = low
        deviations = (weight1 - mean).to(torch.bfloat16).view(n_candidates * hidden, n_features)
        rounded = torch.mm(deviations, x.t().to(torch.bfloat16)).view(n_candidates, hidden, batch)
        out = rounded.float().add_(mean_out)  # a cast, then a same-dtype add: 2x the mixed add
    out = out.view(n_candidates, hidden, batch).add_(first[:, hidden * n_features :].unsqueeze(2))
    return getattr(torch, spec.activation + "_")(out)  # relu_ / tanh_


def _bf16_reference(spec: MLPSpec, population: torch.Tensor, x: torch.Tensor):
    """The fp32 part of the bf16 path (the population's mean first-layer weight and its
    pre-activations), or None where bf16 cannot help: one candidate, or a mean that is not
    finite (one diverged candidate must not spoil the others' fitness; fp32 keeps it to itself)."""
    if population.shape[0] == 1:
        return None
    (hidden, n_features), _ = spec.layer_shapes
    mean = population[:, : hidden * n_features].mean(dim=0).view(hidden, n_features)
    if not torch.isfinite(mean).all():
        return None
    return mean, torch.mm(mean, x.t())


def population_logits(
    spec: MLPSpec, population: torch.Tensor, x: torch.Tensor, precision: str = "fp32"
) -> torch.Tensor:
    """Logits [P, B, classes] of P parameter vectors [P, n] on one batch x [B, features].

    No loop over candidates, but for chunks that bound memory: the first layer sees the same
    input for every candidate, so it is one GEMM of a chunk's stacked weights; the second is a
    batched matmul. Both compute in the layout [P, classes, B], returned as its transposed
    view: with the batch innermost instead of the 10 classes, the batched matmul and the loss's
    reductions over classes run vectorized over examples (measured 2-9x faster than the
    [P, B, classes] layout). In bf16 a candidate's logits depend (by rounding) on the
    population's mean, so on the population it is evaluated in."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: unknown value {precision!r}; known: {', '.join(PRECISIONS)}")
    (hidden, _), (n_classes, _) = spec.layer_shapes
    n_candidates, batch = population.shape[0], x.shape[0]
    low = _bf16_reference(spec, population, x) if precision == "bf16" else None
    first, second = (population[:, part] for part in spec.layer_slices)
    weight2 = second[:, : n_classes * hidden].unflatten(1, (n_classes, hidden))  # [P, classes, hidden]
    bias2 = second[:, n_classes * hidden :].unsqueeze(2)
    step = max(1, HIDDEN_CHUNK_ELEMENTS // (hidden * batch))
    if step >= n_candidates:
        by_class = torch.baddbmm(bias2, weight2, _hidden_activations(spec, first, x, low))
    else:
        by_class = population.new_empty(n_candidates, n_classes, batch)
        for start in range(0, n_candidates, step):
            part = slice(start, min(start + step, n_candidates))
            activations = _hidden_activations(spec, first[part], x, low)
            torch.baddbmm(bias2[part], weight2[part], activations, out=by_class[part])
    return by_class.transpose(1, 2)


def network_logits(spec: MLPSpec, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits [B, classes] of one parameter vector [n]: two addmm, the path a gradient step
    takes (population_logits' stacked layout only costs there)."""
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
    slice of one [P*classes, hidden] x [hidden, B] GEMM instead of a whole network. The layout
    is population_logits' (a transposed view of [P, classes, B])."""
    (hidden, n_features), (n_classes, _) = spec.layer_shapes
    activations = _hidden_activations(spec, mean[spec.layer_slices[0]].unsqueeze(0), x, None)[0]  # [hidden, B]
    weights = candidates[:, : n_classes * hidden].reshape(-1, hidden)  # [P*classes, hidden]
    by_class = torch.mm(weights, activations).view(-1, n_classes, x.shape[0])
    return by_class.add_(candidates[:, n_classes * hidden :].unsqueeze(2)).transpose(1, 2)


def population_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy [P] of logits [P, B, C] against labels y [B], computed over the
    layout [P, C, B] (population_logits'; other logits are copied into it): log-softmax over a
    dimension that is not the innermost runs vectorized over examples, where over a last
    dimension of 10 classes it was half of an evaluation's time (measured at P = 64,
    B = 512: 0.13 ms, against 0.30 ms for logsumexp minus the label's logit and 2.0 ms over
    [P*B, C])."""
    by_class = logits.transpose(1, 2)
    if not by_class.is_contiguous():
        by_class = by_class.contiguous()
    labels = y.view(1, -1).expand(by_class.shape[0], -1)
    return nn.functional.cross_entropy(by_class, labels, reduction="none").mean(dim=1)
