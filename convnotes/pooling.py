"""Pooling: max, average, min, Lp, adaptive and stochastic pooling, and max-unpooling (chapter 9).

A pooling layer summarises every window of a feature map by one number and has no weights.
Each window-based operator here is built the same way: copy the windows into columns with
:func:`convnotes.correlation.im2col` (after padding with the value that cannot win: ``-inf``
for the maximum, zero for sums), then reduce each column. The twins are
``torch.nn.functional``:

* :func:`max_pool2d` (``F.max_pool2d``, with ``return_indices``), :func:`min_pool2d`
  (``-F.max_pool2d(-x)``), :func:`avg_pool2d` (``F.avg_pool2d``, including its
  ``ceil_mode`` / ``count_include_pad`` divisor rule) and :func:`lp_pool2d`
  (``F.lp_pool2d``, built on :func:`avg_pool2d` exactly as torch builds it);
* :func:`adaptive_avg_pool2d` and :func:`adaptive_max_pool2d` (``F.adaptive_*_pool2d``):
  a fixed output size, global pooling with ``output_size=1``;
* :func:`max_unpool2d` (``F.max_unpool2d``): puts each maximum back where it came from, the
  "switches" of the deconvnet;
* :func:`stochastic_pool2d` and :class:`StochasticPool2d`: stochastic pooling of Zeiler and
  Fergus (no torch twin; checked against its definition and, statistically, against
  :func:`stochastic_pool_probabilities`).

:func:`feature_estimation_errors` is the small Monte Carlo experiment of the chapter: how
much of an activation noise and of a systematic, parameter-induced shift each pooling passes
on.

References
----------
- M. D. Zeiler and R. Fergus, "Stochastic pooling for regularization of deep convolutional
  neural networks", ICLR 2013.
- M. D. Zeiler and R. Fergus, "Visualizing and understanding convolutional networks",
  ECCV 2014 (max-unpooling with switches).
- Y-L. Boureau, J. Ponce and Y. LeCun, "A theoretical analysis of feature pooling in visual
  recognition", ICML 2010.

Examples
--------
>>> x = torch.tensor([[[[1.0, 2.0, 0.0, 1.0],
...                     [3.0, 4.0, 1.0, 0.0],
...                     [0.0, 0.0, 2.0, 2.0],
...                     [1.0, 0.0, 2.0, 2.0]]]])
>>> max_pool2d(x, 2)
tensor([[[[4., 1.],
          [1., 2.]]]])
>>> avg_pool2d(x, 2)
tensor([[[[2.5000, 0.5000],
          [0.2500, 2.0000]]]])
>>> stochastic_pool2d(x, 2, training=False)   # sum a_i^2 / sum a_i per window
tensor([[[[3.0000, 1.0000],
          [1.0000, 2.0000]]]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, overload

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    Size2,
    as_batch,
    check_bool,
    check_broadcasts_to,
    check_finite,
    check_float_tensor,
    check_int,
    check_no_zero_size,
    check_non_negative_values,
    check_number,
    check_same_device,
    check_tensor,
    check_window_fits,
    pair,
    unbatch,
)
from .arithmetic import pool_output_size
from .correlation import im2col

__all__ = [
    "AdaptiveSize",
    "EstimationErrors",
    "StochasticPool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "feature_estimation_errors",
    "lp_pool2d",
    "max_pool2d",
    "max_unpool2d",
    "min_pool2d",
    "stochastic_pool2d",
    "stochastic_pool_probabilities",
]

#: An adaptive pooling's output size: an int, or a pair whose ``None`` keeps that input size.
AdaptiveSize = int | tuple[int | None, int | None]


# --------------------------------------------------------------------------------------------
# Shared geometry: windows as columns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PoolGeometry:
    """Checked pooling arguments for one input, per axis (height, width)."""

    size: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]


def _geometry(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None, padding: Size2,
              dilation: Size2, ceil_mode: bool) -> _PoolGeometry:
    """Checked pairs and the output size from torch's pooling rule
    (:func:`convnotes.arithmetic.pool_output_size`): stride defaults to the kernel size,
    padding is at most half the kernel, and a ``ceil_mode`` window may hang over the bottom /
    right edge but may not start in the padding there."""
    check_bool("ceil_mode", ceil_mode)
    kernel = pair("kernel_size", kernel_size)
    strides = kernel if stride is None else pair("stride", stride)
    paddings = pair("padding", padding, minimum=0)
    dilations = pair("dilation", dilation)
    size = (int(x.shape[-2]), int(x.shape[-1]))
    if not ceil_mode:  # a ceil_mode window may be larger than the input (pool_output_size checks)
        check_window_fits("kernel_size", kernel, dilations, size, paddings)
    out = (pool_output_size(size[0], kernel[0], strides[0], paddings[0], dilations[0], ceil_mode),
           pool_output_size(size[1], kernel[1], strides[1], paddings[1], dilations[1], ceil_mode))
    return _PoolGeometry(size, kernel, strides, paddings, dilations, out)


def _windows(x4: torch.Tensor, geo: _PoolGeometry, fill: float) -> torch.Tensor:
    """Every pooling window as a column: shape ``(N, C, kh * kw, oh, ow)``.

    The input is padded with ``fill`` by ``padding`` on each side, plus the extra rows /
    columns a ``ceil_mode`` window hangs over at the bottom / right, then unfolded with
    :func:`~convnotes.correlation.im2col` (stride and dilation as given, no further padding).
    """
    (ph, pw), (oh, ow) = geo.padding, geo.out
    needed = [(o - 1) * s + d * (k - 1) + 1
              for o, s, d, k in zip(geo.out, geo.stride, geo.dilation, geo.kernel, strict=True)]
    extra_h = max(0, needed[0] - (geo.size[0] + 2 * ph))
    extra_w = max(0, needed[1] - (geo.size[1] + 2 * pw))
    padded = F.pad(x4, (pw, pw + extra_w, ph, ph + extra_h), value=fill)
    cols = im2col(padded, geo.kernel, stride=geo.stride, dilation=geo.dilation)
    batch, channels = x4.shape[:2]
    return cols.reshape(batch, channels, geo.kernel[0] * geo.kernel[1], oh, ow)


def _input_positions(geo: _PoolGeometry, device: torch.device) -> torch.Tensor:
    """Flat input index ``row * W + col`` read by (tap, output row, output col).

    Shape ``(kh * kw, oh, ow)``; taps that fall in the padding get out-of-range values and are
    never selected for a finite input.
    """
    def positions(k: int, s: int, d: int, p: int, o: int) -> torch.Tensor:
        return d * torch.arange(k, device=device)[:, None] + s * torch.arange(o, device=device) - p

    (kh, kw), (sh, sw), (dh, dw), (ph, pw), (oh, ow) = (
        geo.kernel, geo.stride, geo.dilation, geo.padding, geo.out)
    rows = positions(kh, sh, dh, ph, oh)  # (kh, oh)
    cols = positions(kw, sw, dw, pw, ow)  # (kw, ow)
    flat = rows[:, None, :, None] * geo.size[1] + cols[None, :, None, :]
    return flat.reshape(kh * kw, oh, ow)


# --------------------------------------------------------------------------------------------
# Max, min, average and Lp pooling (twins: F.max_pool2d, F.avg_pool2d, F.lp_pool2d)
# --------------------------------------------------------------------------------------------


@overload
def max_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
               padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False,
               return_indices: Literal[False] = False) -> torch.Tensor: ...
@overload
def max_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
               padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False, *,
               return_indices: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def max_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
               padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False,
               return_indices: bool = False
               ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
def max_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0,
               dilation: Size2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The largest value of every window (twin: ``F.max_pool2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
        Floating point.
    kernel_size : int or (int, int)
        Window size ``(kh, kw)``.
    stride : int or (int, int), optional
        Defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int)
        ``-inf`` added on each side, at most half the kernel size (as in torch).
    dilation : int or (int, int)
        Spacing between the taps of a window.
    ceil_mode : bool
        Round the output size up: a last, partial window may hang over the bottom / right
        edge, as long as it starts inside the input or the left padding.
    return_indices : bool
        Also return where each maximum came from.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        ``H_out`` from :func:`convnotes.arithmetic.pool_output_size`.
    Tensor of int64, same shape (only with ``return_indices``)
        The flat index ``row * W + col`` of each maximum in its ``(H, W)`` input plane; the
        first one in the window's row-major order when several are equal (as torch).

    Raises
    ------
    ValueError
        Bad sizes, padding above half the kernel, or a window larger than the padded input
        (with ``ceil_mode``: no window that starts inside it, as in torch).

    Notes
    -----
    .. math::

        y[n, c, i, j] = \\max_{0 \\le a < k_h,\\ 0 \\le b < k_w}
        x_{\\text{pad}}[n, c,\\ s_h i + d_h a,\\ s_w j + d_w b]

    with ``-inf`` padding. The windows are the columns of
    :func:`~convnotes.correlation.im2col`; ``max`` over the window axis returns the value
    and its position, and the gradient flows to that one element per window (and accumulates
    where overlapping windows pick the same element), exactly like torch's backward.

    Examples
    --------
    >>> x = torch.tensor([[[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0], [6.0, 0.0, 1.0]]]])
    >>> values, indices = max_pool2d(x, 2, stride=1, return_indices=True)
    >>> values
    tensor([[[[5., 5.],
              [6., 4.]]]])
    >>> indices
    tensor([[[[1, 1],
              [6, 5]]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    check_bool("return_indices", return_indices)
    x4, batched = as_batch("x", x)
    geo = _geometry(x4, kernel_size, stride, padding, dilation, ceil_mode)
    values, winner = _windows(x4, geo, float("-inf")).max(dim=2)
    if not return_indices:
        return unbatch(values, batched)
    positions = _input_positions(geo, x.device).expand(*x4.shape[:2], -1, -1, -1)
    indices = positions.gather(2, winner.unsqueeze(2)).squeeze(2)
    return unbatch(values, batched), unbatch(indices, batched)


@overload
def min_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
               padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False,
               return_indices: Literal[False] = False) -> torch.Tensor: ...
@overload
def min_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
               padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False, *,
               return_indices: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def min_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
               padding: Size2 = 0, dilation: Size2 = 1, ceil_mode: bool = False,
               return_indices: bool = False
               ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
def min_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0,
               dilation: Size2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The smallest value of every window: ``-max_pool2d(-x)`` (torch has no ``min_pool2d``).

    Parameters and return values as in :func:`max_pool2d`; the padding is ``+inf``, so it
    never wins.

    Notes
    -----
    .. math:: \\min_{w} x_w = -\\max_{w} (-x_w)

    Examples
    --------
    >>> min_pool2d(torch.tensor([[[[1.0, 5.0], [0.5, 3.0]]]]), 2)
    tensor([[[[0.5000]]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    if check_bool("return_indices", return_indices):
        values, indices = max_pool2d(-x, kernel_size, stride, padding, dilation, ceil_mode,
                                     return_indices=True)
        return -values, indices
    return -max_pool2d(-x, kernel_size, stride, padding, dilation, ceil_mode)


def _divisors(geo: _PoolGeometry, count_include_pad: bool, divisor_override: int | None,
              like: torch.Tensor) -> torch.Tensor:
    """torch's average-pooling divisor for every output position, shape ``(oh, ow)``.

    Per axis a window starts at ``s i - p``; it is first clipped to the padded input
    (``end <= size + p``, which only matters for ``ceil_mode`` windows), giving the count with
    padding, then to the input itself, giving the count without.
    """
    if divisor_override is not None:
        return torch.full(geo.out, float(divisor_override), device=like.device, dtype=like.dtype)

    def counts(size: int, k: int, s: int, p: int, o: int) -> torch.Tensor:
        starts = s * torch.arange(o, device=like.device) - p
        ends = torch.clamp(starts + k, max=size + p)
        if count_include_pad:
            return ends - starts
        return torch.clamp(ends, max=size) - torch.clamp(starts, min=0)

    rows = counts(geo.size[0], geo.kernel[0], geo.stride[0], geo.padding[0], geo.out[0])
    cols = counts(geo.size[1], geo.kernel[1], geo.stride[1], geo.padding[1], geo.out[1])
    return (rows[:, None] * cols[None, :]).to(like.dtype)


def avg_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> torch.Tensor:
    """The mean of every window (twin: ``F.avg_pool2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, ceil_mode
        As in :func:`max_pool2d` (zero padding; no dilation, as in torch).
    count_include_pad : bool
        Divide by the window clipped to the padded input (``True``, the default) or by the
        number of real input pixels in it (``False``).
    divisor_override : int, optional
        Divide every window sum by this number instead (>= 1).

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Notes
    -----
    .. math::

        y[n, c, i, j] = \\frac{1}{D_{ij}} \\sum_{a, b}
        x_{\\text{pad}}[n, c,\\ s_h i + a,\\ s_w j + b]

    Along one axis a window starting at :math:`t = s i - p` covers
    :math:`[t, \\min(t + k, H + p))` of the padded input; with ``count_include_pad`` its
    length counts, otherwise only the part inside :math:`[0, H)`. :math:`D_{ij}` is the
    product of the two lengths. Away from the borders :math:`D = k_h k_w`; a ``ceil_mode``
    window that hangs over the edge is divided by its clipped size even with
    ``count_include_pad=True`` (torch's rule).

    Examples
    --------
    >>> x = torch.arange(1.0, 6.0).reshape(1, 1, 1, 5)
    >>> avg_pool2d(x, (1, 2), ceil_mode=True)                  # last window holds only 5
    tensor([[[[1.5000, 3.5000, 5.0000]]]])
    >>> avg_pool2d(x, (1, 3), padding=(0, 1), stride=(1, 2))   # zeros counted
    tensor([[[[1.0000, 3.0000, 3.0000]]]])
    >>> avg_pool2d(x, (1, 3), padding=(0, 1), stride=(1, 2), count_include_pad=False)
    tensor([[[[1.5000, 3.0000, 4.5000]]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    check_bool("count_include_pad", count_include_pad)
    if divisor_override is not None:
        divisor_override = check_int("divisor_override", divisor_override, minimum=1)
    x4, batched = as_batch("x", x)
    geo = _geometry(x4, kernel_size, stride, padding, 1, ceil_mode)
    sums = _windows(x4, geo, 0.0).sum(dim=2)
    return unbatch(sums / _divisors(geo, count_include_pad, divisor_override, x4), batched)


def lp_pool2d(x: torch.Tensor, norm_type: float, kernel_size: Size2, stride: Size2 | None = None,
              ceil_mode: bool = False) -> torch.Tensor:
    """Power-average pooling, the :math:`L_p` norm of every window (twin: ``F.lp_pool2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    norm_type : float
        The power ``p`` (non-zero); ``inf`` gives the largest ``|x|`` of the window,
        ``-inf`` the smallest (as ``F.lp_pool2d`` in torch 2.13; older releases evaluate
        ``x ** inf`` instead).
    kernel_size, stride, ceil_mode
        As in :func:`avg_pool2d` (no padding, as in torch).

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Notes
    -----
    Computed the way torch computes it, from the average of :math:`x^p`:

    .. math::

        f = \\operatorname{avg\\_pool2d}(x^p), \\qquad
        y = \\big(\\operatorname{sign}(f)\\, \\operatorname{relu}(|f|)\\; k_h k_w\\big)^{1/p}

    so :math:`y = (\\sum_{w} x_w^p)^{1/p}` for a full window: ``p = 1`` is the window sum,
    ``p = 2`` the Euclidean norm, and ``p -> inf`` tends to max pooling of ``|x|``. Two torch
    behaviours are kept on purpose, so that the twins agree everywhere:

    * the relu makes the gradient zero (not NaN) where the window sum of :math:`x^p` is zero;
    * a ``ceil_mode`` window that hangs over the edge is averaged over its clipped size and
      then multiplied by the full :math:`k_h k_w`, so its sum is scaled up by
      :math:`k_h k_w / \\text{clipped size}`;
    * a negative sum (an odd ``p`` with negative inputs) has no real fractional power:
      the result is NaN, as in torch. Lp pooling is meant for non-negative activations.

    Examples
    --------
    >>> x = torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]])
    >>> lp_pool2d(x, 2, 2), lp_pool2d(x, 1, 2), lp_pool2d(x, float("inf"), 2)
    (tensor([[[[5.]]]]), tensor([[[[7.]]]]), tensor([[[[4.]]]]))
    """
    check_float_tensor("x", x, ndim=(3, 4))
    if isinstance(norm_type, float) and math.isinf(norm_type):
        pool = max_pool2d if norm_type > 0 else min_pool2d
        return pool(x.abs(), kernel_size, stride, 0, 1, ceil_mode)
    p = check_number("norm_type", norm_type)
    if p == 0:
        raise ValueError("norm_type must be non-zero, got 0")
    kh, kw = pair("kernel_size", kernel_size)
    averaged = avg_pool2d(x.pow(p), kernel_size, stride, 0, ceil_mode)
    return (torch.sign(averaged) * F.relu(torch.abs(averaged))).mul(kh * kw).pow(1.0 / p)


# --------------------------------------------------------------------------------------------
# Adaptive (and global) pooling (twins: F.adaptive_avg_pool2d, F.adaptive_max_pool2d)
# --------------------------------------------------------------------------------------------


def _adaptive_output(x: torch.Tensor, output_size: AdaptiveSize) -> tuple[int, int]:
    """``(oh, ow)`` from an int, a pair, or a pair with ``None`` (keep that input size)."""
    if isinstance(output_size, tuple | list) and len(output_size) == 2:
        filled = tuple(x.shape[-2 + axis] if value is None else value
                       for axis, value in enumerate(output_size))
        return pair("output_size", filled)
    return pair("output_size", output_size)


def _adaptive_bounds(size: int, out: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """torch's adaptive windows along one axis: ``[floor(i n / out), ceil((i + 1) n / out))``."""
    index = torch.arange(out, device=device)
    starts = torch.div(index * size, out, rounding_mode="floor")
    ends = -torch.div(-(index + 1) * size, out, rounding_mode="floor")
    return starts, ends


def adaptive_avg_pool2d(x: torch.Tensor, output_size: AdaptiveSize) -> torch.Tensor:
    """Average pooling to a fixed output size (twin: ``F.adaptive_avg_pool2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; ``None`` keeps that input size. ``1`` is global average pooling.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Notes
    -----
    Output row ``i`` averages input rows :math:`\\lfloor iH/H_{out} \\rfloor` to
    :math:`\\lceil (i+1)H/H_{out} \\rceil - 1` (windows of unequal size that may overlap), and
    likewise for columns; with :math:`R_i` and :math:`C_j` those row and column ranges,

    .. math::

        y[n, c, i, j] = \\frac{1}{|R_i|\\,|C_j|} \\sum_{h \\in R_i} \\sum_{w \\in C_j}
        x[n, c, h, w]

    Each window is summed over its own elements only (a gather and a masked sum): written as
    averaging matrices, :math:`A_h x A_w^\\top`, the zeros outside a window would multiply an
    infinite input elsewhere into NaN, whereas here a NaN or an infinity reaches only the
    windows that contain it, as in torch.

    Examples
    --------
    >>> adaptive_avg_pool2d(torch.arange(6.0).reshape(1, 1, 2, 3), (1, 2))
    tensor([[[[2., 3.]]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    as_batch("x", x)  # the zero-size policy
    oh, ow = _adaptive_output(x, output_size)
    (rows, row_inside), (cols, col_inside) = (_adaptive_taps(x.shape[-2], oh, x.device),
                                              _adaptive_taps(x.shape[-1], ow, x.device))
    windows = x[..., rows[:, None, :, None], cols[None, :, None, :]]  # (..., oh, ow, lh, lw)
    inside = row_inside[:, None, :, None] & col_inside[None, :, None, :]
    sums = torch.where(inside, windows, 0).sum(dim=(-2, -1))
    counts = inside.sum(dim=(-2, -1)).to(x.dtype)
    return sums / counts


def _adaptive_taps(size: int, out: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Input positions read by each adaptive window along one axis, shape (out, longest).

    Every window is read with the longest window's length; the surplus taps are clamped onto
    the window's last element and flagged ``False`` in the second tensor.
    """
    starts, ends = _adaptive_bounds(size, out, device)
    longest = int((ends - starts).max())
    index = starts[:, None] + torch.arange(longest, device=device)[None, :]
    return torch.minimum(index, ends[:, None] - 1), index < ends[:, None]


@overload
def adaptive_max_pool2d(x: torch.Tensor, output_size: AdaptiveSize,
                        return_indices: Literal[False] = False) -> torch.Tensor: ...
@overload
def adaptive_max_pool2d(x: torch.Tensor, output_size: AdaptiveSize, *,
                        return_indices: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def adaptive_max_pool2d(x: torch.Tensor, output_size: AdaptiveSize, return_indices: bool = False
                        ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
def adaptive_max_pool2d(x: torch.Tensor, output_size: AdaptiveSize, return_indices: bool = False
                        ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Max pooling to a fixed output size (twin: ``F.adaptive_max_pool2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        As in :func:`adaptive_avg_pool2d`; ``1`` is global max pooling.
    return_indices : bool
        Also return the flat index ``row * W + col`` of each maximum.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out) (and the indices)

    Notes
    -----
    The windows are those of :func:`adaptive_avg_pool2d`. They have unequal sizes, so every
    window is read with the largest size and the surplus taps are clamped onto the window's
    last row / column: repeating an element never changes a maximum.

    Examples
    --------
    >>> adaptive_max_pool2d(torch.arange(6.0).reshape(1, 1, 2, 3), 1)
    tensor([[[[5.]]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    check_bool("return_indices", return_indices)
    as_batch("x", x)  # the zero-size policy
    oh, ow = _adaptive_output(x, output_size)
    height, width = x.shape[-2:]
    rows, cols = _adaptive_taps(height, oh, x.device)[0], _adaptive_taps(width, ow, x.device)[0]
    windows = x[..., rows[:, None, :, None], cols[None, :, None, :]]  # (..., oh, ow, lh, lw)
    windows = windows.flatten(-2)
    winner = windows.argmax(dim=-1, keepdim=True)
    values = windows.gather(-1, winner).squeeze(-1)
    if not return_indices:
        return values
    flat = (rows[:, None, :, None] * width + cols[None, :, None, :]).flatten(-2)
    indices = flat.expand(*windows.shape).gather(-1, winner).squeeze(-1)
    return values, indices


# --------------------------------------------------------------------------------------------
# Max-unpooling (twin: F.max_unpool2d)
# --------------------------------------------------------------------------------------------


def _unpool_size(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                 padding: tuple[int, int], output_size: Sequence[int] | None
                 ) -> tuple[int, int]:
    """Default ``(H_in - 1) s - 2 p + k`` per axis, or a checked ``output_size`` (torch's rule:
    strictly within ``stride`` of the default; ``(N, C, H, W)`` is accepted too)."""
    default = tuple((x.shape[-2 + axis] - 1) * stride[axis] - 2 * padding[axis] + kernel[axis]
                    for axis in range(2))
    size: tuple[int, int]
    if output_size is None:
        size = (default[0], default[1])
    else:
        if not isinstance(output_size, tuple | list | torch.Size):
            raise TypeError(f"output_size must be a sequence of 2 or 4 ints, got {output_size!r}")
        if len(output_size) == 4:
            output_size = tuple(output_size)[2:]
        size = pair("output_size", tuple(output_size))
        for axis in range(2):
            low, high = default[axis] - stride[axis], default[axis] + stride[axis]
            if not low < size[axis] < high:
                raise ValueError(f"output_size must be strictly between {low} and {high} along "
                                 f"dimension {axis}, got output_size={tuple(size)}")
    if min(size) < 1:
        raise ValueError(f"output size must be positive, got {tuple(size)} (padding too large "
                         f"for kernel_size={kernel}, stride={stride})")
    return size


def max_unpool2d(x: torch.Tensor, indices: torch.Tensor, kernel_size: Size2,
                 stride: Size2 | None = None,
                 padding: Size2 = 0,
                 output_size: Sequence[int] | None = None) -> torch.Tensor:
    """Put each pooled value back at the position of its maximum (twin: ``F.max_unpool2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H_in, W_in) or (C, H_in, W_in)
        Pooled values (the output of :func:`max_pool2d`, or anything of that shape).
    indices : Tensor of int64, the shape of ``x``
        The indices returned by ``max_pool2d(..., return_indices=True)``: flat positions
        ``row * W_out + col`` in the output plane. In the deconvnet these are the *switches*.
    kernel_size, stride, padding : int or (int, int)
        The arguments of the max pooling being undone; ``stride`` defaults to ``kernel_size``.
    output_size : (int, int) or (N, C, H, W), optional
        Needed when several input sizes pool to the same size; default
        ``(H_in - 1) s - 2 p + k`` per axis.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        Zero everywhere except at the switch positions.

    Notes
    -----
    .. math:: y[n, c, \\text{indices}[n, c, i, j]] = x[n, c, i, j], \\quad 0 \\text{ elsewhere}

    One ``scatter`` per plane. Unpooling is the adjoint of max pooling with its switches
    fixed: for non-overlapping windows it equals the gradient of
    :math:`\\langle \\operatorname{maxpool}(z), x \\rangle` with respect to :math:`z`.

    Examples
    --------
    >>> z = torch.tensor([[[[1.0, 5.0], [4.0, 2.0]]]])
    >>> pooled, switches = max_pool2d(z, 2, return_indices=True)
    >>> max_unpool2d(pooled, switches, 2)
    tensor([[[[0., 5.],
              [0., 0.]]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    check_tensor("indices", indices)
    check_same_device(x=x, indices=indices)
    if indices.dtype != torch.int64:
        raise TypeError(f"indices must have dtype torch.int64, got {indices.dtype}")
    if indices.shape != x.shape:
        raise ValueError(f"indices must have the shape of x {tuple(x.shape)}, "
                         f"got {tuple(indices.shape)}")
    kernel = pair("kernel_size", kernel_size)
    strides = kernel if stride is None else pair("stride", stride)
    paddings = pair("padding", padding, minimum=0)
    height, width = _unpool_size(x, kernel, strides, paddings, output_size)
    x4, batched = as_batch("x", x)
    planes = (x4.shape[0], x4.shape[1], x4.shape[2] * x4.shape[3])
    flat_indices = indices.reshape(planes)
    if flat_indices.numel() and (int(flat_indices.min()) < 0
                                 or int(flat_indices.max()) >= height * width):
        raise ValueError(f"indices must lie in [0, {height * width}) for an output of size "
                         f"{(height, width)}, got values from {int(flat_indices.min())} to "
                         f"{int(flat_indices.max())}")
    canvas = x4.new_zeros(*x4.shape[:2], height * width)
    out = canvas.scatter(2, flat_indices, x4.reshape(planes))
    return unbatch(out.reshape(*x4.shape[:2], height, width), batched)


# --------------------------------------------------------------------------------------------
# Stochastic pooling (Zeiler & Fergus 2013)
# --------------------------------------------------------------------------------------------


def _stochastic_windows(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None
                        ) -> tuple[torch.Tensor, _PoolGeometry, bool]:
    """Validated non-negative input as windows ``(N, C, kh * kw, oh, ow)``."""
    check_float_tensor("x", x, ndim=(3, 4))
    check_finite("x", x.detach())
    check_non_negative_values("x", x.detach())
    x4, batched = as_batch("x", x)
    geo = _geometry(x4, kernel_size, stride, 0, 1, False)
    return _windows(x4, geo, 0.0), geo, batched


def _safe_divide(numerator: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """``numerator / total`` where ``total > 0``, else 0 (and a zero, not NaN, gradient)."""
    positive = total > 0
    return torch.where(positive, numerator / torch.where(positive, total, 1), 0)


def stochastic_pool_probabilities(x: torch.Tensor, kernel_size: Size2,
                                  stride: Size2 | None = None) -> torch.Tensor:
    """The sampling probabilities of stochastic pooling, ``p_i = a_i / sum_j a_j`` per window.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
        Non-negative activations (e.g. after a ReLU).
    kernel_size, stride : int or (int, int)
        As in :func:`stochastic_pool2d`.

    Returns
    -------
    Tensor, shape (N, C, kh * kw, H_out, W_out) or (C, kh * kw, H_out, W_out)
        Tap ``a * kw + b`` of each window; each window sums to 1, or is all zero when its
        activations are.

    Examples
    --------
    >>> stochastic_pool_probabilities(torch.tensor([[[[1.0, 3.0], [0.0, 0.0]]]]), 2).flatten()
    tensor([0.2500, 0.7500, 0.0000, 0.0000])
    """
    cols, _, batched = _stochastic_windows(x, kernel_size, stride)
    return unbatch(_safe_divide(cols, cols.sum(dim=2, keepdim=True)), batched)


def _check_generator(generator: object, x: torch.Tensor) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != x.device.type:
        raise ValueError(f"generator must be on the device of x ({x.device}), "
                         f"got a generator on {generator.device}")


@overload
def stochastic_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
                      training: bool = True, generator: torch.Generator | None = None,
                      return_indices: Literal[False] = False) -> torch.Tensor: ...
@overload
def stochastic_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
                      training: bool = True, generator: torch.Generator | None = None, *,
                      return_indices: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def stochastic_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
                      training: bool = True, generator: torch.Generator | None = None,
                      return_indices: bool = False
                      ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
def stochastic_pool2d(x: torch.Tensor, kernel_size: Size2, stride: Size2 | None = None,
                      training: bool = True, generator: torch.Generator | None = None,
                      return_indices: bool = False
                      ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Stochastic pooling (Zeiler & Fergus, 2013): sample one activation per window.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
        Non-negative, finite activations (the method assumes outputs of a ReLU).
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``. No padding, no dilation.
    training : bool
        ``True``: return one activation per window, drawn with probability
        ``p_i = a_i / sum_j a_j``. ``False``: return the expectation ``sum_i p_i a_i``.
    generator : torch.Generator, optional
        Source of the uniform draws (training only), for reproducible samples. It must live
        on the device of ``x`` (``torch.Generator(device=x.device)``); ``None`` uses torch's
        global generator of that device.
    return_indices : bool
        Training only: also return the flat index ``row * W + col`` of each sampled element
        (the layout of :func:`max_pool2d`), so :func:`max_unpool2d` can put it back.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        ``H_out = floor((H - kh) / s_h) + 1``.

    Raises
    ------
    ValueError
        A negative entry in ``x`` (the message reports the minimum), NaN or infinity, a
        generator on another device, or ``return_indices`` in test mode.

    Notes
    -----
    With :math:`a_i \\ge 0` the activations of one window and
    :math:`p_i = a_i / \\sum_j a_j`:

    .. math::

        \\text{training: } y = a_\\ell,\\ \\ \\ell \\sim \\text{Categorical}(p), \\qquad
        \\text{test: } y = \\sum_i p_i a_i = \\frac{\\sum_i a_i^2}{\\sum_i a_i}

    The training output's expectation is the test output. Sampling is by inverse CDF, for
    all windows at once: with :math:`u \\sim U[0, 1)` and the running sums
    :math:`c_m = \\sum_{i \\le m} a_i`, the pick is the first :math:`m` with
    :math:`c_m > u\\, c_{\\text{last}}`; elements with :math:`a_i = 0` are never picked.
    An all-zero window has no distribution: by convention it returns 0 in both modes (its
    first element is "picked"), never NaN. The gradient flows to the picked element in
    training (like max pooling) and through the weighted average in test mode.

    References
    ----------
    M. D. Zeiler and R. Fergus, "Stochastic pooling for regularization of deep convolutional
    neural networks", ICLR 2013.

    Examples
    --------
    >>> a = torch.tensor([[[[0.0, 1.0], [0.0, 3.0]]]])
    >>> stochastic_pool2d(a, 2, training=False)       # (1 * 1 + 3 * 3) / 4
    tensor([[[[2.5000]]]])
    >>> g = torch.Generator().manual_seed(0)
    >>> stochastic_pool2d(a, 2, generator=g).item() in (1.0, 3.0)
    True
    """
    check_bool("training", training)
    check_bool("return_indices", return_indices)
    if return_indices and not training:
        raise ValueError("return_indices needs training=True: the test-mode output is a "
                         "weighted average, not one element")
    cols, geo, batched = _stochastic_windows(x, kernel_size, stride)
    totals = cols.sum(dim=2)
    if not training:
        return unbatch(_safe_divide((cols * cols).sum(dim=2), totals), batched)
    _check_generator(generator, x)
    running = cols.detach().cumsum(dim=2)
    batch, channels, taps, oh, ow = cols.shape
    uniform = torch.rand(batch, channels, 1, oh, ow, generator=generator, device=x.device,
                         dtype=x.dtype)
    threshold = uniform * running[:, :, -1:]
    # first tap whose running sum passes the threshold; never past the last positive tap
    # (rounding could put u * total on total), which is tap 0 for an all-zero window
    passed = (running <= threshold).sum(dim=2, keepdim=True)
    tap = torch.arange(taps, device=x.device).reshape(1, 1, taps, 1, 1)
    last_positive = torch.where(cols.detach() > 0, tap, 0).amax(dim=2, keepdim=True)
    picked = torch.minimum(passed, last_positive)
    values = cols.gather(2, picked).squeeze(2)
    if not return_indices:
        return unbatch(values, batched)
    positions = _input_positions(geo, x.device).expand(batch, channels, -1, -1, -1)
    return unbatch(values, batched), unbatch(positions.gather(2, picked).squeeze(2), batched)


class StochasticPool2d(nn.Module):
    """Stochastic pooling as a layer: samples in ``train()`` mode, averages in ``eval()`` mode.

    Parameters
    ----------
    kernel_size, stride
        As in :func:`stochastic_pool2d`.
    generator : torch.Generator, optional
        Kept and used for every training-mode call (on the device of the inputs).

    Examples
    --------
    >>> layer = StochasticPool2d(2).eval()
    >>> layer(torch.tensor([[[[0.0, 1.0], [0.0, 3.0]]]]))
    tensor([[[[2.5000]]]])
    """

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair("stride", stride)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_pool2d(x, self.kernel_size, self.stride, training=self.training,
                                 generator=self.generator)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


# --------------------------------------------------------------------------------------------
# The two error sources of feature estimation (the chapter's Monte Carlo experiment)
# --------------------------------------------------------------------------------------------


class EstimationErrors(NamedTuple):
    """What one pooling makes of one window under the two error sources.

    Attributes
    ----------
    clean : float
        The pooled value of the clean window (for sampling: its expectation).
    noise : float
        Root-mean-square error caused by independent noise on every activation, relative to
        ``clean``: the variance error of estimating from a few neighbours (plus any bias the
        noise causes).
    shift : float
        Change of the mean pooled value caused by the systematic shift, relative to
        ``clean``: the shifted-mean error of a parameter error.
    """

    clean: float
    noise: float
    shift: float


def feature_estimation_errors(clean: torch.Tensor, noise_std: float, shift: torch.Tensor,
                              num_samples: int = 20_000,
                              generator: torch.Generator | None = None
                              ) -> dict[str, EstimationErrors]:
    """Monte Carlo of the two error sources of pooled features, for four poolings.

    Parameters
    ----------
    clean : Tensor, shape (kh, kw)
        Non-negative activations of one pooling window without any error.
    noise_std : float
        Standard deviation of independent Gaussian noise added to every activation (error
        source 1: each window holds only ``kh * kw`` noisy samples).
    shift : Tensor, broadcastable to (kh, kw)
        A systematic change of the activations, the same in every draw (error source 2: an
        error in the convolution's parameters moves the responses, e.g. a filter that also
        answers to background texture).
    num_samples : int
        Monte Carlo draws.
    generator : torch.Generator, optional
        Generator for the noise and the stochastic-pooling draws, on the device of ``clean``.

    Returns
    -------
    dict
        ``"mean"``, ``"max"``, ``"stochastic (test)"``, ``"stochastic (train)"`` ->
        :class:`EstimationErrors`.

    Notes
    -----
    With :math:`f` a pooling and :math:`a` the clean window, activations stay non-negative
    (after a ReLU):

    .. math::

        e_{\\text{noise}} = \\frac{\\sqrt{\\mathbb{E}\\,[f(\\max(a + \\sigma\\varepsilon, 0))
        - f(a)]^2}}{f(a)}, \\qquad
        e_{\\text{shift}} = \\frac{\\mathbb{E}\\, f(\\max(a + \\delta, 0)) - f(a)}{f(a)}

    with :math:`\\varepsilon \\sim N(0, I)`. Relative errors make poolings of different scale
    comparable. Mean pooling divides the noise by :math:`\\sqrt{k_h k_w}`; max pooling ignores
    a shift of everything below the maximum. Boureau et al. (2010) analyse the trade-off.

    Examples
    --------
    >>> clean = torch.full((3, 3), 0.5, dtype=torch.float64)
    >>> errors = feature_estimation_errors(clean, 0.1, torch.zeros(()), num_samples=4000,
    ...                                    generator=torch.Generator().manual_seed(0))
    >>> round(errors["mean"].noise, 2), errors["max"].noise > 3 * errors["mean"].noise
    (0.07, True)
    """
    check_float_tensor("clean", clean, ndim=2)
    check_no_zero_size("clean", clean, first_axis=0)
    check_finite("clean", clean.detach())
    check_non_negative_values("clean", clean)
    noise_std = check_number("noise_std", noise_std, minimum=0)
    check_float_tensor("shift", shift)
    check_same_device(clean=clean, shift=shift)
    check_finite("shift", shift.detach())
    num_samples = check_int("num_samples", num_samples, minimum=2)
    if float(clean.sum()) <= 0:
        raise ValueError("clean must have a positive entry (every pooling of an all-zero "
                         "window is 0, so relative errors are undefined)")
    _check_generator(generator, clean)
    window = (int(clean.shape[0]), int(clean.shape[1]))
    check_broadcasts_to("shift", shift, window, "clean")
    shifted = torch.clamp(clean + shift, min=0)
    noise = torch.randn(num_samples, 1, *window, generator=generator, dtype=clean.dtype,
                        device=clean.device)
    noisy = torch.clamp(clean + noise_std * noise, min=0)
    repeated = shifted.expand(num_samples, 1, *window)
    poolings = {
        "mean": lambda a: avg_pool2d(a, window),
        "max": lambda a: max_pool2d(a, window),
        "stochastic (test)": lambda a: stochastic_pool2d(a, window, training=False),
        "stochastic (train)": lambda a: stochastic_pool2d(a, window, generator=generator),
    }
    reference = stochastic_pool2d(clean[None, None], window, training=False)
    results = {}
    for name, pool in poolings.items():
        base = float(reference if name == "stochastic (train)" else pool(clean[None, None]))
        noise_error = float((pool(noisy) - base).square().mean().sqrt()) / base
        shift_error = (float(pool(repeated).mean()) - base) / base
        results[name] = EstimationErrors(base, noise_error, shift_error)
    return results
