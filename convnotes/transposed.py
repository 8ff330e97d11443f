"""Transposed convolution, four ways, and the resize kernels it can express (chapter 3).

A strided convolution maps a large image to a small one; its transpose maps the small one back
to the large shape. CNN libraries call this layer ``ConvTranspose2d`` (also "deconvolution",
"fractionally strided" or "backward" convolution: it is the backward pass of ``conv2d`` with
respect to its input). This module computes it in three independent ways, each equal to
``torch.nn.functional.conv_transpose2d`` for every stride, padding, output_padding, groups
and dilation:

* :func:`conv_transpose2d`: one matrix product ``W^T x`` per pixel, scattered back into the
  image with ``col2im`` (the adjoint of im2col + GEMM);
* :func:`conv_transpose2d_zero_insertion`: insert ``stride - 1`` zeros between input pixels,
  pad, and run an ordinary convolution with the flipped kernel ("input padding");
* :func:`conv_transpose2d_subpixel`: split the kernel into ``stride**2`` phase sub-kernels,
  convolve the small input with them (one ``conv2d`` per sub-kernel size) and interleave the
  phases into the output: the "kernel padding" + :func:`depth_to_space` method without its
  padded zeros (:func:`subpixel_weight` builds the padded single-convolution weight).

Plus :func:`depth_to_space` / :func:`space_to_depth` (twins ``F.pixel_shuffle`` /
``F.pixel_unshuffle``), the resize kernels :func:`nearest_kernel` and :func:`bilinear_kernel`,
:func:`checkerboard_score`, a number for the checkerboard artifact, and two layers without
it at initialisation: :func:`resize_conv2d` (resize, then convolve) and :func:`icnr` (the
sub-pixel initialisation of Aitken et al., 2017).

References
----------
* V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
  arXiv:1603.07285, 2016.
* W. Shi et al., "Real-time single image and video super-resolution using an efficient
  sub-pixel convolutional neural network", CVPR 2016.
* A. Odena, V. Dumoulin and C. Olah, "Deconvolution and checkerboard artifacts",
  Distill, 2016.
* J. Long, E. Shelhamer and T. Darrell, "Fully convolutional networks for semantic
  segmentation", CVPR 2015 (bilinear initialisation of upsampling layers).
* A. Aitken et al., "Checkerboard artifact free sub-pixel convolution", arXiv:1707.02937,
  2017 (ICNR).

Examples
--------
>>> x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
>>> conv_transpose2d(x, torch.ones(1, 1, 2, 2), stride=2)
tensor([[[[1., 1., 2., 2.],
          [1., 1., 2., 2.],
          [3., 3., 4., 4.],
          [3., 3., 4., 4.]]]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._checks import (
    Size2,
    as_batch,
    check_channels_divisible,
    check_conv_operands,
    check_conv_weight,
    check_divisible,
    check_float_tensor,
    check_int,
    check_no_zero_size,
    check_one_of,
    check_tensor,
    pair,
    unbatch,
)
from .arithmetic import conv_transpose_output_size, effective_kernel_size
from .correlation import col2im
from .dilated import dilate_kernel

__all__ = [
    "bilinear_kernel",
    "checkerboard_score",
    "conv_transpose2d",
    "conv_transpose2d_subpixel",
    "conv_transpose2d_zero_insertion",
    "depth_to_space",
    "icnr",
    "insert_zeros",
    "nearest_kernel",
    "resize_conv2d",
    "space_to_depth",
    "subpixel_weight",
]


# --------------------------------------------------------------------------------------------
# Shared geometry and validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """Checked parameters of one transposed convolution (pairs are (height, width))."""

    batched: bool
    groups: int
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    input_hw: tuple[int, int]
    output_hw: tuple[int, int]

    @property
    def full_hw(self) -> tuple[int, int]:
        """Size of the uncropped output, ``(i - 1) s + d (k - 1) + 1`` per axis."""
        (ih, iw), (sh, sw), (kh, kw), (dh, dw) = self.input_hw, self.stride, self.kernel, \
            self.dilation
        return ((ih - 1) * sh + effective_kernel_size(kh, dh),
                (iw - 1) * sw + effective_kernel_size(kw, dw))


def _geometry(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Size2,
              padding: Size2, output_padding: Size2, groups: int, dilation: Size2) -> _Geometry:
    """Validate the arguments of a transposed convolution the way ``F.conv_transpose2d`` does."""
    check_conv_operands(x, weight, bias)
    x4, batched = as_batch("x", x)
    groups = check_int("groups", groups, minimum=1)
    stride, dilation = pair("stride", stride), pair("dilation", dilation)
    padding = pair("padding", padding, minimum=0)
    output_padding = pair("output_padding", output_padding, minimum=0)
    in_channels = x4.shape[1]
    out_channels = check_conv_weight(weight, bias, in_channels, groups, layout="IOHW")
    kernel = (weight.shape[2], weight.shape[3])
    input_hw = (x4.shape[2], x4.shape[3])
    output_hw = (
        conv_transpose_output_size(input_hw[0], kernel[0], stride[0], padding[0],
                                   output_padding[0], dilation[0]),
        conv_transpose_output_size(input_hw[1], kernel[1], stride[1], padding[1],
                                   output_padding[1], dilation[1]),
    )
    return _Geometry(batched, groups, in_channels, out_channels, kernel, stride, padding,
                     output_padding, dilation, input_hw, output_hw)


def _crop_full(full: torch.Tensor, geo: _Geometry) -> torch.Tensor:
    """Cut the output window ``[p, p + o)`` out of a canvas that starts at full index 0.

    Rows past the canvas (possible with ``output_padding > padding``) receive no input: they
    are zeros, so negative crops in ``F.pad`` become zero padding there.
    """
    (ph, pw), (oh, ow) = geo.padding, geo.output_hw
    height, width = full.shape[-2:]
    return F.pad(full, (-pw, ow + pw - width, -ph, oh + ph - height))


def _finish(out: torch.Tensor, bias: torch.Tensor | None, batched: bool) -> torch.Tensor:
    """Add the per-channel bias, then undo the batching (:func:`~convnotes._checks.unbatch`)."""
    return unbatch(out if bias is None else out + bias.reshape(1, -1, 1, 1), batched)


# --------------------------------------------------------------------------------------------
# View 1: GEMM + col2im (scatter-add)
# --------------------------------------------------------------------------------------------


def conv_transpose2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     stride: Size2 = 1, padding: Size2 = 0, output_padding: Size2 = 0,
                     groups: int = 1, dilation: Size2 = 1) -> torch.Tensor:
    """Transposed convolution as a matrix product plus a scatter-add (twin: F.conv_transpose2d).

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (C_in, C_out / groups, kh, kw)
        torch's layout for transposed convolutions (input channels first).
    bias : Tensor, shape (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int or (int, int)
        Rows/columns removed from each side of the full output.
    output_padding : int or (int, int)
        Extra rows/columns on the bottom/right, ``0 <= output_padding < max(stride, dilation)``.
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        ``H_out = (H - 1) s - 2p + d (k - 1) + output_padding + 1``.

    Notes
    -----
    Every input pixel spreads a copy of the kernel, scaled by its value, into the output:

    .. math::

        y_{\\text{full}}[n, o, s_h i + d_h a, s_w j + d_w b] \\mathrel{+}=
        \\sum_c x[n, c, i, j]\\, w[c, o, a, b]

    then ``y = y_full[p : p + H_out]`` (zeros beyond the canvas). The products for all
    ``(o, a, b)`` at one pixel are one column of ``W^T X`` (a GEMM); ``col2im`` adds the
    columns into place. This is exactly the adjoint of ``conv2d`` = im2col + GEMM, i.e. the
    gradient of ``conv2d`` with respect to its input (Dumoulin & Visin, 2016).

    References
    ----------
    * V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
      arXiv:1603.07285, 2016.

    Examples
    --------
    >>> x = torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    >>> y = conv_transpose2d(x, torch.ones(1, 1, 3, 3), stride=2, padding=1, output_padding=1)
    >>> y.shape
    torch.Size([1, 1, 4, 4])
    >>> torch.equal(y, F.conv_transpose2d(x, torch.ones(1, 1, 3, 3), None, 2, 1, 1))
    True
    """
    geo = _geometry(x, weight, bias, stride, padding, output_padding, groups, dilation)
    x4, _ = as_batch("x", x)
    batch, height, width = x4.shape[0], *geo.input_hw
    g, group_in = geo.groups, geo.in_channels // geo.groups
    kh, kw = geo.kernel
    pixels = x4.reshape(batch, g, group_in, height * width)
    kernels = weight.reshape(g, group_in, -1).transpose(1, 2)  # (g, C_out/g * kh * kw, C_in/g)
    cols = torch.matmul(kernels, pixels).reshape(batch, geo.out_channels * kh * kw,
                                                 height * width)
    full = col2im(cols, geo.full_hw, geo.kernel, stride=geo.stride, dilation=geo.dilation)
    return _finish(_crop_full(full, geo), bias, geo.batched)


# --------------------------------------------------------------------------------------------
# View 3: zero insertion ("input padding")
# --------------------------------------------------------------------------------------------


def _flipped_transposed_kernel(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """``(C_in, C_out/g, kh, kw)`` -> ``(C_out, C_in/g, kh, kw)``, spatially flipped (180 deg)."""
    c_in, group_out, kh, kw = weight.shape
    per_group = weight.reshape(groups, c_in // groups, group_out, kh, kw).transpose(1, 2)
    return per_group.reshape(groups * group_out, c_in // groups, kh, kw).flip(-2, -1)


def insert_zeros(x: torch.Tensor, stride: Size2) -> torch.Tensor:
    """Put ``stride - 1`` zeros between neighbouring pixels (the "fractional stride").

    Parameters
    ----------
    x : Tensor, shape (..., H, W)
    stride : int or (int, int)

    Returns
    -------
    Tensor, shape (..., (H - 1) s_h + 1, (W - 1) s_w + 1)

    Examples
    --------
    >>> insert_zeros(torch.tensor([[1.0, 2.0]]), 3)
    tensor([[1., 0., 0., 2.]])
    """
    check_float_tensor("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., H, W), got shape "
                         f"{tuple(x.shape)}")
    check_no_zero_size("x", x, first_axis=x.ndim - 2)  # (H - 1) s + 1 rows need H >= 1
    sh, sw = pair("stride", stride)
    height, width = x.shape[-2:]
    canvas = x.new_zeros(*x.shape[:-2], (height - 1) * sh + 1, (width - 1) * sw + 1)
    canvas[..., ::sh, ::sw] = x  # autograd tracks the copy into the fresh tensor
    return canvas


def conv_transpose2d_zero_insertion(x: torch.Tensor, weight: torch.Tensor,
                                    bias: torch.Tensor | None = None, stride: Size2 = 1,
                                    padding: Size2 = 0, output_padding: Size2 = 0,
                                    groups: int = 1, dilation: Size2 = 1) -> torch.Tensor:
    """Transposed convolution as an ordinary convolution over a zero-stuffed input.

    Same parameters, shapes and result as :func:`conv_transpose2d` (twin:
    ``F.conv_transpose2d``).

    Notes
    -----
    The "input padding" picture of Dumoulin & Visin (2016): with
    :math:`\\tilde x` the input with ``s - 1`` zeros between pixels,

    .. math::

        y = \\operatorname{conv2d}\\big(\\operatorname{pad}(\\tilde x,\\ d(k-1) - p),\\
        \\operatorname{flip}(w)^{\\top},\\ \\text{dilation}=d\\big)

    where :math:`\\operatorname{flip}(w)^\\top` swaps the in/out channel axes (per group)
    and rotates each kernel by 180 degrees; the bottom/right side gets ``output_padding``
    more zeros. A negative pad (``p > d(k-1)``) crops instead. A fraction ``1 - 1/s^2`` of
    the multiplications hit inserted zeros: the method is simple and wasteful. A NaN or Inf
    in one input pixel stays local (it meets only real taps), but a non-finite *weight*
    multiplies inserted zeros everywhere (``0 * inf = nan``), unlike ``F.conv_transpose2d``.

    References
    ----------
    * V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
      arXiv:1603.07285, 2016.

    Examples
    --------
    >>> x, w = torch.randn(1, 2, 3, 3), torch.randn(2, 3, 3, 3)
    >>> y = conv_transpose2d_zero_insertion(x, w, stride=2, padding=1)
    >>> torch.allclose(y, F.conv_transpose2d(x, w, stride=2, padding=1), atol=1e-5)
    True
    """
    geo = _geometry(x, weight, bias, stride, padding, output_padding, groups, dilation)
    x4, _ = as_batch("x", x)
    stuffed = insert_zeros(x4, geo.stride)
    borders = [d * (k - 1) - p for k, p, d in zip(geo.kernel, geo.padding, geo.dilation,
                                                   strict=True)]
    (bh, bw), (oph, opw) = borders, geo.output_padding
    padded = F.pad(stuffed, (bw, bw + opw, bh, bh + oph))
    out = F.conv2d(padded, _flipped_transposed_kernel(weight, geo.groups),
                   dilation=geo.dilation, groups=geo.groups)
    return _finish(out, bias, geo.batched)


# --------------------------------------------------------------------------------------------
# View 4: sub-pixel ("kernel padding" + depth_to_space)
# --------------------------------------------------------------------------------------------


def _check_block(x: torch.Tensor, block_size: Size2) -> tuple[int, int]:
    check_tensor("x", x)
    if x.ndim < 3:
        raise ValueError(f"x must have at least 3 dimensions (..., C, H, W), got shape "
                         f"{tuple(x.shape)}")
    return pair("block_size", block_size)


def depth_to_space(x: torch.Tensor, block_size: Size2) -> torch.Tensor:
    """Move channel blocks into space (twin: ``F.pixel_shuffle``, CRD order).

    Parameters
    ----------
    x : Tensor, shape (..., C * r_h * r_w, H, W)
    block_size : int or (int, int)
        ``r`` (``F.pixel_shuffle``'s ``upscale_factor``); a pair allows different factors
        for height and width.

    Returns
    -------
    Tensor, shape (..., C, H * r_h, W * r_w)

    Notes
    -----
    .. math:: y[c,\\ r_h i + a,\\ r_w j + b] = x[c\\, r_h r_w + a\\, r_w + b,\\ i,\\ j]

    The channel index is "column, row, depth" (CRD): the output channel ``c`` varies slowest.
    TensorFlow's ``depth_to_space`` and ONNX's default ``DepthToSpace`` use DCR order
    instead, ``x[(a r_w + b) C + c, i, j]``: same idea, channels permuted.

    Examples
    --------
    >>> depth_to_space(torch.arange(4.0).reshape(1, 4, 1, 1), 2)
    tensor([[[[0., 1.],
              [2., 3.]]]])
    """
    rh, rw = _check_block(x, block_size)
    *lead, channels, height, width = x.shape
    check_divisible("channels", channels, rh * rw, f"block_size**2 = {rh * rw}")
    blocks = x.reshape(*lead, channels // (rh * rw), rh, rw, height, width)
    n = len(lead)
    order = [*range(n), n, n + 3, n + 1, n + 4, n + 2]
    return blocks.permute(order).reshape(*lead, channels // (rh * rw), height * rh, width * rw)


def space_to_depth(x: torch.Tensor, block_size: Size2) -> torch.Tensor:
    """Move spatial blocks into channels, the inverse of :func:`depth_to_space`.

    Twin: ``F.pixel_unshuffle`` (CRD order).

    Parameters
    ----------
    x : Tensor, shape (..., C, H, W)
        ``H`` divisible by ``r_h`` and ``W`` by ``r_w``.
    block_size : int or (int, int)

    Returns
    -------
    Tensor, shape (..., C * r_h * r_w, H / r_h, W / r_w)

    Notes
    -----
    .. math:: y[c\\, r_h r_w + a\\, r_w + b,\\ i,\\ j] = x[c,\\ r_h i + a,\\ r_w j + b]

    Examples
    --------
    >>> space_to_depth(torch.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    rh, rw = _check_block(x, block_size)
    *lead, channels, height, width = x.shape
    check_divisible("height", height, rh, f"block_size = {rh}")
    check_divisible("width", width, rw, f"block_size = {rw}")
    blocks = x.reshape(*lead, channels, height // rh, rh, width // rw, rw)
    n = len(lead)
    order = [*range(n), n, n + 2, n + 4, n + 1, n + 3]
    return blocks.permute(order).reshape(*lead, channels * rh * rw, height // rh, width // rw)


def subpixel_weight(weight: torch.Tensor, stride: Size2 = 1, groups: int = 1,
                    dilation: Size2 = 1) -> torch.Tensor:
    """Rearrange a transposed-convolution kernel into the weight of one ordinary convolution.

    Parameters
    ----------
    weight : Tensor, shape (C_in, C_out / groups, kh, kw)
    stride, dilation : int or (int, int)
    groups : int

    Returns
    -------
    Tensor, shape (C_out * s_h * s_w, C_in / groups, K_h, K_w)
        ``K = ceil((d (k - 1) + 1) / s)``: the phase sub-kernels, output channel
        ``(o, a, b)`` holding phase ``(a, b)`` of output channel ``o`` (CRD order, ready for
        :func:`depth_to_space`).

    Notes
    -----
    Dilate the kernel (span ``k_d = d(k-1) + 1``), pad it with zeros at the end to
    ``s K`` taps (the "kernel padding"), and read tap ``s m + a`` as tap ``m`` of phase
    ``a``: output pixel ``s q + a`` of the full transposed convolution is

    .. math:: y[s q + a] = \\sum_{m=0}^{K-1} x[q - m]\\; w_d[s m + a],

    an ordinary (full) convolution of ``x`` with phase sub-kernel ``a``. Flipping each
    sub-kernel turns that convolution into the cross-correlation ``conv2d`` computes.
    The result is a constant of the layer: compute it once.

    Examples
    --------
    The seeds' example: a 2x2 kernel with stride 2 becomes a 1x1 kernel with four times the
    output channels.

    >>> subpixel_weight(torch.randn(8, 3, 2, 2), stride=2).shape
    torch.Size([12, 8, 1, 1])
    """
    check_float_tensor("weight", weight, ndim=4)
    groups = check_int("groups", groups, minimum=1)
    (sh, sw), dilation = pair("stride", stride), pair("dilation", dilation)
    c_in, group_out = weight.shape[:2]
    check_channels_divisible("in_channels (weight.shape[0])", c_in, groups)
    dilated = dilate_kernel(weight, dilation)
    span_h, span_w = dilated.shape[-2:]
    taps_h, taps_w = -(-span_h // sh), -(-span_w // sw)
    padded = F.pad(dilated, (0, taps_w * sw - span_w, 0, taps_h * sh - span_h))
    phases = padded.reshape(groups, c_in // groups, group_out, taps_h, sh, taps_w, sw)
    phases = phases.flip(3, 5).permute(0, 2, 4, 6, 1, 3, 5)  # (g, C_out/g, sh, sw, C_in/g, K, K)
    return phases.reshape(groups * group_out * sh * sw, c_in // groups, taps_h, taps_w)


@dataclass(frozen=True)
class _AxisPhase:
    """One phase ``a`` of one axis: the kernel taps it owns and where its rows start.

    Full-output row ``s q + a`` receives ``x[q - m] w[j]`` for the taps ``j`` with
    ``d j = a + s m``: the taps ``first, first + step, ...`` (``count`` of them), at
    ``m = m0, m0 + dilation, ...`` with ``step = s / gcd(s, d)`` and
    ``dilation = d / gcd(s, d)``. No tap is a zero: neither a padded one nor a dilation hole.
    """

    phase: int
    first: int
    count: int
    step: int
    dilation: int
    m0: int


def _axis_phases(kernel: int, stride: int, dilation: int) -> list[_AxisPhase]:
    """The phases of one axis that own at least one tap."""
    common = math.gcd(stride, dilation)
    phases = []
    for a in range(stride):
        taps = [j for j in range(kernel) if (dilation * j - a) % stride == 0]
        if taps:
            phases.append(_AxisPhase(a, taps[0], len(taps), stride // common,
                                     dilation // common, (dilation * taps[0] - a) // stride))
    return phases


def _phase_rows(out_size: int, phase: _AxisPhase, stride: int, padding: int,
                rows_computed: int) -> tuple[slice, slice]:
    """Output rows of one phase and the rows of its convolution that fill them (one axis).

    Output row ``r`` is full row ``t = r + p``; the phase's rows have ``t = s q + a``, and
    row ``c`` of its (full) convolution holds ``q = c + m0``. Output rows whose ``q`` lies
    outside the ``rows_computed`` rows get no input (they stay zero).
    """
    first = (phase.phase - padding) % stride  # first output row of the phase
    q_first = (first + padding - phase.phase) // stride
    rows = len(range(first, out_size, stride))
    low = max(0, phase.m0 - q_first)
    high = min(rows, phase.m0 + rows_computed - q_first)
    if high <= low:
        return slice(0, 0), slice(0, 0)
    start = q_first + low - phase.m0
    return (slice(first + stride * low, first + stride * high, stride),
            slice(start, start + high - low))


def conv_transpose2d_subpixel(x: torch.Tensor, weight: torch.Tensor,
                              bias: torch.Tensor | None = None, stride: Size2 = 1,
                              padding: Size2 = 0, output_padding: Size2 = 0, groups: int = 1,
                              dilation: Size2 = 1) -> torch.Tensor:
    """Transposed convolution as small convolutions on the input, one per phase, interleaved.

    Same parameters, shapes and result as :func:`conv_transpose2d` (twin:
    ``F.conv_transpose2d``).

    Notes
    -----
    Output pixel ``s q + a`` of the full transposed convolution (one axis, ``d = 1``) is

    .. math:: y[s q + a] = \\sum_{m} x[q - m]\\; w[s m + a],

    an ordinary full convolution of the *small* input with the phase sub-kernel
    ``w[a], w[a + s], ...``. With ``W' = subpixel_weight(weight)`` (the sub-kernels
    zero-padded to ``K = ceil((d(k-1)+1)/s)`` taps) all phases are one convolution,

    .. math::

        y = \\operatorname{crop}_p\\Big(\\operatorname{depth\\_to\\_space}\\big(
        \\operatorname{conv2d}(x,\\ W',\\ \\text{padding}=K-1),\\ s\\big)\\Big),

    the "kernel padding" method (pad a ``[2, 2, In, Out]`` kernel to ``[1, 1, In, 4 Out]``,
    convolve, depth_to_space) and the sub-pixel convolution of Shi et al. (2016). This
    function computes the same numbers without the zeros: the phases whose sub-kernels have
    the same size share one ``conv2d`` (all of them when ``s`` divides ``k``; at most four
    sizes otherwise, e.g. 2x2, 2x1, 1x2 and 1x1 for ``k = 3, s = 2``), each sub-kernel holds
    only real taps (no padding, no dilation holes: with dilation a phase is itself a dilated
    convolution), and each phase is copied once, straight from its convolution into its
    strided place in the cropped output (no separate depth-to-space and crop copies).
    :func:`convnotes.costs.conv_transpose2d_subpixel_mults` counts what it multiplies: about
    ``s^2`` times fewer numbers than :func:`conv_transpose2d_zero_insertion`.

    Because no tap is a padded zero, a NaN or Inf in one input pixel reaches only the
    outputs that depend on it, as in ``F.conv_transpose2d`` (in the zero-padded form an
    ``Inf`` times a padded zero is a NaN in another phase). A non-finite *weight* can still
    reach border outputs through the convolutions' implicit zero padding.

    References
    ----------
    * W. Shi et al., "Real-time single image and video super-resolution using an
      efficient sub-pixel convolutional neural network", CVPR 2016.

    Examples
    --------
    >>> x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 2, 2, 2)
    >>> y = conv_transpose2d_subpixel(x, w, stride=2)
    >>> y.shape, torch.allclose(y, F.conv_transpose2d(x, w, stride=2), atol=1e-5)
    (torch.Size([1, 2, 10, 10]), True)
    """
    geo = _geometry(x, weight, bias, stride, padding, output_padding, groups, dilation)
    x4, _ = as_batch("x", x)
    (out_h, out_w), g = geo.output_hw, geo.groups
    axes = [_axis_phases(k, s, d) for k, s, d in zip(geo.kernel, geo.stride, geo.dilation,
                                                     strict=True)]
    # phases with equal sub-kernel sizes share one convolution: at most 2 sizes per axis
    by_size: dict[tuple[int, int], list[tuple[_AxisPhase, _AxisPhase]]] = {}
    for ph in axes[0]:
        for pw in axes[1]:
            by_size.setdefault((ph.count, pw.count), []).append((ph, pw))
    # (phase_h, phase_w) -> ((output rows, conv rows), (output cols, conv cols))
    places: dict[tuple[_AxisPhase, _AxisPhase], tuple[tuple[slice, slice],
                                                      tuple[slice, slice]]] = {}
    for (th, tw), phases in by_size.items():
        for ph, pw in phases:
            places[ph, pw] = (
                _phase_rows(out_h, ph, geo.stride[0], geo.padding[0],
                            geo.input_hw[0] + ph.dilation * (th - 1)),
                _phase_rows(out_w, pw, geo.stride[1], geo.padding[1],
                            geo.input_hw[1] + pw.dilation * (tw - 1)))
    filled = sum((q.stop - q.start) * (r.stop - r.start) for (_, q), (_, r) in places.values())
    # the phases partition the output: zeros are needed only where no phase writes
    blank = x4.new_empty if filled == out_h * out_w else x4.new_zeros
    out = blank(x4.shape[0], geo.out_channels, out_h, out_w)
    out_groups = out.unflatten(1, (g, -1))  # (N, g, C_out / g, H_out, W_out), a view
    for (th, tw), phases in by_size.items():
        # the phases' sub-kernels, flipped, as one conv2d weight: channels (g, phase, C_out/g)
        kernels = torch.stack([
            _flipped_transposed_kernel(weight[:, :, ph.first::ph.step, pw.first::pw.step], g)
            for ph, pw in phases]).unflatten(1, (g, -1)).transpose(0, 1).flatten(0, 2)
        dilation_hw = (phases[0][0].dilation, phases[0][1].dilation)
        conv = F.conv2d(x4, kernels, padding=(dilation_hw[0] * (th - 1),
                                              dilation_hw[1] * (tw - 1)),
                        dilation=dilation_hw, groups=g).unflatten(1, (g, len(phases), -1))
        for index, phase in enumerate(phases):
            (rows, q), (cols, r) = places[phase]
            out_groups[:, :, :, rows, cols] = conv[:, :, index, :, q, r]
    return _finish(out, bias, geo.batched)


# --------------------------------------------------------------------------------------------
# Resize kernels and the checkerboard artifact
# --------------------------------------------------------------------------------------------


def nearest_kernel(factor: int, channels: int) -> torch.Tensor:
    """Weight that makes ``conv_transpose2d(stride=factor, groups=channels)`` a nearest upsampling.

    Returns
    -------
    Tensor, shape (channels, 1, factor, factor)
        All ones: each input pixel is copied into its ``factor x factor`` block, which is
        ``F.interpolate(mode="nearest", scale_factor=factor)`` exactly.

    Examples
    --------
    >>> nearest_kernel(2, 3).shape
    torch.Size([3, 1, 2, 2])
    """
    factor = check_int("factor", factor, minimum=1)
    channels = check_int("channels", channels, minimum=1)
    return torch.ones(channels, 1, factor, factor)


def bilinear_kernel(factor: int, channels: int) -> torch.Tensor:
    """Weight for bilinear upsampling by ``factor`` as a transposed convolution.

    Use it with ``stride=factor, padding=factor // 2, groups=channels``.

    Parameters
    ----------
    factor : int
        Upsampling factor ``f`` (>= 1).
    channels : int
        Number of channels (each upsampled on its own).

    Returns
    -------
    Tensor, shape (channels, 1, k, k), float32
        ``k = 2 f - f mod 2``; the outer product of the 1-D tent
        :math:`t[a] = 1 - |a - c| / f` with centre :math:`c = (k - 1)/2`.

    Notes
    -----
    Output pixel ``o`` sits at input coordinate :math:`(o + 1/2)/f - 1/2`
    (``align_corners=False``); the tent gives each of the two nearest input pixels the weight
    ``1 - distance``, which is linear interpolation. Away from the borders this equals
    ``F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)``. In the outer
    ``floor(f / 2)`` rows and columns it differs: ``F.interpolate`` clamps the coordinate to the
    image (replicating the edge), while the transposed convolution treats the outside as
    zeros, so the weights there sum to less than 1. This is the initialisation Long et al.
    use for the upsampling layers of FCN (Long et al., 2015).

    References
    ----------
    * J. Long, E. Shelhamer and T. Darrell, "Fully convolutional networks for semantic
      segmentation", CVPR 2015.

    Examples
    --------
    >>> bilinear_kernel(2, 1)[0, 0]
    tensor([[0.0625, 0.1875, 0.1875, 0.0625],
            [0.1875, 0.5625, 0.5625, 0.1875],
            [0.1875, 0.5625, 0.5625, 0.1875],
            [0.0625, 0.1875, 0.1875, 0.0625]])
    """
    factor = check_int("factor", factor, minimum=1)
    channels = check_int("channels", channels, minimum=1)
    size = 2 * factor - factor % 2
    centre = (size - 1) / 2
    tent = 1 - (torch.arange(size, dtype=torch.float64) - centre).abs() / factor
    kernel = torch.outer(tent, tent).to(torch.float32)
    return kernel.expand(channels, 1, size, size).clone()


def checkerboard_score(y: torch.Tensor, stride: Size2, border: int = 0) -> float:
    """How strongly an image varies with the phase ``(row mod s, col mod s)``.

    Parameters
    ----------
    y : Tensor, shape (..., H, W)
        Typically the output of an upsampling layer fed a constant image.
    stride : int or (int, int)
        The period ``s`` of the artifact (the layer's stride).
    border : int
        Rows/columns ignored on each side (edge effects are not checkerboard).

    Returns
    -------
    float
        ``(max - min) / mean(|y|)`` over the ``s_h s_w`` phase means: 0 when every phase has
        the same average, e.g. 0.5 when the brightest phase is half the mean level above the
        darkest.

    Examples
    --------
    >>> checkerboard_score(torch.tensor([[1.0, 3.0], [1.0, 3.0]]), 2)
    1.0
    """
    check_float_tensor("y", y)
    sh, sw = pair("stride", stride)
    border = check_int("border", border, minimum=0)
    if y.ndim < 2:
        raise ValueError(f"y must have at least 2 dimensions (..., H, W), got shape "
                         f"{tuple(y.shape)}")
    inner = y[..., border : y.shape[-2] - border, border : y.shape[-1] - border]
    height, width = inner.shape[-2:]
    if height < sh or width < sw:
        raise ValueError(f"border={border} leaves {tuple(inner.shape[-2:])} pixels, fewer than "
                         f"one period stride={(sh, sw)}")
    scale = inner.abs().mean()
    if float(scale) == 0.0:
        return 0.0
    means = torch.stack([inner[..., a::sh, b::sw].mean() for a in range(sh) for b in range(sw)])
    return float((means.max() - means.min()) / scale)


# --------------------------------------------------------------------------------------------
# Checkerboard-free upsampling layers: resize-convolution and ICNR
# --------------------------------------------------------------------------------------------


def resize_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  scale_factor: int = 2, mode: str = "nearest") -> torch.Tensor:
    """Upsample by interpolation, then run an ordinary "same" convolution (resize-convolution).

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (C_out, C_in, k, k)
        An odd ``k`` (the convolution keeps the size with padding ``(k - 1) / 2``).
    bias : Tensor, shape (C_out,), optional
    scale_factor : int
        Integer upsampling factor ``f >= 1``.
    mode : {"nearest", "bilinear"}
        The interpolation (``F.interpolate``, ``align_corners=False`` for bilinear).

    Returns
    -------
    Tensor, shape (N, C_out, f H, f W) or (C_out, f H, f W)

    Notes
    -----
    .. math:: y = \\operatorname{conv2d}\\big(\\operatorname{resize}_f(x),\\ w,\\
        \\text{padding} = (k - 1)/2\\big)

    The remedy for checkerboard artifacts of Odena et al. (2016): the kernel is applied the
    same way at every output pixel (there are no phases with different sub-kernels), so a
    constant input, which resizes to a constant, gives a constant output away from the
    zero-padded border whatever the weights. Twin: ``nn.Sequential(nn.Upsample(scale_factor, mode),
    nn.Conv2d(C_in, C_out, k, padding=(k - 1) // 2))``.

    References
    ----------
    * A. Odena, V. Dumoulin and C. Olah, "Deconvolution and checkerboard artifacts",
      Distill, 2016.

    Examples
    --------
    >>> y = resize_conv2d(torch.ones(1, 2, 4, 4), torch.ones(3, 2, 3, 3))
    >>> y.shape, bool((y[..., 1:-1, 1:-1] == 18).all())
    (torch.Size([1, 3, 8, 8]), True)
    """
    check_conv_operands(x, weight, bias)
    x4, batched = as_batch("x", x)
    check_conv_weight(weight, bias, x4.shape[1], 1)
    factor = check_int("scale_factor", scale_factor, minimum=1)
    check_one_of("mode", mode, ("nearest", "bilinear"))
    kh, kw = weight.shape[2:]
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"weight must have an odd kernel size (a 'same' convolution), got "
                         f"{kh}x{kw}")
    options = {"align_corners": False} if mode == "bilinear" else {}
    resized = F.interpolate(x4, scale_factor=factor, mode=mode, **options)
    return unbatch(F.conv2d(resized, weight, bias, padding=(kh // 2, kw // 2)), batched)


def icnr(weight: torch.Tensor, block_size: Size2) -> torch.Tensor:
    """ICNR: the weight of a sub-pixel convolution whose phases start out identical.

    Parameters
    ----------
    weight : Tensor, shape (C_out, C_in, kh, kw)
        A freshly initialised kernel for the *low-resolution* output (any init).
    block_size : int or (int, int)
        The upscale factor ``r`` of the ``depth_to_space`` (``F.pixel_shuffle``) that
        follows the convolution.

    Returns
    -------
    Tensor, shape (C_out r_h r_w, C_in, kh, kw)
        Channel ``c r_h r_w + a r_w + b`` (phase ``(a, b)`` of output channel ``c``, CRD
        order) is a copy of ``weight[c]``.

    Notes
    -----
    With ``W_r = icnr(W, r)``,

    .. math:: \\operatorname{depth\\_to\\_space}(\\operatorname{conv2d}(x, W_r), r)
        = \\operatorname{nearest}_r(\\operatorname{conv2d}(x, W)),

    so at initialisation a sub-pixel layer is a convolution followed by nearest-neighbour
    upsampling: no phase differs from another and there is no checkerboard. Training then
    lets the phases drift apart only as far as the loss asks (Aitken et al., 2017, "ICNR":
    initialised to convolution neighbour resize).

    References
    ----------
    * A. Aitken, C. Ledig, L. Theis, J. Caballero, Z. Wang and W. Shi, "Checkerboard
      artifact free sub-pixel convolution: a note on sub-pixel convolution, resize
      convolution and convolution resize", arXiv:1707.02937, 2017.

    Examples
    --------
    >>> icnr(torch.randn(3, 8, 3, 3), 2).shape
    torch.Size([12, 8, 3, 3])
    """
    check_float_tensor("weight", weight, ndim=4)
    rh, rw = pair("block_size", block_size)
    return weight.repeat_interleave(rh * rw, dim=0)
