"""Convolution along one and three axes: sequences, causal stacks, volumes and video (chapter 10).

The CNN convolution of chapter 1 is defined for any number of spatial axes; only the window
changes shape. Here it is written once for ``n`` axes and exposed as the two cases the book
had not covered yet:

* :func:`conv1d` and :func:`conv3d` mirror ``F.conv1d`` and ``F.conv3d`` (layouts
  ``(N, C, L)`` and ``(N, C, D, H, W)``, the same ``stride``, ``padding`` (ints, tuples,
  ``"valid"``, ``"same"``), ``dilation`` and ``groups``). Both are the im2col idea of
  chapter 1 generalised: cut every window out of the padded input, one axis at a time, and
  multiply the stacked windows by the flattened kernels in one matrix product.
* :func:`causal_conv1d` pads only on the left, so output ``t`` reads inputs ``<= t``;
  :class:`CausalDilatedStack` stacks such layers with dilations ``1, 2, 4, ...`` as
  WaveNet does, so the receptive field doubles with every layer.
* :class:`Conv2Plus1d` factorises a ``t x d x d`` convolution into a ``1 x d x d`` spatial
  one, a ReLU and a ``t x 1 x 1`` temporal one, as in R(2+1)D.

References
----------
- A. van den Oord, S. Dieleman, H. Zen, K. Simonyan, O. Vinyals, A. Graves,
  N. Kalchbrenner, A. Senior and K. Kavukcuoglu, "WaveNet: a generative model for raw
  audio", arXiv:1609.03499, 2016.
- S. Bai, J. Z. Kolter and V. Koltun, "An empirical evaluation of generic convolutional and
  recurrent networks for sequence modeling", arXiv:1803.01271, 2018.
- S. Ji, W. Xu, M. Yang and K. Yu, "3D convolutional neural networks for human action
  recognition", IEEE TPAMI 35(1), 2013.
- D. Tran, L. Bourdev, R. Fergus, L. Torresani and M. Paluri, "Learning spatiotemporal
  features with 3D convolutional networks", ICCV 2015.
- D. Tran, H. Wang, L. Torresani, J. Ray, Y. LeCun and M. Paluri, "A closer look at
  spatiotemporal convolutions for action recognition", CVPR 2018.

Examples
--------
>>> x = torch.arange(6.0).reshape(1, 1, 6)
>>> conv1d(x, torch.tensor([[[1.0, -1.0]]]))
tensor([[[-1., -1., -1., -1., -1.]]])
>>> causal_conv1d(x, torch.tensor([[[-1.0, 1.0]]]))       # x[t] - x[t - 1], x[-1] = 0
tensor([[[0., 1., 1., 1., 1., 1.]]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_bool,
    check_channels_divisible,
    check_float_tensor,
    check_int,
    check_layer_input,
    check_no_zero_size,
    check_one_of,
    check_same_device,
    check_same_dtype,
    check_window_fits,
    int_tuple,
    pair,
)
from .arithmetic import conv_output_shape, receptive_field
from .costs import conv2plus1d_mid_channels

__all__ = [
    "CausalDilatedStack",
    "Conv2Plus1d",
    "causal_conv1d",
    "conv1d",
    "conv3d",
]

#: An int for every axis, one int per axis, or one of torch's two padding words.
Padding = int | Sequence[int] | Literal["valid", "same"]


def _check_operands(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    axes: int) -> None:
    """Tensors of an ``axes``-D convolution: float input, weight and bias on one device/dtype."""
    check_float_tensor("x", x, ndim=(axes + 1, axes + 2))
    check_float_tensor("weight", weight, ndim=axes + 2)
    if bias is not None:
        check_float_tensor("bias", bias, ndim=1)
    check_same_device(x=x, weight=weight, bias=bias)
    check_same_dtype("x", x, weight=weight, bias=bias)


def _check_channels(in_channels: int, weight: torch.Tensor, bias: torch.Tensor | None,
                    groups: int) -> None:
    """Channel counts of x, weight and bias agree with ``groups`` (torch's rules)."""
    out_channels, group_in = weight.shape[:2]
    if in_channels < 1 or out_channels < 1:
        raise ValueError(f"x and weight must have at least one channel, got C_in={in_channels} "
                         f"and weight of shape {tuple(weight.shape)}")
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels (weight.shape[0])", out_channels, groups)
    if group_in * groups != in_channels:
        raise ValueError(f"weight must have shape (C_out, C_in / groups = {in_channels // groups}"
                         f", *kernel) for x with C_in={in_channels} and groups={groups}, got "
                         f"{tuple(weight.shape)}")
    if bias is not None and bias.shape[0] != out_channels:
        raise ValueError(f"bias must have shape ({out_channels},), got {tuple(bias.shape)}")


def _pad_amounts(padding: Padding, kernel: tuple[int, ...], stride: tuple[int, ...],
                 dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Zeros (before, after) per axis; ``"same"`` puts the odd one after, as torch does."""
    axes = len(kernel)
    if isinstance(padding, str):
        check_one_of("padding", padding, ("valid", "same"))
        if padding == "valid":
            return ((0, 0),) * axes
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' needs stride=1 (as in torch), got stride={stride}")
        totals = (d * (k - 1) for k, d in zip(kernel, dilation, strict=True))
        return tuple((total // 2, total - total // 2) for total in totals)
    return tuple((p, p) for p in int_tuple("padding", padding, axes, minimum=0))


def _windows(padded: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...]) -> torch.Tensor:
    """Every window of a padded (N, C, *S) tensor: shape (N, C, *O, *kernel), a strided view.

    One axis at a time: ``unfold`` cuts windows of the dilated span ``d (k - 1) + 1`` every
    ``s`` positions along axis ``2 + a`` and appends them as a new last axis, of which every
    ``d``-th entry is a kernel tap.
    """
    windows = padded
    for axis, (k, s, d) in enumerate(zip(kernel, stride, dilation, strict=True)):
        windows = windows.unfold(2 + axis, d * (k - 1) + 1, s)[..., ::d]
    return windows


def _convnd(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
            stride: int | Sequence[int], padding: Padding, dilation: int | Sequence[int],
            groups: int, axes: int) -> torch.Tensor:
    """Cross-correlation over the last ``axes`` axes: windows, then one batched matmul."""
    _check_operands(x, weight, bias, axes)
    groups = check_int("groups", groups, minimum=1)
    batched = x.ndim == axes + 2
    xb = x if batched else x.unsqueeze(0)
    batch, in_channels, *size = xb.shape
    _check_channels(in_channels, weight, bias, groups)
    out_channels, group_in, *kernel_list = weight.shape
    kernel = tuple(kernel_list)
    strides = int_tuple("stride", stride, axes)
    dilations = int_tuple("dilation", dilation, axes)
    if min(size) < 1:
        raise ValueError(f"x must have spatial sizes >= 1 (torch allows only zero batch or "
                         f"channels), got shape {tuple(x.shape)}")
    amounts = _pad_amounts(padding, kernel, strides, dilations)
    symmetric = all(before == after for before, after in amounts)
    padded_size = [n + before + after for n, (before, after) in zip(size, amounts, strict=True)]
    try:  # with symmetric padding, report the caller's size and padding in the message
        out_size = (conv_output_shape(size, kernel, strides, [p for p, _ in amounts], dilations)
                    if symmetric else conv_output_shape(padded_size, kernel, strides, 0,
                                                        dilations))
    except ValueError as error:
        raise ValueError(f"weight of shape {tuple(weight.shape)} (dilation={dilations}) does "
                         f"not fit x of shape {tuple(x.shape)} with padding={padding!r}: "
                         f"{error}") from error
    flat_pad = [p for before_after in reversed(amounts) for p in before_after]  # last axis first
    windows = _windows(F.pad(xb, flat_pad), kernel, strides, dilations)  # (N, C, *O, *k)
    taps, positions = math.prod(kernel), math.prod(out_size)
    order = (0, 1, *range(2 + axes, 2 + 2 * axes), *range(2, 2 + axes))  # (N, C, *k, *O)
    cols = windows.permute(order).reshape(batch, groups, group_in * taps, positions)
    kernels = weight.reshape(groups, out_channels // groups, group_in * taps)
    out = torch.matmul(kernels, cols).reshape(batch, out_channels, *out_size)
    if bias is not None:
        out = out + bias.reshape(1, -1, *([1] * axes))
    return out if batched else out.squeeze(0)


def conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: int | Sequence[int] = 1, padding: Padding = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> torch.Tensor:
    """1-D cross-correlation of sequences, windows plus one matrix product (twin: ``F.conv1d``).

    Parameters
    ----------
    x : Tensor, shape (N, C_in, L) or (C_in, L)
    weight : Tensor, shape (C_out, C_in / groups, k)
    bias : Tensor, shape (C_out,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), "valid" or "same"
        Zeros on both ends; ``"same"`` (stride 1 only) pads ``d (k - 1)`` in total, the odd
        one at the end, as torch does.
    groups : int
        ``C_in`` and ``C_out`` split into ``groups`` independent convolutions.

    Returns
    -------
    Tensor, shape (N, C_out, L_out) or (C_out, L_out)
        ``L_out = floor((L + 2p - d(k - 1) - 1) / s) + 1``
        (:func:`convnotes.arithmetic.conv_output_shape`).

    Raises
    ------
    TypeError
        For non-tensors, integer tensors, or non-integer geometry.
    ValueError
        For a wrong rank of ``x`` or ``weight``, channels that do not split into ``groups``,
        a zero stride or dilation, or a kernel larger than the padded input.

    Notes
    -----
    .. math::

        y[n, o, i] = b[o] + \\sum_{c=0}^{C_{in}/g - 1} \\sum_{a=0}^{k-1}
        w[o, c, a]\\; x_{\\text{pad}}[n,\\ g(o) C_{in}/g + c,\\ s i + d a]

    with :math:`g(o)` the group of output channel ``o``. No kernel flip, as in every CNN
    library. Differentiable in ``x``, ``weight`` and ``bias``; runs on their device.

    Examples
    --------
    A two-tap difference with dilation 2 compares samples two apart:

    >>> x = torch.tensor([[[0.0, 1.0, 4.0, 9.0, 16.0]]])
    >>> conv1d(x, torch.tensor([[[-1.0, 1.0]]]), dilation=2)
    tensor([[[ 4.,  8., 12.]]])
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, axes=1)


def conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: int | Sequence[int] = 1, padding: Padding = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> torch.Tensor:
    """3-D cross-correlation of volumes or clips, windows plus one matmul (twin: ``F.conv3d``).

    Parameters
    ----------
    x : Tensor, shape (N, C_in, D, H, W) or (C_in, D, H, W)
        ``D`` is depth: the frames of a clip or the slices of a scan.
    weight : Tensor, shape (C_out, C_in / groups, k_t, k_h, k_w)
    bias : Tensor, shape (C_out,), optional
    stride, dilation : int or (int, int, int)
    padding : int, (int, int, int), "valid" or "same"
        As in :func:`conv1d`, per axis.
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out)
        Each axis by the rule of :func:`conv1d` on its own
        (:func:`convnotes.arithmetic.conv_output_shape`).

    Raises
    ------
    TypeError, ValueError
        As :func:`conv1d`.

    Notes
    -----
    .. math::

        y[n, o, u, i, j] = b[o] + \\sum_{c} \\sum_{a, b, e}
        w[o, c, a, b, e]\\; x_{\\text{pad}}[n,\\ g(o) C_{in}/g + c,\\
        s_t u + d_t a,\\ s_h i + d_h b,\\ s_w j + d_w e]

    The kernel slides along time as well as space, so one filter can respond to how the
    image changes from frame to frame (Ji et al., 2013; Tran et al., 2015). The im2col
    matrix has :math:`C_{in} k_t k_h k_w` rows: the cost grows with the cube of the kernel
    side.

    Examples
    --------
    A 2x1x1 kernel (-1, 1) along time is the frame difference:

    >>> clip = torch.stack([torch.zeros(2, 2), torch.ones(2, 2), 3 * torch.ones(2, 2)])
    >>> conv3d(clip[None, None], torch.tensor([-1.0, 1.0]).reshape(1, 1, 2, 1, 1))[0, 0, :, 0, 0]
    tensor([1., 2.])
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, axes=3)


def causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  dilation: int | Sequence[int] = 1) -> torch.Tensor:
    """1-D convolution whose output at time ``t`` reads only inputs at times ``<= t``.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, L) or (C_in, L)
    weight : Tensor, shape (C_out, C_in, k)
    bias : Tensor, shape (C_out,), optional
    dilation : int or (int,)

    Returns
    -------
    Tensor, shape (N, C_out, L) or (C_out, L)
        As long as the input.

    Notes
    -----
    Pad :math:`d (k - 1)` zeros on the left only, then correlate (:func:`conv1d`):

    .. math::

        y[n, o, t] = b[o] + \\sum_{c} \\sum_{a=0}^{k-1} w[o, c, a]\\;
        x[n, c,\\ t - d (k - 1 - a)], \\qquad x[\\cdot, \\cdot, t] = 0 \\text{ for } t < 0

    The last tap ``a = k - 1`` reads time ``t`` itself, tap ``a`` reads ``d (k - 1 - a)``
    steps into the past, and no tap reads the future (van den Oord et al., 2016).

    Examples
    --------
    >>> causal_conv1d(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.ones(1, 1, 2), dilation=2)
    tensor([[1., 2., 4., 6.]])
    """
    check_float_tensor("weight", weight, ndim=3)
    (dilation_value,) = int_tuple("dilation", dilation, 1)
    check_float_tensor("x", x, ndim=(2, 3))
    if x.shape[-1] < 1:
        raise ValueError(f"x must have length >= 1 (torch allows only zero batch or channels), "
                         f"got shape {tuple(x.shape)}")
    history = dilation_value * (weight.shape[-1] - 1)
    return conv1d(F.pad(x, (history, 0)), weight, bias, dilation=dilation_value)


class CausalDilatedStack(nn.Module):
    """A WaveNet-style stack of causal convolutions with dilations 1, 2, 4, ..., 2^(L-1).

    Each layer is :func:`causal_conv1d` followed by ``tanh``; layer ``l`` has dilation
    ``2**l``. With ``kernel_size=2`` the receptive field doubles with every layer and is
    ``2**num_layers`` after ``num_layers`` layers; in general it is
    :math:`1 + (k - 1)(2^L - 1)` (:func:`convnotes.arithmetic.receptive_field`).

    Parameters
    ----------
    channels : int
        Channels of the input, of every layer and of the output.
    num_layers : int
        ``L``.
    kernel_size : int
        ``k`` (WaveNet uses 2).
    bias : bool

    Notes
    -----
    Input and output have the same shape, (N, channels, T) or (channels, T).

    References
    ----------
    A. van den Oord et al., "WaveNet: a generative model for raw audio", arXiv:1609.03499,
    2016, section 2.1 (WaveNet adds gated activations and residual and skip connections,
    which do not change the receptive field; they are left out here).

    Examples
    --------
    >>> stack = CausalDilatedStack(channels=4, num_layers=5)
    >>> stack.dilations, stack.receptive_field
    ((1, 2, 4, 8, 16), 32)
    >>> stack(torch.randn(2, 4, 100)).shape
    torch.Size([2, 4, 100])
    """

    def __init__(self, channels: int, num_layers: int, kernel_size: int = 2,
                 bias: bool = True) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        num_layers = check_int("num_layers", num_layers, minimum=1)
        kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        bias = check_bool("bias", bias)
        self.kernel_size = kernel_size
        self.dilations = tuple(2**layer for layer in range(num_layers))
        # nn.Conv1d only holds (and initialises) the weights; forward pads causally itself
        self.layers = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, bias=bias)
            for d in self.dilations)

    @property
    def receptive_field(self) -> int:
        """Inputs that one output depends on: ``1 + (k - 1) * (2**L - 1)``."""
        return receptive_field([(self.kernel_size, 1, d) for d in self.dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, dilation in zip(self.layers, self.dilations, strict=True):
            conv = cast(nn.Conv1d, layer)
            x = torch.tanh(causal_conv1d(x, conv.weight, conv.bias, dilation=dilation))
        return x


class Conv2Plus1d(nn.Module):
    """A (2+1)D block: a ``1 x d x d`` spatial convolution, a ReLU, a ``t x 1 x 1`` temporal one.

    Parameters
    ----------
    in_channels, out_channels : int
        ``N_in`` and ``N_out``.
    kernel_size : int or (int, int)
        ``(t, d)``: the temporal and spatial size of the full ``t x d x d`` kernel it replaces.
    mid_channels : int, optional
        ``M``, the channels between the two convolutions. By default Tran et al.'s rule
        (:func:`convnotes.costs.conv2plus1d_mid_channels`), which gives the block the weights
        of the full convolution, up to the rounding down of ``M``.
    stride, padding : int or (int, int)
        ``(temporal, spatial)``; the block's output has the shape of
        ``nn.Conv3d(in, out, (t, d, d), stride=(s_t, s, s), padding=(p_t, p, p))``.
    bias : bool
        Biases in both convolutions (R(2+1)D puts batch normalisation there instead).

    Notes
    -----
    Input (N, in_channels, D, H, W), output (N, out_channels, D_out, H_out, W_out).
    Weights: :math:`M d^2 N_{in} + N_{out} t M` against :math:`t d^2 N_{in} N_{out}`, with

    .. math::

        M = \\left\\lfloor \\frac{t d^2 N_{in} N_{out}}{d^2 N_{in} + t N_{out}} \\right\\rfloor

    The ReLU between the two convolutions gives the block two nonlinearities where a
    ``Conv3d`` followed by a ReLU has one. Without it the block would be one linear 3-D
    convolution whose kernel is :math:`\\sum_m T[o, m, a] S[m, c, i, j]`.

    References
    ----------
    D. Tran, H. Wang, L. Torresani, J. Ray, Y. LeCun and M. Paluri, "A closer look at
    spatiotemporal convolutions for action recognition", CVPR 2018, section 3.5.

    Examples
    --------
    >>> block = Conv2Plus1d(64, 64, kernel_size=3, padding=1)
    >>> block.mid_channels, sum(p.numel() for p in block.parameters() if p.ndim > 1)
    (144, 110592)
    >>> block(torch.randn(1, 64, 4, 8, 8)).shape
    torch.Size([1, 64, 4, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int | tuple[int, int] = 3, mid_channels: int | None = None,
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        t, d = pair("kernel_size", kernel_size)
        (st, ss), (pt, ps) = pair("stride", stride), pair("padding", padding, minimum=0)
        bias = check_bool("bias", bias)
        if mid_channels is None:
            mid_channels = conv2plus1d_mid_channels(in_channels, out_channels, (t, d))
        self.mid_channels = check_int("mid_channels", mid_channels, minimum=1)
        self.spatial = nn.Conv3d(in_channels, self.mid_channels, (1, d, d), stride=(1, ss, ss),
                                 padding=(0, ps, ps), bias=bias)
        self.relu = nn.ReLU()
        self.temporal = nn.Conv3d(self.mid_channels, out_channels, (t, 1, 1),
                                  stride=(st, 1, 1), padding=(pt, 0, 0), bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.spatial.weight
        check_layer_input(x, weight, weight.shape[1], ndim=(4, 5), channel_dim=-4)
        clips = x if x.ndim == 5 else x.unsqueeze(0)
        check_no_zero_size("x", clips)
        kernel = (self.temporal.kernel_size[0], *self.spatial.kernel_size[1:])
        padding = (self.temporal.padding[0], *self.spatial.padding[1:])
        check_window_fits("kernel_size", kernel, (1, 1, 1), tuple(clips.shape[2:]), padding)
        return self.temporal(self.relu(self.spatial(x)))
