"""1x1 (pointwise) convolution, global average pooling and squeeze-and-excitation (chapter 7).

A 1x1 convolution looks at one pixel at a time: it multiplies the channel vector of every
pixel by the same ``C_out x C_in`` matrix. It changes the number of channels without touching
the spatial layout, so networks use it to shrink channels before an expensive layer (the
bottleneck), to grow them after, and, with a nonlinearity after it, as a small per-pixel
network (Network in Network).

* :func:`conv1x1` is that matrix product written as one ``einsum``. Twins: ``F.conv2d`` with
  a ``1x1`` kernel, and ``F.linear`` on the channels-last tensor.
* :func:`global_avg_pool2d` averages every channel over all positions (twin:
  ``F.adaptive_avg_pool2d(x, 1)``); it replaces the fully connected head of a classifier.
* :class:`SqueezeExcitation` pools, passes the channel vector through a two-layer bottleneck
  and a sigmoid, and rescales the channels with the result (SENet).
* :class:`BasicBlock` and :class:`Bottleneck` are ResNet's two residual blocks (two 3x3
  layers; 1x1 reduce, 3x3, 1x1 expand), each with its identity shortcut.

References
----------
- M. Lin, Q. Chen and S. Yan, "Network in network", ICLR 2014.
- C. Szegedy et al., "Going deeper with convolutions", CVPR 2015 (1x1 reductions).
- K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
  CVPR 2016 (the 256-64-256 bottleneck).
- J. Hu, L. Shen and G. Sun, "Squeeze-and-excitation networks", CVPR 2018.

Examples
--------
>>> x = torch.tensor([[[[1.0]], [[2.0]]]])          # one pixel, channels (1, 2)
>>> conv1x1(x, torch.tensor([[1.0, 1.0], [1.0, -1.0]])).flatten().tolist()
[3.0, -1.0]
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import (
    as_batch,
    check_channels_divisible,
    check_conv_weight,
    check_float_tensor,
    check_int,
    check_layer_input,
    check_same_device,
    check_same_dtype,
)

__all__ = ["BasicBlock", "Bottleneck", "SqueezeExcitation", "conv1x1", "global_avg_pool2d"]


def _check_pointwise_weight(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Accept ``(C_out, C_in, 1, 1)`` (``F.conv2d``) or ``(C_out, C_in)`` (``F.linear``)."""
    check_float_tensor("weight", weight, ndim=(2, 4))
    if weight.ndim == 4 and tuple(weight.shape[2:]) != (1, 1):
        raise ValueError(f"weight must be a 1x1 kernel of shape (C_out, C_in, 1, 1), "
                         f"got {tuple(weight.shape)}")
    if weight.shape[1] != in_channels:
        raise ValueError(f"weight must have C_in={in_channels} columns (weight.shape[1]) to "
                         f"match x, got {tuple(weight.shape)}")
    return weight.reshape(weight.shape[0], in_channels)


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
            ) -> torch.Tensor:
    """1x1 convolution: the same channel-mixing matrix at every pixel.

    Twins: ``F.conv2d(x, weight, bias)`` with a ``(C_out, C_in, 1, 1)`` weight, and
    ``F.linear(x.movedim(-3, -1), weight, bias).movedim(-1, -3)``.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (C_out, C_in, 1, 1) or (C_out, C_in)
        The layout of ``F.conv2d`` or of ``F.linear``.
    bias : Tensor, shape (C_out,), optional

    Returns
    -------
    Tensor, shape (N, C_out, H, W) or (C_out, H, W)

    Notes
    -----
    .. math:: y[n, o, i, j] = b[o] + \\sum_{c} W[o, c]\\, x[n, c, i, j]

    One ``einsum`` (a matrix product over the channel axis): ``H W C_in C_out`` multiplications
    per image (:func:`convnotes.costs.conv1x1_mults`). No window, so no im2col copy: the
    column matrix of im2col is the input itself, reshaped.

    References
    ----------
    M. Lin, Q. Chen and S. Yan, "Network in network", ICLR 2014.

    Examples
    --------
    >>> x = torch.ones(1, 3, 2, 2)
    >>> conv1x1(x, torch.ones(2, 3, 1, 1), torch.tensor([0.0, 1.0]))[0, :, 0, 0].tolist()
    [3.0, 4.0]
    """
    check_float_tensor("x", x, ndim=(3, 4))
    as_batch("x", x)  # the zero-size policy
    if bias is not None:
        check_float_tensor("bias", bias, ndim=1)
    matrix = _check_pointwise_weight(weight, x.shape[-3])
    check_same_device(x=x, weight=weight, bias=bias)
    check_same_dtype("x", x, weight=weight, bias=bias)
    check_conv_weight(matrix[:, :, None, None], bias, x.shape[-3], 1)
    out = torch.einsum("oc,...chw->...ohw", matrix, x)
    if bias is not None:
        out = out + bias[:, None, None]
    return out


