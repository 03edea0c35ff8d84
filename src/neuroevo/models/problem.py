"""Data + model + loss: what every optimizer sees, and the counter of all the work it does."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch.utils.flop_counter import FlopCounterMode

from neuroevo.data.prepare import SPLITS, PreparedData
from neuroevo.files.checkpoint import checkpointable
from neuroevo.models.cnn import CNN_LAYERS, FlatCNN, image_shape
from neuroevo.models.layers import Group, layer_population_logits
from neuroevo.models.mlp import (
    PRECISIONS,
    MLPSpec,
    init_parameters,
    network_logits,
    population_cross_entropy,
    population_logits,
)

MODELS = ("mlp", "cnn")


def layer_count(model: str, hidden: int | list[int]) -> int:
    """Layers (weight-and-bias groups) of the model a config describes, known before any data."""
    return CNN_LAYERS if model == "cnn" else len(hidden if isinstance(hidden, (list, tuple)) else [hidden]) + 1


def check_model(model: str, n_features: int) -> None:
    """Refuses, by key, a model that cannot run on data of n_features features."""
    if model not in MODELS:
        raise ValueError(f"model: unknown model {model!r}; known: {', '.join(MODELS)}")
    if model == "cnn":
        try:
            channels, side, _ = image_shape(n_features)
        except ValueError as error:
            raise ValueError(f"model: cnn needs square images: {error}") from None
        if side < 4:  # two 2x2 poolings
            raise ValueError(
                f"model: cnn needs square images of at least 4x4 pixels (it pools twice); {n_features} features "
                f"would be {channels}x{side}x{side}: use an mlp model"
            )


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
    spec: MLPSpec  # model "mlp" (and the MLP the config describes when the model is the CNN)
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
        hidden: int | list[int],
        activation: str,
        device: str = "cpu",
        model: str = "mlp",
        precision: str = "fp32",
    ) -> Problem:
        """Moves the data to `device` once per run (a block reads the file once)."""
        check_model(model, data.n_features)
        spec = MLPSpec(data.n_features, hidden, data.n_classes, activation)
        x = {split: torch.as_tensor(data.x[split], device=device) for split in SPLITS}
        y = {split: torch.as_tensor(data.y[split], device=device) for split in SPLITS}
        cnn = FlatCNN(data.n_features, data.n_classes, device) if model == "cnn" else None
        return cls(spec, x, y, cnn=cnn, precision=precision)

    @property
    def model(self) -> FlatCNN | MLPSpec:
        """The population model (neuroevo.models.layers.LayeredModel) that is trained."""
        return self.cnn if self.cnn else self.spec

    @property
    def groups(self) -> list[Group]:
        """The model's layers, each its weight and bias in the flat vector."""
        return self.model.groups

    @property
    def n_parameters(self) -> int:
        return self.model.n_parameters

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
    def layer_flops(self) -> list[tuple[int, int]]:
        """Per layer k, (shared, per candidate) FLOPs per example of layer_population_logits:
        the mean's layers before k, computed once, and each candidate's network from k on."""
        x = self.x["train"][:1]
        mean = torch.zeros(self.n_parameters, device=x.device)
        flops = []
        for layer, group in enumerate(self.groups):
            one, two = (
                counted_flops(
                    layer_population_logits, self.model, mean, layer, torch.zeros(p, group.size, device=x.device), x
                )
                for p in (1, 2)
            )
            flops.append((one - (two - one), two - one))
        return flops

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
        """Fitness of layerwise candidates: blocks[k] [P_k, size of layer k] are candidates for
        layer k with the other layers at `mean`; returns the P_0 + P_1 + ... losses in that order.
        The first layer's are whole networks (in the run's precision); a later layer's reuse the
        mean's activations before it, computed once, so each candidate costs only its network
        from that layer on. Each candidate counts as a model evaluation; FLOPs are what is
        computed (the shared layers once per block, each candidate's own layers)."""
        x, y = batch
        first, *later = blocks
        population = mean.expand(first.shape[0], -1).clone()
        population[:, self.groups[0].part] = first
        losses = [self.population_loss(population, batch)]
        for layer, block in enumerate(later, start=1):
            self.counter.model_evals += block.shape[0]
            self.counter.sample_evals += block.shape[0] * x.shape[0]
            shared, per_candidate = self.layer_flops[layer]
            self.counter.flops += x.shape[0] * (shared + block.shape[0] * per_candidate)
            logits = layer_population_logits(self.model, mean, layer, block, x)
            losses.append(population_cross_entropy(logits, y))
        return torch.cat(losses)

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
            loss = torch.nn.functional.cross_entropy(self.cnn.network_logits(params, x), y)
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
