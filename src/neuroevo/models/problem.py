"""Data + model + loss: what every optimizer sees, and the counter of all the work it does."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch.utils.flop_counter import FlopCounterMode

from neuroevo.data.prepare import SPLITS, PreparedData
from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.cnn import FlatCNN
from neuroevo.models.mlp import (
    PRECISIONS,
    MLPSpec,
    init_parameters,
    last_layer_population_logits,
    network_logits,
    population_cross_entropy,
    population_logits,
)

MODELS = ("mlp", "cnn")


@checkpointable
@dataclass
class WorkCounter:
    """sample_evals: one network forward on one example; model_evals: one network on one
    batch; grad_evals: one backward pass of one network on one batch; flops: forward-equivalent
    FLOPs, the one currency every optimizer is charged in (Problem's methods say how)."""

    sample_evals: int = 0
    model_evals: int = 0
    grad_evals: int = 0
    flops: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "sample_evals": self.sample_evals,
            "model_evals": self.model_evals,
            "grad_evals": self.grad_evals,
            "flops": self.flops,
        }


# A backward pass costs twice its forward (the gradients of the activations and of the
# weights are a matmul each), so a gradient step is charged three forwards.
BACKWARD_FORWARDS = 2


def counted_flops(function, *args) -> int:
    """The FLOPs torch's FlopCounterMode counts for function(*args): 2 per multiply-add of every
    matmul and convolution, from the shapes; elementwise work (biases, activations) is not counted."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        function(*args)
    return int(counter.get_total_flops())


@dataclass
class Problem:
    spec: MLPSpec
    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    counter: WorkCounter = field(default_factory=WorkCounter)
    cnn: FlatCNN | None = None  # model "cnn": this network instead of the MLP of `spec`
    # Of the evolutionary fitness (population_logits' precision); what is reported is fp32.
    precision: str = "fp32"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: unknown value {self.precision!r}; known: {', '.join(PRECISIONS)}")

    @classmethod
    def from_data(
        cls,
        data: PreparedData,
        hidden: int,
        activation: str,
        device: str = "cpu",
        model: str = "mlp",
        precision: str = "fp32",
    ) -> Problem:
        """Moves the data to `device` once per run (a block reads the file once)."""
        if model not in MODELS:
            raise ValueError(f"model: unknown model {model!r}; known: {', '.join(MODELS)}")
        spec = MLPSpec(data.n_features, hidden, data.n_classes, activation)
        x = {split: torch.as_tensor(data.x[split], device=device) for split in SPLITS}
        y = {split: torch.as_tensor(data.y[split], device=device) for split in SPLITS}
        cnn = FlatCNN(data.n_features, data.n_classes, device) if model == "cnn" else None
        return cls(spec, x, y, cnn=cnn, precision=precision)

    @property
    def n_parameters(self) -> int:
        return self.cnn.n_parameters if self.cnn else self.spec.n_parameters

    def initial_parameters(self, seed: int) -> torch.Tensor:
        """The flat initial weights of seed `seed` (on the CPU)."""
        return self.cnn.initial_parameters(seed) if self.cnn else init_parameters(self.spec, seed)

    def _logits(self, population: torch.Tensor, x: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        if self.cnn:
            return self.cnn.population_logits(population, x)
        return population_logits(self.spec, population, x, precision)

    @cached_property
    def forward_flops(self) -> int:
        """FLOPs of one network's forward pass on one example."""
        return counted_flops(
            self._logits, torch.zeros(1, self.n_parameters, device=self.x["train"].device), self.x["train"][:1]
        )

    @cached_property
    def last_layer_flops(self) -> tuple[int, int]:
        """(shared, per candidate) FLOPs per example of last_layer_population_logits: the mean's
        hidden layer, computed once, and each candidate's output layer."""
        x = self.x["train"][:1]
        mean = torch.zeros(self.n_parameters, device=x.device)
        size = self.spec.layer_slices[1].stop - self.spec.layer_slices[1].start
        one, two = (
            counted_flops(last_layer_population_logits, self.spec, mean, torch.zeros(p, size, device=x.device), x)
            for p in (1, 2)
        )
        return one - (two - one), two - one

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x["train"][indices], self.y["train"][indices]

    def _counted_logits(self, population: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.counter.model_evals += population.shape[0]
        self.counter.sample_evals += population.shape[0] * x.shape[0]
        self.counter.flops += population.shape[0] * x.shape[0] * self.forward_flops
        return self._logits(population, x, self.precision)

    @torch.no_grad()
    def population_loss(self, population: torch.Tensor, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy [P] of each candidate on the batch (the evolutionary fitness)."""
        x, y = batch
        return population_cross_entropy(self._counted_logits(population, x), y)

    @torch.no_grad()
    def layer_population_loss(
        self, mean: torch.Tensor, blocks: list[torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Fitness (MLP) of layerwise candidates: blocks[i] [P_i, size of layer i] are candidates
        for layer i with the other layer at `mean`; returns the P_0 + P_1 losses in that order.
        Each candidate counts as a model evaluation, but the last layer's are computed from the
        mean's hidden activations, shared, at a fraction of a network's cost: their FLOPs are
        what is computed (the shared hidden layer once, each candidate's output layer)."""
        x, y = batch
        first, last = blocks
        population = mean.expand(first.shape[0], -1).clone()
        population[:, self.spec.layer_slices[0]] = first
        self.counter.model_evals += last.shape[0]
        self.counter.sample_evals += last.shape[0] * x.shape[0]
        shared, per_candidate = self.last_layer_flops
        self.counter.flops += x.shape[0] * (shared + last.shape[0] * per_candidate)
        last_losses = population_cross_entropy(last_layer_population_logits(self.spec, mean, last, x), y)
        return torch.cat([self.population_loss(population, batch), last_losses])

    @torch.no_grad()
    def population_scores(
        self, population: torch.Tensor, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean cross-entropy [P], accuracy [P]) of each candidate on the batch."""
        x, y = batch
        logits = self._counted_logits(population, x)
        return population_cross_entropy(logits, y), (logits.argmax(dim=-1) == y).float().mean(dim=1)

    def loss_and_grad(self, params: torch.Tensor, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Loss of one parameter vector; fills params.grad. Charged a forward and a backward
        pass (BACKWARD_FORWARDS forwards) in FLOPs."""
        x, y = batch
        self.counter.model_evals += 1
        self.counter.sample_evals += x.shape[0]
        self.counter.grad_evals += 1
        self.counter.flops += (1 + BACKWARD_FORWARDS) * x.shape[0] * self.forward_flops
        params.grad = None
        if self.cnn:
            loss = population_cross_entropy(self._logits(params.unsqueeze(0), x), y)[0]
        else:  # one network: plain matmuls and torch's cross-entropy, a third of the step's time
            loss = torch.nn.functional.cross_entropy(network_logits(self.spec, params, x), y)
        loss.backward()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self, params: torch.Tensor, split: str) -> tuple[float, float]:
        """(loss, accuracy) on a whole split. Monitoring, so not counted as training work."""
        logits = self._logits(params.detach().unsqueeze(0), self.x[split])
        loss = population_cross_entropy(logits, self.y[split])[0]
        accuracy = (logits[0].argmax(dim=-1) == self.y[split]).float().mean()
        return float(loss), float(accuracy)
