"""Choosing a convolution: one small CNN in several variants, trained on the same data (capstone).

The data are the 8x8 handwritten digits bundled with scikit-learn (1,797 images, nothing is
downloaded). Each variant keeps the same macro-architecture — a 3x3 stem, two feature blocks
and a global-average-pool classifier — and swaps the kind of convolution inside the blocks:

=================  =================================================================
``standard``       3x3 convolutions, 2x2 max pooling before each block
``separable``      depthwise 3x3 + pointwise 1x1 in both blocks (Xception, MobileNet)
``grouped``        3x3 convolution with 4 groups, then a channel shuffle (ShuffleNet)
``dilated``        no pooling: the blocks use dilations 2 and 4 at full resolution (Yu & Koltun)
``deformable``     the second block's 3x3 convolution is deformable (Dai et al.)
``pointwise_se``   1x1 reduce → 3x3 → 1x1 expand bottlenecks with a squeeze-and-excitation gate
                   (Network in Network, ResNet, SENet)
=================  =================================================================

Every convolution in these models is a layer of ``convnotes`` or an ``nn.Conv2d``;
:func:`forward_from_scratch` recomputes a model's forward pass with the book's from-scratch
operators only, and :func:`multiplications_by_layer` counts its work with
:mod:`convnotes.costs`.

Examples
--------
>>> model = build_model("standard")
>>> count_parameters(model), count_multiplications(model)
(19242, 203072)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import costs
from ._checks import check_float_tensor, check_int, check_number, check_one_of
from .arithmetic import receptive_field
from .correlation import conv2d
from .deformable import DeformConv2d, deform_conv2d
from .grouped import channel_shuffle, grouped_conv2d
from .pointwise import SqueezeExcitation, global_avg_pool2d
from .pooling import max_pool2d
from .runtime import seed_everything
from .separable import DepthwiseSeparableConv2d, depthwise_separable_conv2d

__all__ = [
    "VARIANTS",
    "WIDTH",
    "DigitsData",
    "LayerCost",
    "ShuffledGroupedConv2d",
    "TrainResult",
    "build_model",
    "count_multiplications",
    "count_parameters",
    "forward_from_scratch",
    "load_digits",
    "multiplications_by_layer",
    "nominal_receptive_field",
    "train_and_evaluate",
]

#: The variants :func:`build_model` knows, in the order the book shows them.
VARIANTS = ("standard", "separable", "grouped", "dilated", "deformable", "pointwise_se")
#: Channels of the feature blocks.
WIDTH = 32
GROUPS = 4  # groups of the grouped variant
REDUCTION = 4  # channel reduction of the bottleneck and of the SE gate


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
        ``x_*`` of shape (N, 1, 8, 8), ``y_*`` of shape (N,) with labels 0..9; 1,438 training
        and 359 test images for the default ``test_fraction=0.2``.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    test_fraction = check_number("test_fraction", test_fraction, minimum=0.0, strict=True)
    if test_fraction >= 1.0:
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


class ShuffledGroupedConv2d(nn.Module):
    """A 3x3 grouped convolution followed by a channel shuffle (ShuffleNet's idea).

    Input and output (N, C, H, W); ``C`` must be divisible by ``groups``.
    """

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False)
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(self.conv(x), self.groups)


def _conv_bn_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


def _bottleneck_se(channels: int) -> nn.Sequential:
    """1x1 reduce → 3x3 → 1x1 expand, then a squeeze-and-excitation gate and ReLU."""
    narrow = channels // REDUCTION
    return nn.Sequential(
        _conv_bn_relu(nn.Conv2d(channels, narrow, 1, bias=False), narrow),
        _conv_bn_relu(nn.Conv2d(narrow, narrow, 3, padding=1, bias=False), narrow),
        nn.Conv2d(narrow, channels, 1, bias=False), nn.BatchNorm2d(channels),
        SqueezeExcitation(channels, reduction=REDUCTION), nn.ReLU(inplace=True),
    )


def _block(kind: str, channels: int, dilation: int = 1) -> nn.Sequential:
    """One feature block of the given kind, (N, C, H, W) → (N, C, H, W)."""
    if kind == "pointwise_se":
        return _bottleneck_se(channels)
    if kind == "standard":
        conv: nn.Module = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    elif kind == "separable":
        conv = DepthwiseSeparableConv2d(channels, channels, 3, padding=1, bias=False)
    elif kind == "grouped":
        conv = ShuffledGroupedConv2d(channels, groups=GROUPS)
    elif kind == "dilated":
        conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
    else:  # "deformable"; build_model has checked the name
        conv = DeformConv2d(channels, channels, 3, padding=1, bias=False)
    return _conv_bn_relu(conv, channels)


def build_model(variant: str, width: int = WIDTH) -> nn.Sequential:
    """The capstone CNN for one variant; input (N, 1, 8, 8), output logits (N, 10).

    All variants share the stem (3x3 convolution 1 → ``width``, batch norm, ReLU), two blocks
    and the head (global average pooling, then a linear layer ``width`` → 10). Pooling
    variants halve the 8x8 map before each block (8 → 4 → 2); the dilated variant keeps 8x8
    and grows its receptive field with dilations 2 and 4 instead.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    width : int
        Channels of the blocks; a multiple of 4 (the groups and the bottleneck reduction).
    """
    check_one_of("variant", variant, VARIANTS)
    width = check_int("width", width, minimum=4)
    if width % GROUPS != 0:
        raise ValueError(f"width must be a multiple of {GROUPS}, got {width}")
    stem = _conv_bn_relu(nn.Conv2d(1, width, 3, padding=1, bias=False), width)
    if variant == "dilated":
        body = [_block("dilated", width, dilation=2), _block("dilated", width, dilation=4)]
    else:
        first = "standard" if variant == "deformable" else variant
        body = [nn.MaxPool2d(2), _block(first, width), nn.MaxPool2d(2), _block(variant, width)]
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)]
    return nn.Sequential(*stem, *body, *head)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class LayerCost(NamedTuple):
    """One layer's multiplications for one image (see :func:`multiplications_by_layer`)."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    multiplications: int


def _layer_cost(module: nn.Module, shape: torch.Size, output: torch.Tensor) -> tuple[str, int]:
    """(kind, multiplications) of one leaf layer from the shape it received, else ("", 0)."""
    if isinstance(module, nn.Conv2d):
        mults = costs.conv2d_mults(shape[2], shape[3], module.in_channels, module.out_channels,
                                   module.kernel_size, module.stride, module.padding,
                                   module.dilation, module.groups)
        kh, kw = module.kernel_size
        groups = f", groups={module.groups}" if module.groups > 1 else ""
        return f"{kh}x{kw} conv{groups}", mults
    if isinstance(module, nn.Linear):
        return "linear", module.in_features * module.out_features
    if isinstance(module, SqueezeExcitation):  # its two linear layers are counted as such
        return "SE channel scaling", shape[1] * shape[2] * shape[3]
    if isinstance(module, DeformConv2d):
        return "bilinear sampling", costs.deform_conv2d_sampling_mults(
            output.shape[2], output.shape[3], module.in_channels, module.kernel_size,
            module.offset_groups, module.modulated)
    return "", 0


def multiplications_by_layer(model: nn.Module,
                             input_shape: tuple[int, int, int] = (1, 8, 8)) -> list[LayerCost]:
    """Every layer's multiplications for one image of shape ``input_shape``, in call order.

    Each ``nn.Conv2d`` (also those inside the separable, grouped, deformable and bottleneck
    blocks: a deformable convolution runs its offset predictor and its weights as
    ``nn.Conv2d`` layers) is counted with :func:`convnotes.costs.conv2d_mults` from the shape
    it actually receives; each ``nn.Linear`` (the classifier and the SE gate) as
    ``in * out``; a squeeze-and-excitation block adds its channel scaling (``C H W``) and a
    deformable convolution its bilinear sampling
    (:func:`convnotes.costs.deform_conv2d_sampling_mults`), as the closed forms of
    :mod:`convnotes.costs` count them. Batch norm, pooling and activations are not counted.
    """
    found: list[LayerCost] = []
    names = {module: name for name, module in model.named_modules()}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        kind, mults = _layer_cost(module, inputs[0].shape, output)
        if kind:
            found.append(LayerCost(names[module], kind, tuple(inputs[0].shape[1:]), mults))

    handles = [m.register_forward_hook(record) for m in model.modules()]
    parameter = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, dtype=parameter.dtype, device=parameter.device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return found


def count_multiplications(model: nn.Module, input_shape: tuple[int, int, int] = (1, 8, 8)) -> int:
    """Total multiplications of one forward pass on one image (:func:`multiplications_by_layer`)."""
    return sum(layer.multiplications for layer in multiplications_by_layer(model, input_shape))


def nominal_receptive_field(model: nn.Module) -> int:
    """Receptive field of one output unit of the last block, in input pixels along each axis.

    Walks the spatial layers in order (convolutions, the depthwise part of a separable block,
    max pooling) and applies :func:`convnotes.arithmetic.receptive_field`. For a deformable
    convolution this is the field of its zero-offset grid: learned offsets can reach further.
    """
    layers = []
    skip: set[nn.Module] = set()
    for module in model.modules():
        if module in skip:
            continue
        if isinstance(module, DeformConv2d | SqueezeExcitation):
            skip.update(module.modules())  # offset predictor and gate run beside the path
        if isinstance(module, nn.Conv2d | DeformConv2d):
            (kh, _), (sh, _), (dh, _) = (
                tuple(module.kernel_size), tuple(module.stride), tuple(module.dilation))
            layers.append((kh, sh, dh))
        elif isinstance(module, nn.MaxPool2d):
            size = module.kernel_size if isinstance(module.kernel_size, int) \
                else module.kernel_size[0]
            stride = module.stride if isinstance(module.stride, int) else module.stride[0]
            layers.append((size, stride, 1))
    return receptive_field(layers)


def _scratch(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One module's forward pass with convnotes' own operators where it is a convolution."""
    if isinstance(module, nn.Sequential):
        for child in module:
            x = _scratch(child, x)
        return x
    if isinstance(module, nn.Conv2d):
        return conv2d(x, module.weight, module.bias, module.stride, module.padding,
                      module.dilation, module.groups)
    if isinstance(module, DepthwiseSeparableConv2d):
        return depthwise_separable_conv2d(
            x, module.depthwise.weight, module.pointwise.weight, module.pointwise.bias,
            module.depthwise.stride, module.depthwise.padding, module.depthwise.dilation)
    if isinstance(module, ShuffledGroupedConv2d):
        return channel_shuffle(grouped_conv2d(x, module.conv.weight, groups=module.groups,
                                              padding=module.conv.padding), module.groups)
    if isinstance(module, DeformConv2d):
        offset, mask = module.offsets_and_mask(x)
        return deform_conv2d(x, offset, module.weight, module.bias, module.stride,
                             module.padding, module.dilation, mask)
    if isinstance(module, nn.MaxPool2d):
        return max_pool2d(x, module.kernel_size, module.stride, module.padding,
                          module.dilation, module.ceil_mode)
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return global_avg_pool2d(x)
    return module(x)  # batch norm, ReLU, flatten, linear, the SE gate


def forward_from_scratch(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` recomputed with the book's from-scratch operators.

    Every ``nn.Conv2d`` becomes :func:`convnotes.correlation.conv2d` (im2col + GEMM), the
    separable block :func:`convnotes.separable.depthwise_separable_conv2d`, the grouped block
    :func:`convnotes.grouped.grouped_conv2d` + :func:`convnotes.grouped.channel_shuffle`,
    the deformable block :func:`convnotes.deformable.deform_conv2d`, max pooling
    :func:`convnotes.pooling.max_pool2d` and global pooling
    :func:`convnotes.pointwise.global_avg_pool2d`; the other layers run as they are.

    Parameters
    ----------
    model : nn.Sequential
        From :func:`build_model`.
    x : Tensor, shape (N, 1, 8, 8)

    Returns
    -------
    Tensor, shape (N, 10)
        Equal to ``model(x)`` up to floating-point rounding.
    """
    check_float_tensor("x", x, ndim=4)
    return _scratch(model, x)


@dataclass(frozen=True)
class TrainResult:
    """Test accuracy and training losses of one (variant, seed) run, and the trained model.

    Two results are equal when variant, seed, accuracy and losses are (the model is not
    compared), which is how the tests check that training is reproducible.
    """

    variant: str
    seed: int
    accuracy: float
    losses: tuple[float, ...]
    model: nn.Module | None = field(default=None, compare=False, repr=False)


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

    Training runs on the CPU, with one thread, in float64, so that the accuracy is a
    reproducible number (nbval compares it): float32 results differ in their last bits between
    processors and thread counts, and over hundreds of steps such differences can move a test
    prediction; in float64 they stay far below anything a prediction depends on. The book
    times the variants (in float32, on the CPU and the GPU) separately.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    data : DigitsData
        From :func:`load_digits`.
    seed : int
        Seeds the initial weights and the order of the mini-batches.
    epochs, batch_size : int
        Passes over the training set and images per step.
    lr : float
        Adam's learning rate.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, mean_training_loss)`` after every epoch.

    Returns
    -------
    TrainResult
        Test accuracy, the mean training loss of every epoch and the trained model (float64,
        on the CPU, in eval mode).
    """
    seed = check_int("seed", seed, minimum=0)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_number("lr", lr, minimum=0.0, strict=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seed_everything(seed)
        model = build_model(variant).double()
        x_train, x_test = data.x_train.double(), data.x_test.double()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        losses = []
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            total, count = 0.0, 0
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                loss = F.cross_entropy(model(x_train[index]), data.y_train[index])
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
            predictions = model(x_test).argmax(dim=1)
        accuracy = float((predictions == data.y_test).double().mean())
    finally:
        torch.set_num_threads(threads)
    return TrainResult(variant, seed, accuracy, tuple(losses), model)
