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

from neuroevo.models.layers import Group, chunked_logits, over_examples, population_forward, population_linear

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


# One chunk of a population evaluation: candidates x examples x the largest layer output (the
# first convolution's, before pooling) stays under this many floats (8 MiB), examples at most
# CNN_EXAMPLE_CHUNK at a time. Activations that stay in cache, and under glibc's mmap threshold
# (their memory reused, not faulted in again), are what makes it fast. Measured at P = 64 on a
# 2-core AVX-512 CPU (GFLOP/s at B = 256 / 1024): 5 candidates x 32 examples 102 / 148;
# 2^22 floats and 64 examples 94 / 121; 2^20 and 32: 91 / 92; the whole population at once 19.
CNN_CHUNK_ELEMENTS = 1 << 21
CNN_EXAMPLE_CHUNK = 32
# Its layers, each a weight-and-bias group of the flat vector: two convolutions, the classifier.
CNN_LAYERS = 3


class FlatCNN:
    """The CNN as a function of flat parameter vectors (in `parameters()` order), and of a
    population of them: a population model (neuroevo.models.layers.LayeredModel).

    A population runs as one network of P times the channels, in chunks of candidates and
    examples: the first convolution, whose input all candidates share, as one GEMM of the
    input's 3x3 patches (im2col, computed once per chunk of examples) with the candidates'
    filters stacked, whose output is already channels-last; each later convolution grouped
    (groups = P, each candidate its own filters); the classifier a batched matmul.
    Activations are channels-last [B, P*channels, H, W] (per candidate its block of channels:
    oneDNN's grouped convolution runs 1.7x faster so than on NCHW), the logits
    [P, classes, B] as the MLP's. Bias and ReLU run after the max pooling, on a quarter of
    the values: a per-channel bias and a monotone ReLU commute with a max, exactly."""

    def __init__(self, n_features: int, n_classes: int, device: str = "cpu"):
        self.n_features, self.n_classes = n_features, n_classes
        self.module, self.input_shape = build_cnn(n_features, n_classes)
        self.module.to(device)
        self.shapes = [(name, parameter.shape) for name, parameter in self.module.named_parameters()]
        self.n_parameters = sum(parameter.numel() for parameter in self.module.parameters())
        self.convs = [layer for layer in self.module.features if isinstance(layer, nn.Conv2d)]
        self.groups, start = [], 0
        for layer in [*self.convs, self.module.classifier]:
            weight_size, bias_size = layer.weight.numel(), layer.bias.numel()
            self.groups.append(Group(start, weight_size, bias_size, weight_size // bias_size))
            start += weight_size + bias_size
        channels, side, _ = self.input_shape
        self.largest_activation = self.convs[0].out_channels * side * side

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

    def network_logits(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits [B, classes] of one flat vector through the module itself (torch.func
        functional_call): the reference the population path is tested against."""
        return functional_call(self.module, self._named(flat), (x.view(-1, *self.input_shape),))

    # The population model (neuroevo.models.layers.LayeredModel).
    examples_per_chunk = CNN_EXAMPLE_CHUNK

    def input_activations(self, x: torch.Tensor) -> torch.Tensor:
        """The first convolution's input patches [B*H*W, channels*k*k] (im2col), which every
        candidate's first layer shares."""
        conv = self.convs[0]
        images = x.view(-1, *self.input_shape)
        patches = nn.functional.unfold(images, conv.kernel_size, padding=conv.padding)  # [B, C*k*k, H*W]
        return patches.transpose(1, 2).reshape(-1, patches.shape[1])

    def candidates_per_chunk(self, batch: int) -> int:
        return max(1, CNN_CHUNK_ELEMENTS // (self.largest_activation * batch))

    def forward_layer(self, index: int, h: torch.Tensor, n_in: int, block: torch.Tensor) -> torch.Tensor:
        group, n_weights = self.groups[index], block.shape[0]
        weight, bias = block[:, : group.weight_size], block[:, group.weight_size :]
        if index == len(self.convs):  # the classifier: [B, P*channels, s, s] -> [P, features, B]
            features = h.reshape(h.shape[0], n_in, -1) if h.is_contiguous() else self._by_candidate(h, n_in)
            weight = weight.view(n_weights, self.n_classes, -1)
            return population_linear(features.permute(1, 2, 0), n_in, weight, bias.unsqueeze(2))
        conv = self.convs[index]
        if index == 0:  # h: the input's patches, shared; the output [B*H*W, P*out] is channels-last
            _, side, _ = self.input_shape
            out = torch.mm(h, weight.reshape(n_weights * conv.out_channels, -1).t())
            out = out.view(-1, side, side, n_weights * conv.out_channels).permute(0, 3, 1, 2)
            pooled = nn.functional.max_pool2d(out, 2)
            return pooled.add_(bias.reshape(1, -1, 1, 1)).relu_()
        weight = weight.reshape(n_weights * conv.out_channels, *conv.weight.shape[1:])
        if n_in > 1 and n_weights == 1:  # one layer for every candidate's input: its filters repeated
            weight, bias = weight.repeat(n_in, 1, 1, 1), bias.expand(n_in, -1)
        out = nn.functional.conv2d(
            h.contiguous(memory_format=torch.channels_last),
            weight.contiguous(memory_format=torch.channels_last),
            bias.reshape(-1),
            padding=conv.padding,
            groups=n_in,
        )
        return nn.functional.max_pool2d(out, 2).relu_()

    @staticmethod
    def _by_candidate(h: torch.Tensor, n: int) -> torch.Tensor:
        """Channels-last activations [B, n*c, s, s] as [B, n, c*s*s] in the module's flatten order."""
        batch, channels, side, _ = h.shape
        per_candidate = h.permute(0, 2, 3, 1).reshape(batch, side, side, n, channels // n)
        return per_candidate.permute(0, 3, 4, 1, 2).reshape(batch, n, -1)

    def population_logits(self, population: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits [P, B, classes] (a transposed view of [P, classes, B]) of P flat parameter
        vectors on x [B, features], in chunks of examples and of candidates (see CNN_CHUNK_ELEMENTS)."""

        def chunk_logits(chunk: torch.Tensor) -> torch.Tensor:
            h = self.input_activations(chunk)
            return chunked_logits(
                self,
                population.shape[0],
                chunk.shape[0],
                lambda part: population_forward(self, h, 1, [population[part, group.part] for group in self.groups]),
            )

        return over_examples(self, x, chunk_logits).transpose(1, 2)
