"""Convolutional models for flattened square images, and the same model as a function of
flat parameter vectors so that the training loop (which keeps every model as one flat
vector) runs it like the MLP.

A small CNN for 1-channel images (MNIST, Fashion-MNIST) and a wider one for 3-channel
images (CIFAR-10), with the random crop and horizontal flip augmentation of the
optimizer-discovery write-up.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

# Examples per forward chunk when scoring a whole split: bounds the activations' memory.
EVAL_CHUNK = 2048


def image_shape(n_features: int) -> tuple[int, int, int]:
    """(channels, height, width) of flattened square images: 784 -> 1x28x28, 3072 -> 3x32x32."""
    for channels in (1, 3):
        side = math.isqrt(n_features // channels)
        if channels * side * side == n_features:
            return channels, side, side
    raise ValueError(f"{n_features} features are not square images of 1 or 3 channels; use an mlp model")


class SmallCNN(nn.Module):
    """Two conv-pool blocks and a linear classifier."""

    def __init__(self, channels: int, side: int, n_classes: int, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * width * (side // 4) ** 2, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def build_cnn(n_features: int, n_classes: int) -> tuple[SmallCNN, tuple[int, int, int]]:
    """The CNN for these images and the shape one example is fed in; the CIFAR CNN is wider."""
    channels, side, _ = image_shape(n_features)
    return SmallCNN(channels, side, n_classes, width=32 if channels == 3 else 16), (channels, side, side)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop of each image [N, C, H, W] from a 4-pixel zero padding, and a horizontal
    flip of half of them. The draws come from `generator` (on the CPU), so a seed fixes them."""
    n, _, height, width = images.shape
    padded = nn.functional.pad(images, (4, 4, 4, 4))
    rows = torch.randint(0, 9, (n,), generator=generator)
    cols = torch.randint(0, 9, (n,), generator=generator)
    crops = torch.stack(
        [
            padded[i, :, r : r + height, c : c + width]
            for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True))
        ]
    )
    flip = (torch.rand(n, generator=generator) < 0.5).to(images.device)
    crops[flip] = crops[flip].flip(-1)
    return crops


class FlatCNN:
    """The CNN as a function of flat parameter vectors (in `parameters()` order), through
    torch.func.functional_call: what Problem needs in place of the MLP's batched forward."""

    def __init__(self, n_features: int, n_classes: int, device: str = "cpu"):
        self.n_features, self.n_classes = n_features, n_classes
        self.module, self.input_shape = build_cnn(n_features, n_classes)
        self.module.to(device)
        self.shapes = [(name, parameter.shape) for name, parameter in self.module.named_parameters()]
        self.n_parameters = sum(parameter.numel() for parameter in self.module.parameters())

    def initial_parameters(self, seed: int) -> torch.Tensor:
        """Torch's default init of a fresh module under `seed` (the global RNG is left as it was)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module, _ = build_cnn(self.n_features, self.n_classes)
        return nn.utils.parameters_to_vector(module.parameters()).detach()

    def _named(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        named, start = {}, 0
        for name, shape in self.shapes:
            size = math.prod(shape)
            named[name] = flat[start : start + size].view(shape)
            start += size
        return named

    def population_logits(self, population: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits [P, B, classes] of P flat parameter vectors on x [B, features]; one
        candidate at a time (gradient optimizers have one), in chunks of examples."""
        images = x.view(-1, *self.input_shape)
        return torch.stack(
            [
                torch.cat(
                    [functional_call(self.module, self._named(flat), (chunk,)) for chunk in images.split(EVAL_CHUNK)]
                )
                for flat in population
            ]
        )
