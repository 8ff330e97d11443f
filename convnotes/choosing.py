"""Choosing a convolution: one small CNN in several variants, trained on the same tasks (capstone).

Each variant keeps the same macro-architecture and swaps the kind of convolution inside its
feature blocks, each block built as its paper defines it from the layers of ``convnotes``:

=================  =================================================================
``standard``       3x3 convolution, batch norm, ReLU
``separable``      depthwise 3x3 then pointwise 1x1 with nothing between them, then batch
                   norm and ReLU (Xception's order; MobileNet puts BN + ReLU between)
``shufflenet``     the ShuffleNet unit: grouped 1x1, channel shuffle, depthwise 3x3, grouped
                   1x1, added to its input (:class:`convnotes.grouped.ShuffleUnit`)
``bottleneck_se``  the SE-ResNet bottleneck: 1x1 reduce, 3x3, 1x1 expand, a squeeze-and-
                   excitation gate, added to its input (:class:`BottleneckSE`)
``dilated``        3x3 convolutions whose dilation grows instead of pooling (Yu & Koltun)
``deformable``     the last blocks' 3x3 convolutions are deformable (Dai et al.)
=================  =================================================================

Two macro-architectures (:func:`build_model`): one label per image (a 3x3 stem, pooling,
two blocks, global average pooling and a linear classifier) and one label per pixel (a stem,
four blocks at full resolution and a 1x1 classifier). Three tasks made by code, nothing
downloaded: the 8x8 digits (:func:`convnotes.data.load_digits`), the same digits under random
rotation, scaling and elastic deformation (:func:`geometric_digits`), and a per-pixel task
whose label depends on context up to :data:`CONTEXT_RADIUS` pixels away
(:func:`context_task`).

:func:`train` trains any model reproducibly (one CPU thread, the model's dtype, a seeded
batch order), :func:`train_and_evaluate_seeds` trains one variant per seed in parallel
threads with the same results, :func:`paired_difference` gives the t-interval of paired per-seed
differences, :func:`multiplications_by_layer` counts a model's work with
:mod:`convnotes.costs`, :func:`profile_forward` measures one forward pass (peak activation
memory, operators launched) and :func:`forward_from_scratch` reruns a model with the book's
from-scratch operators.

Examples
--------
>>> model = build_model("standard")
>>> count_parameters(model), count_multiplications(model)
(5018, 55456)
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from . import costs
from ._checks import (
    Padding2,
    check_bool,
    check_divisible,
    check_float_tensor,
    check_int,
    check_int_sequence,
    check_module,
    check_number,
    check_one_of,
    check_split,
    check_tensor,
    pair,
)
from .arithmetic import receptive_field
from .correlation import conv2d
from .data import DigitsData
from .deformable import DeformConv2d
from .grouped import ShuffleUnit
from .pointwise import SqueezeExcitation
from .pooling import (
    AdaptiveSize,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    max_pool2d,
)
from .runtime import cpu_cores, seed_everything
from .separable import DepthwiseSeparableConv2d

__all__ = [
    "CONTEXT_RADIUS",
    "GROUPS",
    "REDUCTION",
    "VARIANTS",
    "WIDTH",
    "BottleneckSE",
    "ContextData",
    "ForwardProfile",
    "LayerCost",
    "PairedDifference",
    "TrainResult",
    "accuracy",
    "build_model",
    "context_task",
    "count_multiplications",
    "count_parameters",
    "forward_from_scratch",
    "geometric_digits",
    "multiplications_by_layer",
    "nominal_receptive_field",
    "paired_difference",
    "profile_forward",
    "train",
    "train_and_evaluate",
    "train_and_evaluate_seeds",
]

#: The variants :func:`build_model` knows, in the order the book shows them.
VARIANTS = ("standard", "separable", "shufflenet", "bottleneck_se", "dilated", "deformable")
#: Channels of the feature blocks.
WIDTH = 16
#: Groups of the ShuffleNet unit's 1x1 convolutions and of its shuffle.
GROUPS = 2
#: Bottleneck reduction (``WIDTH // 4`` channels inside) and squeeze-and-excitation reduction.
REDUCTION = 4
#: The context task labels a pixel 1 when a marker lies within this many pixels.
CONTEXT_RADIUS = 8
#: Dilations of the blocks of the dilated variant: one label per image / per pixel.
_DILATIONS = {False: (2, 4), True: (1, 2, 4, 8)}
#: Blocks of the per-pixel model (the last half are deformable in that variant).
_DENSE_BLOCKS = 4


# --------------------------------------------------------------------------------------------
# The blocks
# --------------------------------------------------------------------------------------------


class BottleneckSE(nn.Module):
    """The SE-ResNet bottleneck block: ``relu(x + se(branch(x)))``, shape-preserving.

    Branch: 1x1 convolution ``C -> C / r`` → BN → ReLU → 3x3 convolution (``dilation``) →
    BN → ReLU → 1x1 convolution ``C / r -> C`` → BN; the squeeze-and-excitation gate
    (:class:`convnotes.pointwise.SqueezeExcitation`, reduction ``r_se``) rescales the
    branch's channels before the identity shortcut is added (He et al. 2016, Fig. 5 right;
    Hu et al. 2018, Fig. 3). Convolutions have no bias (batch norm follows them).

    Parameters
    ----------
    channels : int
        ``C``, input and output channels.
    reduction : int
        ``r``: the bottleneck has ``C // r`` channels (4 in ResNet).
    se_reduction : int
        ``r_se`` of the gate (16 in SENet).
    dilation : int
        Of the 3x3 convolution (padding follows, so the size is kept).

    Examples
    --------
    >>> block = BottleneckSE(16, reduction=4, se_reduction=4)
    >>> tuple(block(torch.randn(2, 16, 5, 5)).shape)
    (2, 16, 5, 5)
    """

    def __init__(self, channels: int, reduction: int = 4, se_reduction: int = 16,
                 dilation: int = 1) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        reduction = check_int("reduction", reduction, minimum=1)
        dilation = check_int("dilation", dilation, minimum=1)
        narrow = channels // reduction
        if narrow < 1:
            raise ValueError(f"reduction must be at most channels={channels}, got {reduction}")
        self.branch = nn.Sequential(
            nn.Conv2d(channels, narrow, 1, bias=False), nn.BatchNorm2d(narrow), nn.ReLU(),
            nn.Conv2d(narrow, narrow, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(narrow), nn.ReLU(),
            nn.Conv2d(narrow, channels, 1, bias=False), nn.BatchNorm2d(channels),
        )
        self.gate = SqueezeExcitation(channels, reduction=se_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        return torch.relu(x + self.gate(self.branch(x)))


def _conv_bn_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU())


def _block(kind: str, channels: int, dilation: int = 1) -> nn.Module:
    """One feature block of the given kind, (N, C, H, W) → (N, C, H, W)."""
    if kind == "shufflenet":
        return ShuffleUnit(channels, channels, groups=GROUPS)
    if kind == "bottleneck_se":
        return BottleneckSE(channels, reduction=REDUCTION, se_reduction=REDUCTION)
    if kind == "separable":
        conv: nn.Module = DepthwiseSeparableConv2d(channels, channels, 3, padding=1, bias=False)
    elif kind == "deformable":
        conv = DeformConv2d(channels, channels, 3, padding=1, bias=False)
    else:  # "standard", also with a dilation
        conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
    return _conv_bn_relu(conv, channels)


def _blocks(variant: str, width: int, per_pixel: bool) -> list[nn.Module]:
    """The feature blocks in order (with the pooling between them for one label per image)."""
    count = _DENSE_BLOCKS if per_pixel else 2
    if variant == "dilated":
        blocks = [_block("standard", width, d) for d in _DILATIONS[per_pixel]]
    elif variant == "deformable":  # DCN: only the last blocks
        kinds = ["standard"] * (count - count // 2) + ["deformable"] * (count // 2)
        blocks = [_block(kind, width) for kind in kinds]
    else:
        blocks = [_block(variant, width) for _ in range(count)]
    if per_pixel or variant == "dilated":
        return blocks
    return [nn.MaxPool2d(2), blocks[0], nn.MaxPool2d(2), blocks[1]]


def build_model(variant: str, width: int = WIDTH, *, per_pixel: bool = False) -> nn.Sequential:
    """The capstone CNN for one variant.

    One label per image (``per_pixel=False``; digits (N, 1, 8, 8) or any size → logits
    (N, 10)): a stem (3x3 convolution 1 → ``width``, batch norm, ReLU), 2x2 max pooling,
    a block, 2x2 max pooling, a block, global average pooling and a linear layer. The dilated
    variant never pools: its blocks are 3x3 convolutions with dilations 2 and 4 at full
    resolution. The deformable variant's last block is deformable.

    One label per pixel (``per_pixel=True``; (N, 1, H, W) → logits (N, 2, H, W)): the stem,
    four blocks at full resolution and a 1x1 convolution to two classes; the dilated
    variant's blocks have dilations 1, 2, 4, 8 (the context module of Yu & Koltun), the
    deformable variant's last two blocks are deformable.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    width : int
        Channels of the blocks, a multiple of ``4 * GROUPS`` (the ShuffleNet unit's
        bottleneck has ``width // 4`` channels in ``GROUPS`` groups).
    per_pixel : bool
        Which macro-architecture.
    """
    check_one_of("variant", variant, VARIANTS)
    width = check_int("width", width, minimum=4 * GROUPS)
    check_divisible("width", width, 4 * GROUPS, f"4 x GROUPS = {4 * GROUPS}")
    per_pixel = check_bool("per_pixel", per_pixel)
    stem = _conv_bn_relu(nn.Conv2d(1, width, 3, padding=1, bias=False), width)
    body = _blocks(variant, width, per_pixel)
    if per_pixel:
        head: list[nn.Module] = [nn.Conv2d(width, 2, 1)]
    else:
        head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)]
    return nn.Sequential(*stem, *body, *head)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    check_module("model", model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------


class LayerCost(NamedTuple):
    """One layer's multiplications for one image (see :func:`multiplications_by_layer`)."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    multiplications: int


def _layer_cost(module: nn.Module, shape: torch.Size, output: torch.Tensor) -> tuple[str, int]:
    """(kind, multiplications) of one leaf layer from the shape it received, else ("", 0)."""
    if isinstance(module, nn.Conv2d):
        if isinstance(module.padding, str):  # costs count explicit zeros per side only
            raise ValueError(f"model has a Conv2d with padding={module.padding!r}; give its "
                             f"padding as numbers to count its multiplications")
        mults = costs.conv2d_mults(shape[2], shape[3], module.in_channels, module.out_channels,
                                   pair("kernel_size", module.kernel_size),
                                   pair("stride", module.stride),
                                   pair("padding", module.padding, minimum=0),
                                   pair("dilation", module.dilation), module.groups)
        kh, kw = module.kernel_size
        groups = f", groups={module.groups}" if module.groups > 1 else ""
        dilation = f", dilation={module.dilation[0]}" if module.dilation[0] > 1 else ""
        return f"{kh}x{kw} conv{groups}{dilation}", mults
    if isinstance(module, nn.Linear):
        return "linear", module.in_features * module.out_features
    if isinstance(module, SqueezeExcitation):  # its two linear layers are counted as such
        return "SE channel scaling", shape[1] * shape[2] * shape[3]
    if isinstance(module, DeformConv2d):
        return "bilinear sampling", costs.deform_conv2d_sampling_mults(
            output.shape[2], output.shape[3], module.in_channels, module.kernel_size,
            module.offset_groups, module.modulated)
    return "", 0


def _example_input(model: nn.Module, input_shape: tuple[int, int, int],
                   batch: int = 1) -> torch.Tensor:
    shape = tuple(check_int("input_shape", side, minimum=1) for side in input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    check_module("model", model)
    parameter = next(model.parameters(), None)  # a model without parameters counts 0
    if parameter is None:
        return torch.zeros(batch, *shape)
    return torch.zeros(batch, *shape, dtype=parameter.dtype, device=parameter.device)


def multiplications_by_layer(model: nn.Module,
                             input_shape: tuple[int, int, int] = (1, 8, 8)) -> list[LayerCost]:
    """Every layer's multiplications for one image of shape ``input_shape``, in call order.

    Each ``nn.Conv2d`` (also those inside the separable, ShuffleNet, deformable and bottleneck
    blocks: a deformable convolution runs its offset predictor and its weights as
    ``nn.Conv2d`` layers) is counted with :func:`convnotes.costs.conv2d_mults` from the shape
    it actually receives; each ``nn.Linear`` (the classifier and the SE gate) as
    ``in * out``; a squeeze-and-excitation block adds its channel scaling (``C H W``) and a
    deformable convolution its bilinear sampling
    (:func:`convnotes.costs.deform_conv2d_sampling_mults`), as the closed forms of
    :mod:`convnotes.costs` count them. Batch norm, pooling, the channel shuffle, residual
    additions and activations are not counted.
    """
    check_module("model", model)
    found: list[LayerCost] = []
    names = {module: name for name, module in model.named_modules()}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        kind, mults = _layer_cost(module, inputs[0].shape, output)
        if kind:
            found.append(LayerCost(names[module], kind, tuple(inputs[0].shape[1:]), mults))

    handles = [m.register_forward_hook(record) for m in model.modules()]
    x = _example_input(model, input_shape)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
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
    max and average pooling, with their strides and dilations) and applies
    :func:`convnotes.arithmetic.receptive_field`. For a deformable convolution this is the
    field of its zero-offset grid: learned offsets can reach further. An adaptive (global)
    pooling ends the walk: it starts the classifier head, after the last block. A spatial
    layer it does not model (Lp pooling, a transposed convolution, an upsampling) or a window
    that is not square raises ``ValueError`` naming the layer, instead of returning a field
    that leaves it out.
    """
    check_module("model", model)
    layers = []
    skip: set[nn.Module] = set()
    for name, module in model.named_modules():
        if module in skip:
            continue
        if isinstance(module, DeformConv2d | SqueezeExcitation):
            skip.update(module.modules())  # offset predictor and gate run beside the path
        if isinstance(module, nn.Conv2d | DeformConv2d | nn.MaxPool2d | nn.AvgPool2d):
            dilation = 1 if isinstance(module, nn.AvgPool2d) else module.dilation
            stride = module.stride or module.kernel_size  # pooling: None means the kernel
            geometry = [pair(what, value) for what, value in
                        (("kernel_size", module.kernel_size), ("stride", stride),
                         ("dilation", dilation))]
            if any(first != second for first, second in geometry):
                raise ValueError(f"model layer {name!r} ({type(module).__name__}) has a "
                                 f"non-square geometry {geometry}: the field would differ "
                                 f"per axis, and this function returns one number")
            kernel, step, spacing = (first for first, _ in geometry)
            layers.append((kernel, step, spacing))
        elif isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
            break  # global pooling starts the head: the field is that of the units before it
        elif isinstance(module, _UNMODELLED_SPATIAL_LAYERS):
            raise ValueError(f"model layer {name!r} ({type(module).__name__}) is not modelled "
                             f"by nominal_receptive_field (only convolutions and max / average "
                             f"pooling are)")
    return receptive_field(layers)


#: Spatial layers :func:`nominal_receptive_field` refuses rather than silently leaving out.
_UNMODELLED_SPATIAL_LAYERS = (
    nn.LPPool2d, nn.ConvTranspose2d, nn.Upsample, nn.FractionalMaxPool2d, nn.MaxUnpool2d,
    nn.Fold, nn.Unfold, nn.PixelShuffle, nn.PixelUnshuffle,
)


# --------------------------------------------------------------------------------------------
# Measuring one forward pass
# --------------------------------------------------------------------------------------------


class ForwardProfile(NamedTuple):
    """What :func:`profile_forward` measured for one forward pass."""

    peak_activation_bytes: int
    operators: int
    elementwise_operators: int


#: Operators that are element-wise in ShuffleNet V2's sense besides those torch tags
#: ``pointwise``: batch norm in eval mode is a per-channel affine map.
_ELEMENTWISE_EXTRA = frozenset({
    "aten._native_batch_norm_legit_no_training.default",
    "aten.native_batch_norm.default",
    "aten._native_batch_norm_legit.default",
})

#: Operators that compute nothing although torch does not tag them as views: bare
#: allocations, and ``_unsafe_view`` (a reshape of a fresh tensor, e.g. after the channel
#: shuffle's copy). Like views, they launch no kernel, and torch versions differ in how many
#: of them one layer dispatches.
_COMPUTE_NOTHING = frozenset({torch.ops.aten.empty, torch.ops.aten.empty_strided,
                              torch.ops.aten._unsafe_view})


def _computes_something(func: torch._ops.OpOverload) -> bool:
    """Whether an aten operator computes anything (not a view, not a bare allocation)."""
    return not func.is_view and func.overloadpacket not in _COMPUTE_NOTHING


class _ForwardRecorder(TorchDispatchMode):
    """Counts the aten operators it sees and the bytes of the storages they create."""

    def __init__(self, excluded: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.owned = {t.untyped_storage().data_ptr() for t in excluded}
        self.holders: dict[int, int] = {}  # storage address -> live tensors created here
        self.sizes: dict[int, int] = {}
        self.live = self.peak = self.operators = self.elementwise = 0

    def _release(self, address: int) -> None:
        self.holders[address] -= 1
        if self.holders[address] == 0:
            self.live -= self.sizes.pop(address)
            del self.holders[address]

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        address = storage.data_ptr()
        if address in self.owned or storage.nbytes() == 0:
            return
        if address not in self.holders:
            self.holders[address] = 0
            self.sizes[address] = storage.nbytes()
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
        self.holders[address] += 1
        weakref.finalize(tensor, self._release, address)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        out = func(*args, **(kwargs or {}))
        if _computes_something(func):
            self.operators += 1
            if torch.Tag.pointwise in func.tags or str(func) in _ELEMENTWISE_EXTRA:
                self.elementwise += 1
        for tensor in out if isinstance(out, tuple | list) else (out,):
            if isinstance(tensor, torch.Tensor):
                self._track(tensor)
        return out


def profile_forward(model: nn.Module, x: torch.Tensor) -> ForwardProfile:
    """Peak activation memory and operator counts of one inference pass ``model(x)``.

    Runs ``model(x)`` in eval mode under ``torch.no_grad`` inside a ``TorchDispatchMode``
    that sees every aten operator the pass executes. Each tensor an operator returns is
    tracked by its storage (views share one) until Python frees it; the peak of the live
    bytes, read after every operator, is the activation memory the pass needed at once, on
    top of the input and the weights (which are not counted). Workspace that a kernel
    allocates and frees inside one operator is not seen. The operator counts are what
    ShuffleNet V2 calls fragmentation: every operator counted computes something (on a GPU,
    nearly all of them are one kernel launch each; reading a scalar back, as a validity check
    does, is a synchronisation instead). Views (``view``, ``t``, ``slice``, ...), bare
    allocations (``empty``) and ``_unsafe_view`` are not counted: they compute nothing, and
    torch versions differ in how many of them one layer dispatches (torch 2.2 slices where
    2.13 does not). Element-wise operators (torch's
    ``pointwise`` tag: ReLU, additions, sigmoid, multiplications; and batch norm) do little
    arithmetic per byte they move.

    Parameters
    ----------
    model : nn.Module
    x : Tensor
        The input batch, on the model's device.

    Returns
    -------
    ForwardProfile
        ``peak_activation_bytes``, ``operators`` and ``elementwise_operators``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
    >>> profile_forward(net, torch.zeros(1, 1, 8, 8))  # two float32 maps of 4 x 8 x 8
    ForwardProfile(peak_activation_bytes=2048, operators=2, elementwise_operators=1)
    """
    check_module("model", model)
    check_float_tensor("x", x)
    excluded = [x, *model.parameters(), *model.buffers()]
    was_training = model.training
    model.eval()
    recorder = _ForwardRecorder(excluded)
    try:
        with torch.no_grad(), recorder:
            output = model(x)
        del output
    finally:
        model.train(was_training)
    return ForwardProfile(recorder.peak, recorder.operators, recorder.elementwise)


# --------------------------------------------------------------------------------------------
# The tasks
# --------------------------------------------------------------------------------------------


def _gaussian_blur(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), kernel radius ``3 sigma``, zero padding."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=field.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = field.shape[1]
    rows = kernel.reshape(1, 1, -1, 1).expand(channels, 1, -1, 1)
    field = F.conv2d(field, rows, padding=(radius, 0), groups=channels)
    return F.conv2d(field, rows.transpose(2, 3), padding=(0, radius), groups=channels)


def _deform_images(images: torch.Tensor, size: int, max_rotation: float,
                   scale_range: tuple[float, float], elastic_alpha: float,
                   elastic_sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate, scale and elastically deform (N, 1, h, w) images onto a size x size canvas."""
    n = len(images)
    dtype = torch.float64
    angle = (2 * torch.rand(n, generator=generator, dtype=dtype) - 1) * math.radians(max_rotation)
    low, high = scale_range
    scale = low + (high - low) * torch.rand(n, generator=generator, dtype=dtype)
    # output coordinates in [-1, 1] -> input coordinates: rotate, then divide by the scale;
    # at scale 1 the 8x8 digit spans 3/4 of the canvas (a margin to rotate into)
    fill = 0.75
    cos, sin = torch.cos(angle) / (scale * fill), torch.sin(angle) / (scale * fill)
    zeros = torch.zeros(n, dtype=dtype)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    noise = 2 * torch.rand(n, 2, size, size, generator=generator, dtype=dtype) - 1
    displacement = elastic_alpha * _gaussian_blur(noise, elastic_sigma)  # in canvas pixels
    grid = grid + displacement.permute(0, 2, 3, 1) * (2.0 / size)
    warped = F.grid_sample(images.to(dtype), grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    return warped.clamp(0.0, 1.0).to(torch.float32)


def geometric_digits(digits: DigitsData, *, size: int = 12, max_rotation: float = 45.0,
                     scale_range: tuple[float, float] = (0.75, 1.25),
                     elastic_alpha: float = 6.0, elastic_sigma: float = 2.0,
                     seed: int = 0) -> DigitsData:
    """The digits, each under its own random rotation, scaling and elastic deformation.

    Every image (training and test alike, each with its own draw) is mapped onto a
    ``size x size`` canvas by bilinear sampling (``F.grid_sample``, float64): rotated by an
    angle uniform in ``[-max_rotation, max_rotation]`` degrees, scaled by a factor uniform in
    ``scale_range`` (at 1 the digit spans three quarters of the canvas), and displaced by a
    smooth random field: uniform noise in [-1, 1] per pixel and axis, blurred with a
    Gaussian of ``elastic_sigma`` pixels and multiplied by ``elastic_alpha`` pixels (the
    elastic distortion of Simard et al. 2003). Labels are kept.

    Parameters
    ----------
    digits : DigitsData
        From :func:`convnotes.data.load_digits`.
    size : int
        Side of the output canvas (>= 8).
    max_rotation : float
        Degrees, in [0, 180].
    scale_range : (float, float)
        ``0 < low <= high``.
    elastic_alpha, elastic_sigma : float
        Strength (pixels, >= 0) and smoothness (pixels, > 0) of the elastic field.
    seed : int
        Seeds ``torch.Generator`` for every draw.

    Returns
    -------
    DigitsData
        ``x_*`` float32 of shape (N, 1, size, size) in [0, 1], the labels of ``digits``.

    References
    ----------
    P. Y. Simard, D. Steinkraus and J. C. Platt, "Best practices for convolutional neural
    networks applied to visual document analysis", ICDAR 2003.

    Examples
    --------
    >>> from convnotes.data import load_digits
    >>> tuple(geometric_digits(load_digits()).x_test.shape)
    (359, 1, 12, 12)
    """
    size = check_int("size", size, minimum=8)
    max_rotation = check_number("max_rotation", max_rotation, minimum=0.0)
    if max_rotation > 180.0:
        raise ValueError(f"max_rotation must be in [0, 180] degrees, got {max_rotation}")
    low, high = (check_number("scale_range", v, minimum=0.0, strict=True) for v in scale_range)
    if low > high:
        raise ValueError(f"scale_range must be (low, high) with low <= high, got {scale_range}")
    elastic_alpha = check_number("elastic_alpha", elastic_alpha, minimum=0.0)
    elastic_sigma = check_number("elastic_sigma", elastic_sigma, minimum=0.0, strict=True)
    seed = check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    warp = partial(_deform_images, size=size, max_rotation=max_rotation,
                   scale_range=(low, high), elastic_alpha=elastic_alpha,
                   elastic_sigma=elastic_sigma, generator=generator)
    return DigitsData(warp(digits.x_train), digits.y_train, warp(digits.x_test), digits.y_test)


@dataclass(frozen=True)
class ContextData:
    """The context task (:func:`context_task`): marker images and per-pixel labels.

    ``x_*`` float32 (N, 1, H, W) with 1 at the markers and 0 elsewhere; ``y_*`` int64
    (N, H, W), 1 within ``radius`` pixels of a marker.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    radius: float


def _marker_images(n: int, size: int, radius: float, markers: tuple[int, int],
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    low, high = markers
    count = torch.randint(low, high + 1, (n,), generator=generator)
    rows = torch.randint(0, size, (n, high), generator=generator)
    cols = torch.randint(0, size, (n, high), generator=generator)
    present = torch.arange(high)[None, :] < count[:, None]  # (n, high)
    grid = torch.arange(size)
    dy = grid[None, None, :, None] - rows[:, :, None, None]
    dx = grid[None, None, None, :] - cols[:, :, None, None]
    near = (dy.square() + dx.square() <= radius**2) & present[:, :, None, None]
    images = torch.zeros(n, 1, size, size)
    index = present.nonzero()
    images[index[:, 0], 0, rows[present], cols[present]] = 1.0
    return images, near.any(dim=1).long()


def context_task(n_train: int = 128, n_test: int = 64, *, size: int = 24,
                 radius: float = CONTEXT_RADIUS, markers: tuple[int, int] = (1, 3),
                 seed: int = 0) -> ContextData:
    """A per-pixel task that needs context: is a marker within ``radius`` pixels?

    Each ``size x size`` image holds a number of single-pixel markers (value 1, uniform in
    ``markers``, at uniform random positions; two may coincide) on a zero background. A
    pixel's label is 1 when its Euclidean distance to the nearest marker is at most
    ``radius``, else 0. A model whose receptive field reaches less than ``radius`` pixels
    from the pixel cannot tell, for pixels between its reach and ``radius`` from a marker,
    whether a marker is there: it sees only zeros.

    Parameters
    ----------
    n_train, n_test : int
        Images in each split (>= 1).
    size : int
        Image side (>= 2).
    radius : float
        In pixels (> 0).
    markers : (int, int)
        Fewest and most markers per image, ``1 <= low <= high``.
    seed : int
        Seeds ``torch.Generator``.

    Returns
    -------
    ContextData

    Examples
    --------
    One marker at row 5, column 4 of a 9x9 image; the pixels within 2 of it form a disk of
    13 (a 3x3 square and the four pixels at distance 2 on its axes):

    >>> task = context_task(n_train=2, n_test=1, size=9, radius=2, markers=(1, 1), seed=7)
    >>> task.x_test[0, 0].nonzero().tolist(), int(task.y_test.sum())
    ([[5, 4]], 13)
    """
    n_train = check_int("n_train", n_train, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    size = check_int("size", size, minimum=2)
    radius = check_number("radius", radius, minimum=0.0, strict=True)
    low, high = (check_int("markers", m, minimum=1) for m in markers)
    if low > high:
        raise ValueError(f"markers must be (low, high) with low <= high, got {markers}")
    seed = check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    x_train, y_train = _marker_images(n_train, size, radius, (low, high), generator)
    x_test, y_test = _marker_images(n_test, size, radius, (low, high), generator)
    return ContextData(x_train, y_train, x_test, y_test, radius)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


class PairedDifference(NamedTuple):
    """Mean of paired differences and its two-sided t confidence interval."""

    mean: float
    low: float
    high: float
    n: int


def paired_difference(values: Sequence[float], baseline: Sequence[float],
                      confidence: float = 0.95) -> PairedDifference:
    """t-interval of the mean of ``values[i] - baseline[i]`` (paired by index, e.g. by seed).

    .. math:: \\bar d \\pm t_{(1 + c)/2,\\, n - 1}\\, s_d / \\sqrt{n}

    with :math:`\\bar d` and :math:`s_d` the mean and sample standard deviation of the ``n``
    differences. Pairing removes what two runs with the same seed share (the batch order);
    the interval assumes the differences are independent draws of a normal variable, which
    is approximately true of accuracy differences over seeds.

    Parameters
    ----------
    values, baseline : sequence of float
        The same number ``n >= 2`` of paired scores.
    confidence : float
        In (0, 1).

    Returns
    -------
    PairedDifference
        ``mean``, ``low``, ``high`` (equal to the mean when all differences are equal), ``n``.

    Examples
    --------
    >>> paired_difference([0.9, 0.8, 0.7], [0.8, 0.8, 0.6]).mean.__round__(4)
    0.0667
    """
    from scipy import stats

    a = np.asarray(values, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.ndim != 1 or b.shape != a.shape:
        raise ValueError(f"values and baseline must be 1-D of the same length, got shapes "
                         f"{a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"values must hold at least 2 paired scores, got {len(a)}")
    confidence = check_number("confidence", confidence, minimum=0.0, strict=True)
    if confidence >= 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    differences = a - b
    mean = float(differences.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, len(a) - 1)
                 * differences.std(ddof=1) / math.sqrt(len(a)))
    return PairedDifference(mean, mean - half, mean + half, len(a))


# --------------------------------------------------------------------------------------------
# From scratch
# --------------------------------------------------------------------------------------------


def _scratch_conv2d(layer: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    if layer.padding_mode != "zeros":  # reflect / replicate / circular: pad, then no padding
        x = F.pad(x, layer._reversed_padding_repeated_twice, mode=layer.padding_mode)
        return conv2d(x, layer.weight, layer.bias, pair("stride", layer.stride), 0,
                      pair("dilation", layer.dilation), layer.groups)
    padding: Padding2 = pair("padding", layer.padding, minimum=0) \
        if not isinstance(layer.padding, str) else "same" if layer.padding == "same" else "valid"
    return conv2d(x, layer.weight, layer.bias, pair("stride", layer.stride), padding,
                  pair("dilation", layer.dilation), layer.groups)


def _scratch_max_pool2d(layer: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor | tuple[
        torch.Tensor, torch.Tensor]:
    return max_pool2d(x, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                      layer.ceil_mode, layer.return_indices)


def _scratch_avg_pool2d(layer: nn.AvgPool2d, x: torch.Tensor) -> torch.Tensor:
    return avg_pool2d(x, layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode,
                      layer.count_include_pad, layer.divisor_override)


def _scratch_adaptive_avg_pool2d(layer: nn.AdaptiveAvgPool2d, x: torch.Tensor) -> torch.Tensor:
    return adaptive_avg_pool2d(x, _adaptive_size(layer.output_size))


def _adaptive_size(size: object) -> AdaptiveSize:
    """An ``nn.Adaptive*Pool2d``'s ``output_size`` (an int or a pair, ``None`` keeping a side)."""
    if isinstance(size, int):
        return size
    if isinstance(size, tuple | list) and len(size) == 2 and all(
            side is None or isinstance(side, int) for side in size):
        return (size[0], size[1])
    raise ValueError(f"output_size must be an int or a pair of ints or None, got {size!r}")


def _scratch_adaptive_max_pool2d(layer: nn.AdaptiveMaxPool2d, x: torch.Tensor
                                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    return adaptive_max_pool2d(x, _adaptive_size(layer.output_size), layer.return_indices)


#: The torch layers :func:`forward_from_scratch` replaces, and the from-scratch forward of each.
_FROM_SCRATCH: dict[type[nn.Module], Callable[..., torch.Tensor | tuple[torch.Tensor, ...]]] = {
    nn.Conv2d: _scratch_conv2d,
    nn.MaxPool2d: _scratch_max_pool2d,
    nn.AvgPool2d: _scratch_avg_pool2d,
    nn.AdaptiveAvgPool2d: _scratch_adaptive_avg_pool2d,
    nn.AdaptiveMaxPool2d: _scratch_adaptive_max_pool2d,
}


@contextmanager
def _from_scratch_layers(model: nn.Module) -> Iterator[None]:
    """Within the block, every layer of a type in ``_FROM_SCRATCH`` runs the book's operator.

    Each such module gets an instance attribute ``forward`` (which ``nn.Module.__call__``
    calls, hooks included); on exit the attribute is removed, or the one it had restored.
    """
    missing = object()
    saved: dict[nn.Module, object] = {}
    try:
        for module in model.modules():  # each module once, also when it is shared
            replacement = _FROM_SCRATCH.get(type(module))
            if replacement is not None:
                saved[module] = module.__dict__.get("forward", missing)
                module.forward = partial(replacement, module)  # type: ignore[method-assign]
        yield
    finally:
        for module, previous in saved.items():
            if previous is missing:
                del module.forward
            else:
                module.forward = previous  # type: ignore[method-assign,assignment]


def forward_from_scratch(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` recomputed with the book's from-scratch convolution and pooling operators.

    For the duration of the call, every layer of ``model`` (at any depth, inside any
    container or custom block) of one of these exact types runs the book's operator instead
    of torch's, with the layer's own weights and settings:

    ========================  ==========================================================
    ``nn.Conv2d``             :func:`convnotes.correlation.conv2d` (im2col + GEMM): every
                              ``stride``, ``padding`` (also ``"same"``/``"valid"``),
                              ``dilation`` and ``groups``; a non-zero ``padding_mode`` pads
                              with ``F.pad`` first
    ``nn.MaxPool2d``          :func:`convnotes.pooling.max_pool2d` (``kernel_size``,
                              ``stride``, ``padding``, ``dilation``, ``ceil_mode``,
                              ``return_indices``)
    ``nn.AvgPool2d``          :func:`convnotes.pooling.avg_pool2d` (also
                              ``count_include_pad`` and ``divisor_override``)
    ``nn.AdaptiveAvgPool2d``  :func:`convnotes.pooling.adaptive_avg_pool2d`
    ``nn.AdaptiveMaxPool2d``  :func:`convnotes.pooling.adaptive_max_pool2d`
    ========================  ==========================================================

    Every other layer runs as itself (activations, batch norm, ``nn.Linear``, ``nn.Flatten``,
    containers, residual blocks). The book's own layers are built from these: a
    :class:`~convnotes.separable.DepthwiseSeparableConv2d` is two ``nn.Conv2d``, a
    :class:`~convnotes.deformable.DeformConv2d` gathers its bilinear samples into a mosaic
    with one ``F.grid_sample`` (the rule of :func:`convnotes.deformable.bilinear_sample`) and
    then applies an ``nn.Conv2d``, a :class:`~convnotes.grouped.ShuffleUnit` shuffles with
    :func:`convnotes.grouped.channel_shuffle`, so they run from scratch too. Autograd
    flows through the from-scratch operators, so ``backward`` gives the gradients of
    ``model(x)``. The model is left exactly as it was (also if the call raises).

    Parameters
    ----------
    model : nn.Module
        Any module, e.g. ``nn.Sequential(nn.Conv2d(...), nn.ReLU(), nn.MaxPool2d(2), ...,
        nn.Flatten(), nn.Linear(...))`` or a model of :func:`build_model`.
    x : Tensor
        The model's input, usually (N, C, H, W), floating point.

    Returns
    -------
    Tensor
        Equal to ``model(x)`` up to floating-point rounding.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    >>> x = torch.randn(2, 1, 8, 8)
    >>> torch.allclose(forward_from_scratch(net, x), net(x), atol=1e-6)
    True
    """
    check_module("model", model)
    check_float_tensor("x", x)
    with _from_scratch_layers(model):
        return model(x)


class _Split(Protocol):
    """What :func:`train` reads: a :class:`convnotes.data.DigitsData` or any such split."""

    @property
    def x_train(self) -> torch.Tensor: ...
    @property
    def y_train(self) -> torch.Tensor: ...
    @property
    def x_test(self) -> torch.Tensor: ...
    @property
    def y_test(self) -> torch.Tensor: ...


class _OneCpuThread:
    """``with _one_cpu_thread():`` torch computes on one CPU thread while any caller is inside.

    Safe for callers in several threads at once (:func:`train_and_evaluate_seeds`): each one
    asks for one thread for itself (torch keeps the count per thread as well as globally),
    and when the last one leaves, the count from before the first one entered is set again,
    in the thread that leaves last and globally. A thread that left earlier keeps its count
    of one, so :func:`train_and_evaluate_seeds` enters in the caller's thread around all of
    its workers: the caller leaves last and gets its count back.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._before = 1

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._inside == 0:
                self._before = torch.get_num_threads()
            self._inside += 1
            torch.set_num_threads(1)
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    torch.set_num_threads(self._before)


_one_cpu_thread = _OneCpuThread()
#: Held while a seeded model is built: the global generators are seeded, then drawn from.
_SEEDED_BUILD = threading.Lock()


def _check_model(model: object) -> nn.Module:
    module = check_module("model", model)
    if next(module.parameters(), None) is None:
        raise ValueError("model must have parameters to train, got a module without any")
    return module


def _recompute_batch_norm(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace every batch norm's running statistics by their average over ``x``."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    model.train()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(x[start : start + batch_size])
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum


def train(
    model: nn.Module,
    data: _Split,
    *,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 0.01,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
    recompute_batch_norm: bool = True,
) -> tuple[float, ...]:
    """Train ``model`` in place with Adam and cross-entropy; return each epoch's mean loss.

    One epoch visits ``data.x_train`` once in the order of
    ``torch.randperm(N, generator=torch.Generator().manual_seed(seed))`` (a fresh order per
    epoch from that one generator), in mini-batches of ``batch_size`` (the last one smaller).
    Training runs with one CPU thread (restored afterwards), in the dtype and on the device of
    the model's parameters (the images are converted to it), so that a seeded run repeats
    bit for bit on one machine. The model's initial weights are the caller's: seed before
    building it. The model is left in eval mode.

    Batch norm layers normalise with the statistics of each mini-batch while training and
    with their running averages in eval mode. Those averages (momentum 0.1) trail the
    weights, which change fast in a short training run, and can then be far from what the
    trained network produces; so, by default, after the last epoch they are recomputed:
    reset, then averaged over one pass through the training images in training mode without
    gradients ("precise BN", Wu & Johnson 2021). A model without batch norm is not affected.

    Parameters
    ----------
    model : nn.Module
        Maps (B, C, H, W) images to logits (B, K) (one label per image) or (B, K, H, W) (one
        label per pixel, as ``F.cross_entropy`` takes them).
    data : DigitsData
        From :func:`convnotes.data.load_digits` or a task of this module; ``y_train`` of
        shape (N,) or (N, H, W), int64.
    epochs, batch_size : int
        Passes over the training set, images per step (both >= 1).
    lr : float
        Adam's learning rate (> 0).
    seed : int
        Seeds the mini-batch order.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, mean_training_loss)`` after every epoch.
    recompute_batch_norm : bool
        Recompute the running statistics of batch norm layers after training (see above).

    Returns
    -------
    tuple of float
        The mean training loss of every epoch (weighted by batch size).

    Examples
    --------
    >>> from convnotes.data import load_digits
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    >>> losses = train(net, load_digits(), epochs=2)
    >>> len(losses), losses[1] < losses[0]
    (2, True)
    """
    model = _check_model(model)
    check_split("data", data)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_number("lr", lr, minimum=0.0, strict=True)
    seed = check_int("seed", seed, minimum=0)
    recompute_batch_norm = check_bool("recompute_batch_norm", recompute_batch_norm)
    parameter = next(model.parameters())
    x_train = data.x_train.to(device=parameter.device, dtype=parameter.dtype)
    y_train = data.y_train.to(parameter.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with _one_cpu_thread():
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            total = 0.0
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                loss = F.cross_entropy(model(x_train[index]), y_train[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
            losses.append(total / len(order))
            if on_epoch is not None:
                on_epoch(epoch, losses[-1])
        if recompute_batch_norm:
            _recompute_batch_norm(model, x_train, batch_size)
    model.eval()
    return tuple(losses)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of labels ``y`` that ``model(x).argmax(dim=1)`` gets right (eval mode, no grad).

    Parameters
    ----------
    model : nn.Module
        Logits (N, K) or (N, K, H, W).
    x : Tensor, shape (N, C, H, W)
        Converted to the dtype and device of the model's parameters.
    y : Tensor of int64, shape (N,) or (N, H, W)
        One label per image, or per pixel (then the share of pixels).

    Returns
    -------
    float
        In [0, 1].
    """
    model = _check_model(model)
    check_float_tensor("x", x, ndim=4)
    check_tensor("y", y)
    parameter = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _one_cpu_thread():
            logits = model(x.to(device=parameter.device, dtype=parameter.dtype))
    finally:
        model.train(was_training)
    predictions = logits.argmax(dim=1)
    if predictions.shape != y.shape:
        raise ValueError(f"y must have shape {tuple(predictions.shape)} (one label per "
                         f"prediction), got {tuple(y.shape)}")
    return float((predictions == y.to(predictions.device)).double().mean())


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
    data: _Split,
    *,
    seed: int = 0,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 0.01,
    width: int = WIDTH,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Build one variant in float64 on the CPU (seeded), :func:`train` it, test its accuracy.

    The model is ``build_model(variant, width, per_pixel=...)``, per pixel when the labels
    are (N, H, W). Training runs on the CPU, with one thread, in float64, so that the
    accuracy is a reproducible number (nbval compares it): float32 results differ in their
    last bits between processors and thread counts, and over hundreds of steps such
    differences can move a test prediction; in float64 they stay far below anything a
    prediction depends on. The book times the variants (in float32) separately.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    data : DigitsData or ContextData
        From :func:`convnotes.data.load_digits`, :func:`geometric_digits` or
        :func:`context_task`.
    seed : int
        Seeds the initial weights (``runtime.seed_everything``) and the mini-batch order.
    epochs, batch_size, lr, on_epoch
        As in :func:`train`.
    width : int
        As in :func:`build_model`.

    Returns
    -------
    TrainResult
        Test accuracy (per image or per pixel), the mean training loss of every epoch and the
        trained model (float64, on the CPU, in eval mode).
    """
    seed = check_int("seed", seed, minimum=0)
    check_one_of("variant", variant, VARIANTS)
    check_split("data", data)
    check_tensor("data.y_train", data.y_train, ndim=(1, 3))
    with _SEEDED_BUILD:  # another thread must not draw from the generators in between
        seed_everything(seed)
        model = build_model(variant, width, per_pixel=data.y_train.ndim == 3).double()
    losses = train(model, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                   on_epoch=on_epoch)
    score = accuracy(model, data.x_test, data.y_test)
    return TrainResult(variant, seed, score, losses, model)


def train_and_evaluate_seeds(
    variant: str,
    data: _Split,
    seeds: Sequence[int],
    *,
    workers: int | None = None,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 0.01,
    width: int = WIDTH,
) -> tuple[TrainResult, ...]:
    """:func:`train_and_evaluate` once per seed, the seeds shared out among threads.

    The results equal those of ``[train_and_evaluate(variant, data, seed=s, ...) for s in
    seeds]`` bit for bit, in the order of ``seeds``: every training runs on one CPU thread
    whichever thread of this process runs it, builds its model while no other thread can draw
    from the seeded generators, and draws its batch order from a generator of its own. Torch
    releases Python's lock while it computes, so ``workers`` threads train nearly ``workers``
    models at a time when that many cores are free (about half the time with two threads on
    two idle cores, for the book's trainings). The global generators are left as the last
    model build to run left them, which depends on the threads' timing; seed again before
    drawing from them.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    data : DigitsData or ContextData
        As in :func:`train_and_evaluate`.
    seeds : sequence of int
        One training per seed (each >= 0, at least one).
    workers : int, optional
        Threads (>= 1); by default one per CPU core this process may use, at most one per
        seed.
    epochs, batch_size, lr, width
        As in :func:`train_and_evaluate`.

    Returns
    -------
    tuple of TrainResult
        One per seed, in the order of ``seeds``.

    Examples
    --------
    >>> from convnotes.data import load_digits
    >>> digits = load_digits()
    >>> results = train_and_evaluate_seeds("standard", digits, [0, 1], epochs=1)
    >>> results == tuple(train_and_evaluate("standard", digits, seed=s, epochs=1)
    ...                  for s in (0, 1))
    True
    """
    # the other arguments are train_and_evaluate's, which checks them (its first call raises)
    seeds = check_int_sequence("seeds", seeds, minimum=0)
    if workers is None:
        workers = cpu_cores()
    workers = min(check_int("workers", workers, minimum=1), len(seeds))

    def run(seed: int) -> TrainResult:
        return train_and_evaluate(variant, data, seed=seed, epochs=epochs,
                                  batch_size=batch_size, lr=lr, width=width)

    pool = ThreadPoolExecutor(workers)
    try:
        with _one_cpu_thread():
            return tuple(pool.map(run, seeds))
    finally:
        # on an error or an interrupt, the seeds not yet started are dropped, not waited for
        pool.shutdown(wait=True, cancel_futures=True)

