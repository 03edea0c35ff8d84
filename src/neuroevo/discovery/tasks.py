"""Tasks of the optimizer-discovery fitness (write-up section 3.1): a dataset, a model and a
training subsample, under a name (its dataset's unless given). MLP tasks use the spine's MLP on any prepared dataset; CNN tasks
reshape the prepared images: a small CNN for 1-channel images (MNIST, Fashion-MNIST) and a
CIFAR CNN trained with random crops and horizontal flips.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from neuroevo.data.prepare import PreparedData
from neuroevo.models.cnn import build_cnn
from neuroevo.models.mlp import MLP, MLPSpec

MODELS = ("mlp", "cnn")


@dataclass(frozen=True)
class Task:
    dataset: str
    name: str = ""  # what tables and folders call it; default: the dataset's name
    model: str = "mlp"
    hidden: int = 32  # MLP width
    subsample: int = 15000  # training examples drawn once per (task, seed)
    batch_size: int = 128
    augment: bool = False  # random crop (pad 4) + horizontal flip; for CIFAR-10

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", self.dataset)
        if self.model not in MODELS:
            raise ValueError(f"task {self.dataset}: model must be one of {', '.join(MODELS)}, got {self.model!r}")


def build_model(task: Task, data: PreparedData) -> tuple[nn.Module, tuple[int, ...]]:
    """The task's model and the shape one example is fed in."""
    if task.model == "mlp":
        return MLP(MLPSpec(data.n_features, task.hidden, data.n_classes)), (data.n_features,)
    return build_cnn(data.n_features, data.n_classes)
