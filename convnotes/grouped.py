"""Grouped convolution and channel shuffle (chapter 5).

A grouped convolution splits the ``C_in`` input channels and the ``C_out`` filters into ``g``
groups and convolves each group of channels with its own group of filters, independently:

* :func:`grouped_conv2d` does exactly that, explicitly: split, ``g`` ordinary convolutions
  (:func:`convnotes.correlation.conv2d`, the book's own im2col operator), concatenate. Twin:
  ``F.conv2d(..., groups=g)``. Parameters and multiplications fall to ``1/g``.
* :func:`group_connectivity` is the layer's input-output channel matrix (block diagonal), and
  :func:`channel_dependence` measures the same matrix for any layer or stack with autograd.
* :func:`channel_shuffle` (twin: ``nn.ChannelShuffle``) interleaves the groups so that the
  next grouped layer sees channels from every group (ShuffleNet).
* :class:`ShuffleUnit` is the ShuffleNet v1 unit built from these pieces.

References
----------
- A. Krizhevsky, I. Sutskever and G. E. Hinton, "ImageNet classification with deep
  convolutional neural networks", NeurIPS 2012 (two groups, one per GPU).
- S. Xie, R. Girshick, P. Dollár, Z. Tu and K. He, "Aggregated residual transformations for
  deep neural networks", CVPR 2017 (ResNeXt: grouped 3x3 convolutions).
- X. Zhang, X. Zhou, M. Lin and J. Sun, "ShuffleNet: an extremely efficient convolutional
  neural network for mobile devices", CVPR 2018.
- N. Ma, X. Zhang, H.-T. Zheng and J. Sun, "ShuffleNet V2: practical guidelines for
  efficient CNN architecture design", ECCV 2018 (why fewer FLOPs need not mean less time).

Examples
--------
>>> channel_shuffle(torch.arange(6.0).reshape(1, 6, 1, 1), 2).flatten().tolist()
[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
>>> group_connectivity(4, 4, 2).int()
tensor([[1, 1, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 1, 1],
        [0, 0, 1, 1]], dtype=torch.int32)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    Padding2,
    Size2,
    as_batch,
    check_channels_divisible,
    check_conv_operands,
    check_conv_weight,
    check_int,
    check_layer_input,
    check_tensor,
)
from .correlation import conv2d
from .costs import shuffle_unit_widths

__all__ = [
    "ShuffleUnit",
    "channel_dependence",
    "channel_shuffle",
    "group_connectivity",
    "grouped_conv2d",
]


def _check_grouped_operands(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                            groups: int) -> int:
    """Validate the tensors of :func:`grouped_conv2d`; return the checked ``groups``."""
    check_conv_operands(x, weight, bias)
    as_batch("x", x)  # the rank and the zero-size policy
    groups = check_int("groups", groups, minimum=1)
    check_conv_weight(weight, bias, x.shape[-3], groups)
    return groups


def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                   groups: int = 1, stride: Size2 = 1, padding: Padding2 = 0,
                   dilation: Size2 = 1) -> torch.Tensor:
    """Grouped 2-D convolution by explicit split, ``g`` convolutions and concatenation.

    Twin: ``F.conv2d(x, weight, bias, stride, padding, dilation, groups)``. ``groups`` comes
    first here, so everything after ``bias`` is keyword-only: a positional call in the twin's
    order is a ``TypeError``, never another geometry.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (C_out, C_in / groups, kh, kw)
        Filters ``[o * C_out/g, (o + 1) * C_out/g)`` form group ``o``.
    bias : Tensor, shape (C_out,), optional
    groups : int, keyword-only
        ``g``; must divide both ``C_in`` and ``C_out``.
    stride, padding, dilation : int or (int, int), keyword-only
        As in ``F.conv2d`` (``padding`` may also be ``"valid"`` or ``"same"``).

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)

    Raises
    ------
    ValueError
        ``C_in`` or ``C_out`` not divisible by ``groups``, a weight whose second dimension is
        not ``C_in / groups``, or a bias of the wrong length.

    Notes
    -----
    With :math:`x^{(j)}` the ``j``-th slice of ``C_in/g`` input channels and :math:`w^{(j)}` the
    ``j``-th slice of ``C_out/g`` filters,

    .. math::

        y = \\operatorname{concat}_{j=0}^{g-1}\\; w^{(j)} \\star x^{(j)},

    so output channel ``o`` depends only on the input channels of its own group. Each group
    is a full convolution with ``C_in/g`` inputs and ``C_out/g`` outputs, so parameters and
    multiplications are ``1/g`` of the ungrouped layer's
    (:func:`convnotes.costs.conv2d_params`, :func:`convnotes.costs.conv2d_mults`).
    ``groups = C_in`` is the depthwise convolution; ``C_out = m C_in`` with ``groups = C_in``
    gives depth multiplier ``m``.

    References
    ----------
    A. Krizhevsky, I. Sutskever and G. E. Hinton, "ImageNet classification with deep
    convolutional neural networks", NeurIPS 2012.

    Examples
    --------
    >>> x = torch.arange(4.0).reshape(1, 4, 1, 1)
    >>> w = torch.ones(2, 2, 1, 1)             # 2 groups: each filter sums its own 2 channels
    >>> grouped_conv2d(x, w, groups=2).flatten().tolist()
    [1.0, 5.0]
    """
    groups = _check_grouped_operands(x, weight, bias, groups)
    channel_dim = x.ndim - 3
    inputs = x.chunk(groups, dim=channel_dim)
    filters = weight.chunk(groups, dim=0)
    biases = bias.chunk(groups) if bias is not None else (None,) * groups
    outputs = [
        conv2d(part, kernel, part_bias, stride=stride, padding=padding, dilation=dilation)
        for part, kernel, part_bias in zip(inputs, filters, biases, strict=True)
    ]
    return torch.cat(outputs, dim=channel_dim)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (twin: ``nn.ChannelShuffle(groups)``).

    Parameters
    ----------
    x : Tensor, shape (N, C, ...)
        At least 3-D (a batch dimension first, as the twin requires); any dtype.
    groups : int
        ``g``; must divide ``C``.

    Returns
    -------
    Tensor, shape (N, C, *)
        Channel ``i * g + j`` of the output is channel ``j * C/g + i`` of the input.

    Notes
    -----
    Reshape the channels to a ``(g, C/g)`` matrix, transpose it, flatten it again:

    .. math:: y[:, i g + j] = x[:, j C/g + i], \\qquad 0 \\le j < g,\\ 0 \\le i < C/g.

    After the shuffle, each consecutive block of ``C/g`` channels holds ``C/g^2`` channels of
    every former group (when ``g^2`` divides ``C``), so a following grouped convolution mixes
    all groups (Zhang et al., 2018). The inverse permutation is ``channel_shuffle(y, C // g)``.

    References
    ----------
    X. Zhang, X. Zhou, M. Lin and J. Sun, "ShuffleNet: an extremely efficient convolutional
    neural network for mobile devices", CVPR 2018.

    Examples
    --------
    >>> channel_shuffle(torch.arange(6).reshape(1, 6, 1), 3).flatten().tolist()
    [0, 2, 4, 1, 3, 5]
    """
    check_tensor("x", x, ndim=(3, 4, 5))
    groups = check_int("groups", groups, minimum=1)
    batch, channels = x.shape[:2]
    check_channels_divisible("channels (x.shape[1])", channels, groups)
    spatial = x.shape[2:]
    grid = x.reshape(batch, groups, channels // groups, *spatial)
    return grid.transpose(1, 2).reshape(batch, channels, *spatial)


def group_connectivity(in_channels: int, out_channels: int, groups: int = 1) -> torch.Tensor:
    """Which input channels each output channel of a grouped layer reads.

    Parameters
    ----------
    in_channels, out_channels : int
        Both divisible by ``groups``.
    groups : int

    Returns
    -------
    Tensor of bool, shape (out_channels, in_channels)
        Block diagonal: ``g`` blocks of ``C_out/g x C_in/g`` ones.

    Notes
    -----
    .. math::

        M[o, c] = \\big[\\, \\lfloor o g / C_{out} \\rfloor
        = \\lfloor c g / C_{in} \\rfloor \\,\\big]

    The fraction of ones is ``1/g``: the same fraction as the parameters that remain.

    Examples
    --------
    >>> group_connectivity(6, 3, 3).int()
    tensor([[1, 1, 0, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 0, 0, 1, 1]], dtype=torch.int32)
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels", out_channels, groups)
    out_group = torch.arange(out_channels) // (out_channels // groups)
    in_group = torch.arange(in_channels) // (in_channels // groups)
    return out_group[:, None] == in_group[None, :]


def channel_dependence(fn: Callable[[torch.Tensor], torch.Tensor], in_channels: int, *,
                       size: int = 5, generator: torch.Generator | None = None,
                       dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Measure which input channels each output channel of ``fn`` depends on, with autograd.

    Parameters
    ----------
    fn : callable
        Maps a ``(1, in_channels, size, size)`` tensor to a ``(1, C_out, H', W')`` tensor (a
        layer, or a stack of layers with shuffles in between).
    in_channels : int
    size : int
        Side of the random probe image.
    generator : torch.Generator, optional
        For the random probe.
    dtype : torch.dtype
        Of the probe; ``fn`` must accept it (float64 by default).

    Returns
    -------
    Tensor of bool, shape (C_out, in_channels)
        ``True`` where the gradient of output channel ``o`` (summed over positions) with
        respect to input channel ``c`` is non-zero somewhere.

    Notes
    -----
    .. math:: D[o, c] = \\Big[\\, \\sum_{i, j} \\Big| \\frac{\\partial \\sum_{p, q} y[o, p, q]}
        {\\partial x[c, i, j]} \\Big| > 0 \\Big]

    For layers with generic (random) weights, the measured matrix equals the structural one:
    :func:`group_connectivity` for a single grouped layer, and the boolean product of the
    layers' matrices (with the shuffle's permutation in between) for a stack.

    Examples
    --------
    >>> layer = nn.Conv2d(4, 4, 1, groups=2).double()
    >>> torch.equal(channel_dependence(layer, 4), group_connectivity(4, 4, 2))
    True
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    size = check_int("size", size, minimum=1)
    probe = torch.randn(1, in_channels, size, size, generator=generator, dtype=dtype)
    probe.requires_grad_(True)
    out = fn(probe)
    check_tensor("fn(x)", out, ndim=4)
    per_channel = out.sum(dim=(0, 2, 3))
    rows = []
    for value in per_channel:
        (grad,) = torch.autograd.grad(value, probe, retain_graph=True)
        rows.append(grad[0].abs().sum(dim=(1, 2)) > 0)
    return torch.stack(rows)


class ShuffleUnit(nn.Module):
    """The ShuffleNet v1 unit: grouped 1x1, channel shuffle, depthwise 3x3, grouped 1x1.

    Parameters
    ----------
    in_channels : int
    out_channels : int
        For ``stride=1``: equal to ``in_channels`` (residual addition). For ``stride=2``:
        larger than ``in_channels``; the branch makes ``out_channels - in_channels`` channels
        that are concatenated to the average-pooled input.
    groups : int
        ``g`` of both pointwise group convolutions and of the shuffle (the paper's default
        is 3).
    stride : {1, 2}
    bottleneck_channels : int, optional
        ``m``, the width of the depthwise stage; ``out_channels // 4`` by default as in the
        paper. Must be divisible by ``groups``.
    group_first_conv : bool
        ``False`` makes the first 1x1 convolution ungrouped, as the paper does for the first
        unit after the stem, whose input has few channels.

    Notes
    -----
    Branch: 1x1 GConv (``C_in -> m``, ``g`` groups) → BN → ReLU → channel shuffle (``g``) →
    3x3 depthwise conv (stride ``s``) → BN → 1x1 GConv (``m -> C_branch``, ``g`` groups) → BN.
    Stride 1: ``relu(x + branch(x))``; stride 2:
    ``relu(concat(avg_pool_3x3_s2(x), branch(x)))``. Convolutions have no bias (the batch norms
    follow them). Multiplications per image at stride 1 with ``c`` channels are

    .. math:: h w \\left( \\frac{2 c m}{g} + 9 m \\right),

    against :math:`h w (2 c m + 9 m^2)` for a ResNet bottleneck
    (:func:`convnotes.costs.shuffle_unit_mults`, :func:`convnotes.costs.bottleneck_mults`).

    References
    ----------
    X. Zhang, X. Zhou, M. Lin and J. Sun, "ShuffleNet: an extremely efficient convolutional
    neural network for mobile devices", CVPR 2018 (Figure 2 (b) and (c)).

    Examples
    --------
    >>> unit = ShuffleUnit(24, 240, groups=3, stride=2, group_first_conv=False)
    >>> tuple(unit(torch.randn(1, 24, 16, 16)).shape)
    (1, 240, 8, 8)
    >>> tuple(ShuffleUnit(240, 240, groups=3)(torch.randn(1, 240, 8, 8)).shape)
    (1, 240, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 3, stride: int = 1,
                 bottleneck_channels: int | None = None, group_first_conv: bool = True) -> None:
        super().__init__()
        in_channels, mid, branch_channels, first_groups, groups = shuffle_unit_widths(
            in_channels, out_channels, groups, stride, bottleneck_channels, group_first_conv)
        self.groups, self.stride = groups, stride
        self.reduce = nn.Conv2d(in_channels, mid, 1, groups=first_groups, bias=False)
        self.reduce_bn = nn.BatchNorm2d(mid)
        self.depthwise = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False)
        self.depthwise_bn = nn.BatchNorm2d(mid)
        self.expand = nn.Conv2d(mid, branch_channels, 1, groups=groups, bias=False)
        self.expand_bn = nn.BatchNorm2d(branch_channels)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch, before the addition (stride 1) or concatenation (stride 2)."""
        y = F.relu(self.reduce_bn(self.reduce(x)))
        y = channel_shuffle(y, self.groups)
        y = self.depthwise_bn(self.depthwise(y))
        return self.expand_bn(self.expand(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the unit to ``x`` of shape (N, C_in, H, W)."""
        check_layer_input(x, self.reduce.weight, self.reduce.in_channels, ndim=4)
        as_batch("x", x)  # the zero-size policy
        if self.stride == 1:
            return F.relu(x + self.branch(x))
        shortcut = F.avg_pool2d(x, 3, stride=2, padding=1)
        return F.relu(torch.cat([shortcut, self.branch(x)], dim=1))
