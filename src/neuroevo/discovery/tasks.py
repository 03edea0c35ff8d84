"""Tasks of the optimizer-discovery fitness (write-up section 3.1): a dataset, a model and a
training subsample. MLP tasks use the spine's MLP on any prepared dataset; CNN tasks
reshape the prepared images: a small CNN for 1-channel images (MNIST, Fashion-MNIST) and a
CIFAR CNN trained with random crops and horizontal flips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neuroevo.models import MLP, MLPSpec
from neuroevo.prepare import PreparedData

MODELS = ("mlp", "cnn")


@dataclass(frozen=True)
class Task:
    dataset: str
    model: str = "mlp"
    hidden: int = 32  # MLP width
    subsample: int = 15000  # training examples drawn once per (task, seed)
    batch_size: int = 128
    augment: bool = False  # random crop (pad 4) + horizontal flip; for CIFAR-10

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"task {self.dataset}: model must be one of {', '.join(MODELS)}, got {self.model!r}")


def image_shape(n_features: int) -> tuple[int, int, int]:
    """(channels, height, width) of flattened square images: 784 -> 1x28x28, 3072 -> 3x32x32."""
    for channels in (1, 3):
        side = math.isqrt(n_features // channels)
        if channels * side * side == n_features:
            return channels, side, side
    raise ValueError(f"{n_features} features are not square images of 1 or 3 channels; use an mlp task")


class SmallCNN(nn.Module):
    """Two conv-pool blocks and a linear classifier (1-channel images)."""

    def __init__(self, channels: int, side: int, n_classes: int, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * width * (side // 4) ** 2, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def build_model(task: Task, data: PreparedData) -> tuple[nn.Module, tuple[int, ...]]:
    """The task's model and the shape one example is fed in."""
    if task.model == "mlp":
        return MLP(MLPSpec(data.n_features, task.hidden, data.n_classes)), (data.n_features,)
    channels, side, _ = image_shape(data.n_features)
    width = 32 if channels == 3 else 16  # the CIFAR CNN is wider
    return SmallCNN(channels, side, data.n_classes, width), (channels, side, side)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop of each image from a 4-pixel zero padding, and a horizontal flip of half."""
    n, _, height, width = images.shape
    padded = nn.functional.pad(images, (4, 4, 4, 4))
    rows = torch.randint(0, 9, (n,), generator=generator)
    cols = torch.randint(0, 9, (n,), generator=generator)
    crops = torch.stack([padded[i, :, r : r + height, c : c + width] for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist()))])
    flip = torch.rand(n, generator=generator) < 0.5
    crops[flip] = crops[flip].flip(-1)
    return crops
