"""The MLP, as an nn.Module and as a function of a population of flat parameter vectors.

Flat layout, layer by layer: weight [out, in] row-major, then bias [out] - the order of
`nn.Module.parameters()`, so `parameters_to_vector` and the population view agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.layers import Group, chunked_logits, population_forward, population_linear

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


@checkpointable
@dataclass(frozen=True)
class MLPSpec:
    """Fully connected layers n_features -> hidden... -> n_classes; `hidden` is one width
    (one hidden layer) or a tuple of widths, one per hidden layer."""

    n_features: int
    hidden: int | tuple[int, ...]
    n_classes: int
    activation: str = "relu"

    def __post_init__(self):
        if isinstance(self.hidden, list):  # from a config: a tuple keeps the spec hashable
            object.__setattr__(self, "hidden", tuple(self.hidden))
        widths = self.widths
        if not widths:
            raise ValueError("model.hidden: needs at least one hidden layer width, got none ([])")
        if any(isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in widths):
            raise ValueError(f"model.hidden: every width must be a positive integer, got {list(widths)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"model.activation: unknown {self.activation!r}; known: {', '.join(ACTIVATIONS)}")

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(self.hidden) if isinstance(self.hidden, (tuple, list)) else (self.hidden,)

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_out, fan_in) of each layer."""
        sizes = [self.n_features, *self.widths, self.n_classes]
        return list(zip(sizes[1:], sizes[:-1], strict=True))

    @property
    def layer_slices(self) -> list[slice]:
        """Slice of the flat vector holding each layer's weight and bias."""
        return [group.part for group in self.groups]

    @property
    def groups(self) -> list[Group]:
        """Each layer's weight and bias in the flat vector."""
        groups, start = [], 0
        for fan_out, fan_in in self.layer_shapes:
            groups.append(Group(start, fan_out * fan_in, fan_out, fan_in))
            start += fan_out * fan_in + fan_out
        return groups

    @property
    def n_parameters(self) -> int:
        return self.layer_slices[-1].stop

    # The population model (neuroevo.models.layers.LayeredModel): layouts [P, width, B].
    def input_activations(self, x: torch.Tensor) -> torch.Tensor:
        return x.t().unsqueeze(0)

    def forward_layer(self, index: int, h: torch.Tensor, n_in: int, block: torch.Tensor) -> torch.Tensor:
        return _linear(self, index, h, n_in, block)

    def candidates_per_chunk(self, batch: int) -> int:
        return max(1, HIDDEN_CHUNK_ELEMENTS // (max(self.widths) * batch))


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


def _bf16_reference(spec: MLPSpec, population: torch.Tensor, x: torch.Tensor):
    """The fp32 part of the bf16 path (the population's mean first-layer weight and its
    pre-activations), or None where bf16 cannot help: one candidate, or a mean that is not
    finite (one diverged candidate must not spoil the others' fitness; fp32 keeps it to itself)."""
    if population.shape[0] == 1:
        return None
    first = spec.groups[0]
    mean = population[:, first.start : first.start + first.weight_size].mean(dim=0).view(*spec.layer_shapes[0])
    if not torch.isfinite(mean).all():
        return None
    return mean, torch.mm(mean, x.t())


def _linear(
    spec: MLPSpec,
    index: int,
    h: torch.Tensor,
    n_in: int,
    block: torch.Tensor,
    low: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Layer `index` of the networks of block [1 or P, size] on h [n_in, in, B], in the layout
    [P, out, B], its activation applied in place (but on the logits).

    See population_linear. With `low` (first layer only: the population's mean weight [out, in] and its fp32
    pre-activations) only the deviations from the mean go through a bf16 GEMM, whose output is
    rounded to bf16 before the fp32 mean part is added. So the rounding error scales with the
    population's spread, not with the weights: a small sigma is not rounded away."""
    fan_out, fan_in = spec.layer_shapes[index]
    weight = block[:, : fan_out * fan_in].unflatten(1, (fan_out, fan_in))  # [P, out, in]
    bias = block[:, fan_out * fan_in :].unsqueeze(2)
    if low is None:
        out = population_linear(h, n_in, weight, bias)
    else:
        mean, mean_out = low
        n_weights, batch = block.shape[0], h.shape[2]
        deviations = (weight - mean).to(torch.bfloat16).view(n_weights * fan_out, fan_in)
        rounded = torch.mm(deviations, h[0].to(torch.bfloat16)).view(n_weights, fan_out, batch)
        out = rounded.float().add_(mean_out).add_(bias)  # a cast, then same-dtype adds: 2x the mixed add
    if index == len(spec.layer_shapes) - 1:
        return out
    return getattr(torch, spec.activation + "_")(out)  # relu_ / tanh_


def population_logits(
    spec: MLPSpec, population: torch.Tensor, x: torch.Tensor, precision: str = "fp32"
) -> torch.Tensor:
    """Logits [P, B, classes] of P parameter vectors [P, n] on one batch x [B, features].

    No loop over candidates, but for chunks that bound memory: the first layer sees the same
    input for every candidate, so it is one GEMM of a chunk's stacked weights; each later one
    is a batched matmul. All compute in the layout [P, width, B], returned as its transposed
    view: with the batch innermost instead of the 10 classes, the batched matmul and the loss's
    reductions over classes run vectorized over examples (measured 2-9x faster than the
    [P, B, classes] layout). In bf16 a candidate's logits depend (by rounding) on the
    population's mean, so on the population it is evaluated in."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: unknown value {precision!r}; known: {', '.join(PRECISIONS)}")
    low = _bf16_reference(spec, population, x) if precision == "bf16" else None
    h = spec.input_activations(x)

    def logits_of(part: slice) -> torch.Tensor:
        blocks = [population[part, group.part] for group in spec.groups]
        first = _linear(spec, 0, h, 1, blocks[0], low)
        return population_forward(spec, first, blocks[0].shape[0], blocks[1:])

    return chunked_logits(spec, population.shape[0], x.shape[0], logits_of).transpose(1, 2)


def network_logits(spec: MLPSpec, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Logits [B, classes] of one parameter vector [n]: an addmm per layer, the path a
    gradient step takes (population_logits' stacked layout only costs there)."""
    activation = getattr(torch, spec.activation)
    for index, (group, (fan_out, fan_in)) in enumerate(zip(spec.groups, spec.layer_shapes, strict=True)):
        block = params[group.part]
        weight, bias = block[: group.weight_size].view(fan_out, fan_in), block[group.weight_size :]
        x = torch.addmm(bias, x, weight.t())
        if index < len(spec.groups) - 1:
            x = activation(x)
    return x


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
