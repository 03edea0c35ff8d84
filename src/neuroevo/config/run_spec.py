"""One run's settings: what the train and tune commands read from --spec (JSON, checked
against the config schema's blocks by neuroevo.config.checks before any work)."""

from __future__ import annotations

from dataclasses import dataclass, field

from neuroevo.config.checks import SpecError, parse_spec
from neuroevo.config.names import DATASET_NAMES


@dataclass
class TrainingSettings:
    batch_size: int = 32
    max_epochs: int = 100
    max_steps: int | None = None  # budget in minibatch steps (None: none)
    max_sample_evals: int | None = None  # None: no budget besides max_epochs
    max_seconds: float | None = None  # wall-time budget (benchmarks; makes results machine-dependent)
    patience: int = 3
    min_delta: float = 1e-4
    threads: int = 1
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    subsample: int | None = None  # train on this many training examples, drawn per seed
    augment: bool = False  # random crop + horizontal flip of each batch (square images)


@dataclass
class RunSpec:
    """Everything that shapes one run's result; the train rule passes it as JSON."""

    dataset: str
    optimizer: str
    seed: int
    model: str = "mlp"  # "mlp", or "cnn" (square images, gradient optimizers only)
    hidden: int = 16
    activation: str = "relu"
    training: TrainingSettings = field(default_factory=TrainingSettings)
    hyperparameters: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, dataset: str, optimizer: str, seed: int, text: str) -> "RunSpec":
        """The spec of the train and tune commands, checked against the config schema's
        blocks (neuroevo.config.checks) before any work; errors name the key."""
        if dataset not in DATASET_NAMES:
            raise SpecError(f"--dataset: unknown dataset {dataset!r}; known: {', '.join(DATASET_NAMES)}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SpecError(f"--seed: must be a non-negative integer, got {seed!r}")
        spec = parse_spec(text, optimizer)
        model = spec.get("model", {})
        return cls(
            dataset,
            optimizer,
            seed,
            model=model.get("kind", "mlp"),
            hidden=model.get("hidden", 16),
            activation=model.get("activation", "relu"),
            training=TrainingSettings(**spec.get("training", {})),
            hyperparameters=spec.get("hyperparameters", {}),
        )