def global_avg_pool2d(x: torch.Tensor) -> torch.Tensor:
    """Average every channel over all positions (twin: ``F.adaptive_avg_pool2d(x, 1)``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)

    Returns
    -------
    Tensor, shape (N, C, 1, 1) or (C, 1, 1)

    Notes
    -----
    .. math:: z[n, c] = \\frac{1}{H W} \\sum_{i, j} x[n, c, i, j]

    Network in Network replaces the fully connected classifier by one feature map per class
    and this average: no parameters, and any input size works (Lin et al., 2014).

    References
    ----------
    M. Lin, Q. Chen and S. Yan, "Network in network", ICLR 2014.

    Examples
    --------
    >>> global_avg_pool2d(torch.arange(8.0).reshape(1, 2, 2, 2)).flatten().tolist()
    [1.5, 5.5]
    """
    check_float_tensor("x", x, ndim=(3, 4))
    as_batch("x", x)  # the zero-size policy: the mean of no pixels is not a number
    return x.mean(dim=(-2, -1), keepdim=True)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: rescale each channel by a gate computed from all channels.

    Parameters
    ----------
    channels : int
        ``C`` of the feature map it gates.
    reduction : int
        ``r``; the hidden layer has ``C // r`` units, so ``1 <= r <= C``.

    Notes
    -----
    For ``x`` of shape (N, C, H, W):

    .. math::

        z = \\operatorname{GAP}(x) \\in \\mathbb{R}^{C}, \\qquad
        s = \\sigma\\big(W_2\\, \\operatorname{ReLU}(W_1 z + b_1) + b_2\\big) \\in (0, 1)^{C},
        \\qquad y[:, c] = s_c\\, x[:, c],

    with :math:`W_1 \\in \\mathbb{R}^{C/r \\times C}` (squeeze) and
    :math:`W_2 \\in \\mathbb{R}^{C \\times C/r}` (excitation). Parameters:
    ``2 C (C // r) + C // r + C`` (:func:`convnotes.costs.squeeze_excitation_params`).

    References
    ----------
    J. Hu, L. Shen and G. Sun, "Squeeze-and-excitation networks", CVPR 2018.

    Examples
    --------
    >>> se = SqueezeExcitation(64, reduction=16)
    >>> sum(p.numel() for p in se.parameters())
    580
    >>> tuple(se(torch.randn(2, 64, 5, 5)).shape)
    (2, 64, 5, 5)
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        reduction = check_int("reduction", reduction, minimum=1)
        if reduction > channels:
            raise ValueError(f"reduction must be at most channels={channels} (the hidden layer "
                             f"has channels // reduction units), got {reduction}")
        self.channels, self.reduction = channels, reduction
        self.squeeze = nn.Linear(channels, channels // reduction)
        self.excitation = nn.Linear(channels // reduction, channels)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The channel scales ``s``, shape (N, C), each in (0, 1)."""
        check_layer_input(x, self.squeeze.weight, self.channels, ndim=4)
        as_batch("x", x)  # the zero-size policy
        z = global_avg_pool2d(x).flatten(1)
        return torch.sigmoid(self.excitation(torch.relu(self.squeeze(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescale the channels of ``x`` (N, C, H, W) by :meth:`gates`."""
        return x * self.gates(x)[:, :, None, None]


# --------------------------------------------------------------------------------------------
# Residual blocks: the 1x1 bottleneck against the basic block (ResNet)
# --------------------------------------------------------------------------------------------


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int,
             groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions and an identity shortcut (stride 1).

    Parameters
    ----------
    channels : int
        ``C``, in and out.

    Notes
    -----
    For ``x`` of shape (N, C, H, W),
    :math:`y = \\operatorname{ReLU}\\big(x + \\operatorname{BN}(W_2 \\star
    \\operatorname{ReLU}(\\operatorname{BN}(W_1 \\star x)))\\big)`, with 3x3 kernels and
    padding 1. Weights: :math:`2 \\cdot 9 C^2` (+ ``4 C`` batch-norm parameters);
    multiplications per pixel: :math:`18 C^2`.

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
    CVPR 2016 (Fig. 5, left).

    Examples
    --------
    >>> block = BasicBlock(64)
    >>> sum(p.numel() for p in block.parameters())
    73984
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        self.channels = channels
        self.conv1 = _conv_bn(channels, channels, 3)
        self.conv2 = _conv_bn(channels, channels, 3)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch ``F(x)`` (before the sum with the shortcut)."""
        check_layer_input(x, next(self.parameters()), self.channels, ndim=4)
        return self.conv2(torch.relu(self.conv1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``ReLU(x + F(x))``, shape (N, C, H, W)."""
        return torch.relu(x + self.residual(x))


class Bottleneck(nn.Module):
    """ResNet's bottleneck block: 1x1 reduce, 3x3, 1x1 expand, identity shortcut (stride 1).

    Parameters
    ----------
    channels : int
        ``c``, in and out (256 in ResNet-50's first stage).
    bottleneck_channels : int
        ``m``, the width of the 3x3 layer (64 there: ``c / 4``).
    groups : int
        Groups of the 3x3 layer (``> 1``: the ResNeXt block).

    Notes
    -----
    :math:`y = \\operatorname{ReLU}\\big(x + \\operatorname{BN}(W_3 \\star
    \\operatorname{ReLU}(\\operatorname{BN}(W_2 \\star
    \\operatorname{ReLU}(\\operatorname{BN}(W_1 \\star x))))\\big)` with :math:`W_1` 1x1
    ``c -> m``, :math:`W_2` 3x3 ``m -> m`` (padding 1) and :math:`W_3` 1x1 ``m -> c``.
    Weights :math:`2 c m + 9 m^2 / g` (+ ``2 (2 m + c)`` batch-norm parameters,
    :func:`convnotes.costs.bottleneck_params`); multiplications per pixel the same
    :math:`2 c m + 9 m^2 / g` (:func:`convnotes.costs.bottleneck_mults`).

    References
    ----------
    K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
    CVPR 2016 (Fig. 5, right).

    Examples
    --------
    >>> block = Bottleneck(256, 64)
    >>> sum(p.numel() for p in block.parameters())
    70400
    """

    def __init__(self, channels: int, bottleneck_channels: int, groups: int = 1) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        mid = check_int("bottleneck_channels", bottleneck_channels, minimum=1)
        groups = check_int("groups", groups, minimum=1)
        check_channels_divisible("bottleneck_channels", mid, groups)
        self.channels = channels
        self.reduce = _conv_bn(channels, mid, 1)
        self.conv = _conv_bn(mid, mid, 3, groups=groups)
        self.expand = _conv_bn(mid, channels, 1)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch ``F(x)`` (before the sum with the shortcut)."""
        check_layer_input(x, next(self.parameters()), self.channels, ndim=4)
        return self.expand(torch.relu(self.conv(torch.relu(self.reduce(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``ReLU(x + F(x))``, shape (N, c, H, W)."""
        return torch.relu(x + self.residual(x))
