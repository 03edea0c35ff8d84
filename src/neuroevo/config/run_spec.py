"""One run's settings: what the train and tune commands read from --spec (JSON, checked
against the config schema's blocks by neuroevo.config.checks before any work).

One shape on disk and on the wire, `RunSpec.to_dict()`: the --spec layout plus the run's
dataset, optimizer and seed,

    {"dataset": ..., "optimizer": ..., "seed": ...,
     "model": {"kind": ..., "hidden": ..., "activation": ...},
     "training": {...TrainingSettings}, "hyperparameters": {...}}

which `RunSpec.from_dict` reads back; summaries, tracking configs and result keys use it.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields, replace

from neuroevo.config.checks import SpecError, check_spec, check_training_budgets, parse_spec
from neuroevo.config.limits import SEED_LIMIT
from neuroevo.config.names import DATASET_NAMES


@dataclass
class TrainingSettings:
    batch_size: int = 32
    max_epochs: int = 100
    max_steps: int | None = None  # budget in minibatch steps (None: none)
    max_sample_evals: int | None = None  # None: no budget besides max_epochs
    max_seconds: float | None = None  # wall-time budget (benchmarks; makes results machine-dependent)
    budget_flops: float | None = None  # the equal-budget arm's base budget B: forward-equivalent FLOPs per run
    # The ladder: rungs as multiples of B, strictly increasing; a run goes on to B x the last.
    budget_multiples: list[float] = field(default_factory=lambda: [1.0])
    patience: int = 3
    min_delta: float = 1e-4
    threads: int = 1
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    eval_precision: str = "fp32"  # of population evaluations: "fp32", "bf16" or "auto"
    subsample: int | None = None  # train on this many training examples, drawn per seed
    augment: bool = False  # random crop + horizontal flip of each batch (square images)

    def __post_init__(self):
        check_training_budgets(asdict(self), "training")
        if self.budget_flops is not None and not isinstance(self.budget_flops, (int, float)):
            raise SpecError(
                f"training.budget_flops: {self.budget_flops!r} is not a number of FLOPs here; a run is given its "
                'base budget as a number ("rule" is resolved by the budget job: the train command\'s --budget)'
            )
        self.budget_multiples = [float(value) for value in self.budget_multiples]

    @property
    def budget_marks(self) -> list[float]:
        """The FLOPs at which the equal-budget arm scores the model: B x each multiple (none without B)."""
        return [] if self.budget_flops is None else [self.budget_flops * value for value in self.budget_multiples]

    @property
    def budget_end(self) -> float | None:
        """The FLOPs a run with an equal-budget arm goes on to: B x the top rung (None without B)."""
        return self.budget_marks[-1] if self.budget_flops is not None else None


# The model block of to_dict: its key -> RunSpec's field (the spec calls the model's kind "kind").
MODEL_KEYS = {"kind": "model", "hidden": "hidden", "activation": "activation"}
TOP_KEYS = ("dataset", "optimizer", "seed", "model", "training", "hyperparameters")


@dataclass
class RunSpec:
    """Everything that shapes one run's result; the train rule passes it as JSON."""

    dataset: str
    optimizer: str
    seed: int
    model: str = "mlp"  # "mlp", or "cnn" (square images)
    hidden: int | list[int] = 16  # the MLP's hidden width, or one width per hidden layer
    activation: str = "relu"
    training: TrainingSettings = field(default_factory=TrainingSettings)
    hyperparameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The nested layout (the module docstring's), every setting given; a copy."""
        return {
            "dataset": self.dataset,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "model": {key: getattr(self, name) for key, name in MODEL_KEYS.items()},
            "training": asdict(self.training),
            "hyperparameters": copy.deepcopy(self.hyperparameters),
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        """The inverse of to_dict; missing model and training keys take their defaults. Checks
        the layout only (unknown keys, by name); from_json checks the values too."""
        unknown = sorted(set(data) - set(TOP_KEYS))
        missing = [key for key in TOP_KEYS[:3] if key not in data]
        if unknown or missing:
            raise SpecError(
                f"run spec: unknown key(s) {', '.join(unknown) or 'none'}, missing key(s) {', '.join(missing) or 'none'}; "
                f"expected {', '.join(TOP_KEYS)}"
            )
        model, training = data.get("model", {}), data.get("training", {})
        known_training = {item.name for item in fields(TrainingSettings)}
        for block, given, known in (("model", model, set(MODEL_KEYS)), ("training", training, known_training)):
            extra = sorted(set(given) - known)
            if extra:
                raise SpecError(
                    f"run spec: unknown key(s) {', '.join(f'{block}.{key}' for key in extra)}; known: {', '.join(sorted(known))}"
                )
        return cls(
            data["dataset"],
            data["optimizer"],
            data["seed"],
            **{name: model[key] for key, name in MODEL_KEYS.items() if key in model},
            training=TrainingSettings(**training),
            hyperparameters=copy.deepcopy(data.get("hyperparameters", {})),
        )

    @classmethod
    def from_json(cls, dataset: str, optimizer: str, seed: int, text: str) -> RunSpec:
        """The spec of the train and tune commands, checked against the config schema's
        blocks (neuroevo.config.checks) before any work; errors name the key."""
        if dataset not in DATASET_NAMES:
            raise SpecError(f"--dataset: unknown dataset {dataset!r}; known: {', '.join(DATASET_NAMES)}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
            raise SpecError(f"--seed: must be a non-negative integer below 2**32, got {seed!r}")
        spec = parse_spec(text, optimizer)
        return cls.from_dict({"dataset": dataset, "optimizer": optimizer, "seed": seed, **spec})

    def with_tuned(self, tuned: dict, source: str) -> RunSpec:
        """This spec with the tuning stage's best values replacing its hyperparameters of the
        same names, checked as a spec's are (`source` names where they came from in errors)."""
        hyperparameters = self.hyperparameters | tuned
        check_spec({"hyperparameters": hyperparameters}, self.optimizer, source)
        return replace(self, hyperparameters=hyperparameters)
