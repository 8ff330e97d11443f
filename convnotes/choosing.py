"""Choosing a convolution: one small CNN in several variants, trained on the same data (capstone).

The data are the 8x8 handwritten digits bundled with scikit-learn (1,797 images, nothing is
downloaded). Each variant keeps the same macro-architecture — a stem, two feature blocks and a
global-average-pool classifier — and swaps the kind of convolution inside the blocks:

=================  =================================================================
``standard``       3x3 convolutions, 2x2 max pooling between blocks
``separable``      depthwise 3x3 + pointwise 1x1 (MobileNet) in the blocks
``grouped``        3x3 convolution with 4 groups, then a channel shuffle (ShuffleNet)
``dilated``        no pooling: dilations 1, 2, 4 keep full resolution (Yu & Koltun)
``deformable``     the second block's 3x3 convolution is deformable (Dai et al.)
``pointwise_se``   a 1x1 bottleneck and a squeeze-and-excitation gate (NiN, SENet)
=================  =================================================================

Examples
--------
>>> model = build_model("standard")
>>> count_parameters(model) > 0
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import costs
from ._checks import check_int, check_one_of
from .runtime import seed_everything

__all__ = [
    "VARIANTS",
    "DigitsData",
    "TrainResult",
    "build_model",
    "count_multiplications",
    "count_parameters",
    "load_digits",
    "train_and_evaluate",
]

VARIANTS = ("standard", "separable", "grouped", "dilated", "deformable", "pointwise_se")
WIDTH = 32  # channels in the feature blocks


@dataclass(frozen=True)
class DigitsData:
    """Train/test split of the scikit-learn digits as NCHW float32 tensors in [0, 1]."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> DigitsData:
    """The 1,797 bundled 8x8 digits, shuffled with ``seed`` and split (stratified by class).

    Returns
    -------
    DigitsData
        ``x_*`` of shape (N, 1, 8, 8), ``y_*`` of shape (N,) with labels 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    seed = check_int("seed", seed, minimum=0)
    bunch = sklearn_digits()
    images = torch.as_tensor(bunch.images / 16.0, dtype=torch.float32)[:, None]
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    rng = np.random.default_rng(seed)
    test_index, train_index = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(bunch.target == digit))
        cut = round(test_fraction * len(members))
        test_index.extend(members[:cut])
        train_index.extend(members[cut:])
    train = torch.as_tensor(rng.permutation(train_index))
    test = torch.as_tensor(np.sort(test_index))
    return DigitsData(images[train], labels[train], images[test], labels[test])


class _ShuffledGroupedConv(nn.Module):
    """3x3 grouped convolution followed by a channel shuffle (ShuffleNet's idea)."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False)
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .grouped import channel_shuffle

        return channel_shuffle(self.conv(x), self.groups)


def _block(kind: str, channels: int, dilation: int = 1) -> nn.Module:
    """One feature block: a convolution of the given kind, batch norm and ReLU."""
    if kind in ("standard", "pointwise_se"):
        conv: nn.Module = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    elif kind == "separable":
        from .separable import DepthwiseSeparableConv2d

        conv = DepthwiseSeparableConv2d(channels, channels, 3, padding=1, bias=False)
    elif kind == "grouped":
        conv = _ShuffledGroupedConv(channels, groups=4)
    elif kind == "dilated":
        conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
    elif kind == "deformable":
        from .deformable import DeformConv2d

        conv = DeformConv2d(channels, channels, 3, padding=1, bias=False)
    else:  # pragma: no cover - guarded by build_model
        raise ValueError(f"kind must be one of {VARIANTS!r}, got {kind!r}")
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


def build_model(variant: str, width: int = WIDTH) -> nn.Sequential:
    """The capstone CNN for one variant; input (N, 1, 8, 8), output logits (N, 10).

    All variants share the stem (3x3 conv 1 → ``width``), two blocks and the head (global
    average pooling, then a linear layer). Pooling variants halve the 8x8 map twice
    (8 → 4 → 2); the dilated variant keeps 8x8 and grows its receptive field with dilations
    2 and 4 instead.
    """
    check_one_of("variant", variant, VARIANTS)
    width = check_int("width", width, minimum=4)
    stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True))
    if variant == "dilated":
        body = [_block("dilated", width, dilation=2), _block("dilated", width, dilation=4)]
    elif variant == "deformable":
        body = [nn.MaxPool2d(2), _block("standard", width), nn.MaxPool2d(2),
                _block("deformable", width)]
    elif variant == "pointwise_se":
        from .pointwise import SqueezeExcitation

        body = [nn.MaxPool2d(2), _block("standard", width), nn.MaxPool2d(2),
                nn.Conv2d(width, width // 4, 1), nn.ReLU(inplace=True),
                nn.Conv2d(width // 4, width, 1), SqueezeExcitation(width, reduction=4)]
    else:
        body = [nn.MaxPool2d(2), _block(variant, width), nn.MaxPool2d(2), _block(variant, width)]
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)]
    return nn.Sequential(*stem, *body, *head)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _conv_mults(module: nn.Conv2d, shape: torch.Size) -> int:
    return costs.conv2d_mults(
        shape[2], shape[3], module.in_channels, module.out_channels, module.kernel_size,
        module.stride, module.padding, module.dilation, module.groups,
    )


def count_multiplications(model: nn.Module, input_shape: tuple[int, int, int] = (1, 8, 8)) -> int:
    """Multiplications of one forward pass on one image, from :mod:`convnotes.costs`.

    Every ``nn.Conv2d`` (including those inside the depthwise-separable, deformable and SE
    modules) is counted with :func:`convnotes.costs.conv2d_mults` from the shape it actually
    receives, every ``nn.Linear`` as ``in * out``; a deformable convolution adds its bilinear
    sampling through :func:`convnotes.costs.deform_conv2d_sampling_mults`. Batch norm,
    pooling and activations are not counted.
    """
    from .deformable import DeformConv2d

    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        shape = inputs[0].shape
        if isinstance(module, nn.Conv2d):
            total += _conv_mults(module, shape)
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, DeformConv2d):
            total += costs.deform_conv2d_sampling_mults(
                output.shape[2], output.shape[3], module.in_channels, module.kernel_size
            )

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
        model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return total


@dataclass(frozen=True)
class TrainResult:
    """Test accuracy and training losses of one (variant, seed) run."""

    variant: str
    seed: int
    accuracy: float
    losses: tuple[float, ...]


def train_and_evaluate(
    variant: str,
    data: DigitsData,
    *,
    seed: int = 0,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 0.01,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train one variant with Adam on the CPU, single-threaded, and return its test accuracy.

    Training runs on the CPU with one thread and deterministic algorithms so that the
    accuracy is a reproducible number (nbval compares it); the book times the GPU separately.
    """
    seed = check_int("seed", seed, minimum=0)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seed_everything(seed)
        model = build_model(variant)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        losses = []
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(data.x_train), generator=generator)
            total, count = 0.0, 0
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                loss = F.cross_entropy(model(data.x_train[index]), data.y_train[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
                count += len(index)
            losses.append(total / count)
            if on_epoch is not None:
                on_epoch(epoch, losses[-1])
        model.eval()
        with torch.no_grad():
            predictions = model(data.x_test).argmax(dim=1)
        accuracy = float((predictions == data.y_test).float().mean())
    finally:
        torch.set_num_threads(threads)
    return TrainResult(variant, seed, accuracy, tuple(losses))
