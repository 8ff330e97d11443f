"""Closed-form costs of one forward pass on one image: parameters and multiplications.

Each count is what the from-scratch code in convnotes actually multiplies (and the tests check
several counts against an instrumented or brute-force count). A multiply-accumulate counts as
one multiplication; additions, bias additions and nonlinearities are not counted.
Sizes are per spatial dimension: an int means a square, a pair means (height, width).

Examples
--------
The depthwise-separable example of the book: a 7x7x3 input, 5x5 output, 128 3x3 filters.

>>> conv2d_mults(7, 7, 3, 128, 3)
86400
>>> depthwise_separable_mults(7, 7, 3, 128, 3)
10275
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._checks import Size2, check_bool, check_channels_divisible, check_int, int_tuple, pair
from .arithmetic import (
    conv_output_shape,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
)

__all__ = [
    "bottleneck_mults",
    "bottleneck_params",
    "conv1d_mults",
    "conv1d_params",
    "conv1x1_mults",
    "conv2d_memory_elements",
    "conv2d_mults",
    "conv2d_params",
    "conv2plus1d_mid_channels",
    "conv2plus1d_mults",
    "conv2plus1d_params",
    "conv3d_mults",
    "conv3d_params",
    "conv_transpose2d_mults",
    "conv_transpose2d_subpixel_mults",
    "conv_transpose2d_zero_insertion_mults",
    "deform_conv2d_mults",
    "deform_conv2d_sampling_mults",
    "depthwise_separable_mults",
    "depthwise_separable_params",
    "flattened_conv_mults",
    "flattened_conv_params",
    "output_hw",
    "pool2d_ops",
    "richardson_lucy_direct_mults",
    "richardson_lucy_ffts",
    "shuffle_unit_mults",
    "shuffle_unit_params",
    "shuffle_unit_widths",
    "spatially_separable_mults",
    "spatially_separable_params",
    "squeeze_excitation_mults",
    "squeeze_excitation_params",
]


def output_hw(
    height: int, width: int, kernel_size: Size2, stride: Size2 = 1, padding: Size2 = 0,
    dilation: Size2 = 1
) -> tuple[int, int]:
    """Output (height, width) of a 2-D convolution (:func:`.arithmetic.conv_output_size`)."""
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    kh, kw = pair("kernel_size", kernel_size)
    sh, sw = pair("stride", stride)
    ph, pw = pair("padding", padding, minimum=0)
    dh, dw = pair("dilation", dilation)
    return (
        conv_output_size(height, kh, sh, ph, dh),
        conv_output_size(width, kw, sw, pw, dw),
    )


def conv2d_params(
    in_channels: int, out_channels: int, kernel_size: Size2, groups: int = 1, bias: bool = True
) -> int:
    """Parameters of a ``Conv2d``: ``C_out * (C_in / g) * kh * kw`` (+ ``C_out`` bias terms).

    >>> conv2d_params(64, 64, 3, bias=False), conv2d_params(64, 64, 3, groups=4, bias=False)
    (36864, 9216)
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels", out_channels, groups)
    bias = check_bool("bias", bias)
    kh, kw = pair("kernel_size", kernel_size)
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def conv2d_mults(
    height: int,
    width: int,
    in_channels: int,
    out_channels: int,
    kernel_size: Size2,
    stride: Size2 = 1,
    padding: Size2 = 0,
    dilation: Size2 = 1,
    groups: int = 1,
) -> int:
    """Multiplications of a 2-D convolution on one (C_in, H, W) image.

    .. math:: H_{out} W_{out} \\cdot C_{out} \\cdot (C_{in} / g) \\cdot k_h k_w

    Dilation changes the output size, not the work per output; zero padding is counted as
    multiplied (the im2col + GEMM implementation multiplies the zeros too).
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels", out_channels, groups)
    kh, kw = pair("kernel_size", kernel_size)
    oh, ow = output_hw(height, width, kernel_size, stride, padding, dilation)
    return oh * ow * out_channels * (in_channels // groups) * kh * kw


def depthwise_separable_mults(
    height: int,
    width: int,
    in_channels: int,
    out_channels: int,
    kernel_size: Size2,
    stride: Size2 = 1,
    padding: Size2 = 0,
    multiplier: int = 1,
) -> int:
    """Multiplications of a depthwise ``k x k`` convolution followed by a pointwise ``1 x 1``.

    .. math:: H_{out} W_{out} \\left( m C_{in} k_h k_w + m C_{in} C_{out} \\right)

    The ratio to a full convolution is :math:`1/C_{out} + 1/(k_h k_w)` for ``m = 1``.
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    multiplier = check_int("multiplier", multiplier, minimum=1)
    kh, kw = pair("kernel_size", kernel_size)
    oh, ow = output_hw(height, width, kernel_size, stride, padding)
    mid = multiplier * in_channels
    return oh * ow * (mid * kh * kw + mid * out_channels)


# --- chapter sections: each chapter adds its counts below its own marker, and names them in
# --- __all__. Keep one function per layer kind; build on conv2d_mults / output_hw.

# == deconvolution ==


def richardson_lucy_ffts(num_iter: int, reuse_spectra: bool = True) -> int:
    """Real 2-D FFTs (forward or inverse, all of one padded size) of Richardson–Lucy.

    Each iteration convolves twice, with the PSF and with its mirror. A convolution that
    transforms its kernel every time (``scipy.signal.fftconvolve``, inside ``skimage``) costs
    three FFTs; with both PSF spectra computed once
    (``convnotes.deconvolution.richardson_lucy``) it costs two, plus two at the start:

    .. math:: 6n \\quad\\text{vs}\\quad 4n + 2

    >>> richardson_lucy_ffts(30), richardson_lucy_ffts(30, reuse_spectra=False)
    (122, 180)
    """
    num_iter = check_int("num_iter", num_iter, minimum=1)
    reuse_spectra = check_bool("reuse_spectra", reuse_spectra)
    return 4 * num_iter + 2 if reuse_spectra else 6 * num_iter


def richardson_lucy_direct_mults(height: int, width: int, kernel_size: Size2, num_iter: int) -> int:
    """Multiplications of Richardson–Lucy with direct (sliding-window) ``same`` convolutions.

    .. math:: 2 n \\cdot H W \\cdot k_h k_w

    Two convolutions per iteration, each multiplying every kernel tap at every pixel (zero
    padding counted, as in :func:`conv2d_mults`).

    >>> richardson_lucy_direct_mults(512, 512, 9, 30)
    1274019840
    """
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    num_iter = check_int("num_iter", num_iter, minimum=1)
    kh, kw = pair("kernel_size", kernel_size)
    return 2 * num_iter * height * width * kh * kw


# == transposed / dilated ==


def _transpose_geometry(height: int, width: int, in_channels: int, out_channels: int,
                        kernel_size: Size2, stride: Size2, padding: Size2,
                        output_padding: Size2, groups: int, dilation: Size2
                        ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int],
                                   tuple[int, int], tuple[int, int], int]:
    """Checked pairs and sizes shared by the transposed-convolution counts."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels", out_channels, groups)
    kernel, strides = pair("kernel_size", kernel_size), pair("stride", stride)
    paddings = pair("padding", padding, minimum=0)
    extras = pair("output_padding", output_padding, minimum=0)
    dilations = pair("dilation", dilation)
    sizes = (check_int("height", height, minimum=1), check_int("width", width, minimum=1))
    outputs = (
        conv_transpose_output_size(sizes[0], kernel[0], strides[0], paddings[0], extras[0],
                                   dilations[0]),
        conv_transpose_output_size(sizes[1], kernel[1], strides[1], paddings[1], extras[1],
                                   dilations[1]),
    )
    return sizes, outputs, kernel, strides, dilations, in_channels // groups


def conv_transpose2d_mults(height: int, width: int, in_channels: int, out_channels: int,
                           kernel_size: Size2, stride: Size2 = 1, padding: Size2 = 0,
                           output_padding: Size2 = 0, groups: int = 1,
                           dilation: Size2 = 1) -> int:
    """Multiplications of a transposed convolution computed directly (GEMM + col2im).

    .. math:: H W \\cdot C_{in} \\cdot (C_{out} / g) \\cdot k_h k_w

    Each input pixel multiplies every kernel tap once (``convnotes.transposed.conv_transpose2d``);
    ``height, width`` are the *input* sizes.

    >>> conv_transpose2d_mults(8, 8, 16, 16, 4, stride=2, padding=1)
    262144
    """
    (h, w), _, (kh, kw), _, _, _ = _transpose_geometry(
        height, width, in_channels, out_channels, kernel_size, stride, padding, output_padding,
        groups, dilation)
    return h * w * in_channels * (out_channels // groups) * kh * kw


def conv_transpose2d_zero_insertion_mults(height: int, width: int, in_channels: int,
                                          out_channels: int, kernel_size: Size2,
                                          stride: Size2 = 1, padding: Size2 = 0,
                                          output_padding: Size2 = 0, groups: int = 1,
                                          dilation: Size2 = 1) -> int:
    """Multiplications of the zero-insertion method: a stride-1 convolution on the stuffed input.

    .. math:: H_{out} W_{out} \\cdot C_{out} \\cdot (C_{in} / g) \\cdot k_h k_w

    Every output pixel multiplies all ``k_h k_w`` taps, although only about ``1/s^2`` of them
    meet a real input pixel.

    >>> conv_transpose2d_zero_insertion_mults(8, 8, 16, 16, 4, stride=2, padding=1)
    1048576
    """
    _, (oh, ow), (kh, kw), _, _, group_in = _transpose_geometry(
        height, width, in_channels, out_channels, kernel_size, stride, padding, output_padding,
        groups, dilation)
    return oh * ow * out_channels * group_in * kh * kw


def conv_transpose2d_subpixel_mults(height: int, width: int, in_channels: int,
                                    out_channels: int, kernel_size: Size2, stride: Size2 = 1,
                                    padding: Size2 = 0,
                                    output_padding: Size2 = 0, groups: int = 1,
                                    dilation: Size2 = 1) -> int:
    """Multiplications of the sub-pixel method (one small convolution per phase size).

    Phase ``a`` of an axis owns the taps ``j`` with ``d j = a (mod s)``: ``T_a`` of them,
    neither zero-padded nor dilation holes, ``d' = d / gcd(s, d)`` apart in the phase's own
    convolution, which has padding ``d' (T_a - 1)`` on the ``H x W`` input
    (``convnotes.transposed.conv_transpose2d_subpixel``):

    .. math:: \\sum_{a < s_h} \\sum_{b < s_w} (H + d'_h (T_a - 1))(W + d'_w (T_b - 1))
        \\cdot C_{out} \\cdot (C_{in} / g) \\cdot T_a T_b

    With ``d = 1`` and ``s`` dividing ``k`` every phase has ``K = k / s`` taps and this is
    ``(H + K - 1)(W + K - 1) s^2 C_out (C_in / g) K^2``, the count of the "kernel padding"
    form (one convolution with ``s^2 C_out`` channels and zero-padded ``K x K`` sub-kernels);
    otherwise that form would multiply zeros, which this count (and the code) does not.

    >>> conv_transpose2d_subpixel_mults(8, 8, 16, 16, 4, stride=2, padding=1)
    331776
    >>> conv_transpose2d_subpixel_mults(8, 8, 16, 16, 3, stride=2, padding=1)
    173056
    """
    (h, w), _, kernel, strides, dilations, group_in = _transpose_geometry(
        height, width, in_channels, out_channels, kernel_size, stride, padding, output_padding,
        groups, dilation)
    per_axis = []
    for size, k, s, d in zip((h, w), kernel, strides, dilations, strict=True):
        taps = [sum((d * j - a) % s == 0 for j in range(k)) for a in range(s)]
        spacing = d // math.gcd(s, d)
        per_axis.append([(size + spacing * (t - 1), t) for t in taps if t > 0])
    return sum(rows * cols * out_channels * group_in * th * tw
               for rows, th in per_axis[0] for cols, tw in per_axis[1])


# == grouped / pointwise ==


def conv1x1_mults(height: int, width: int, in_channels: int, out_channels: int,
                  groups: int = 1) -> int:
    """Multiplications of a 1x1 (pointwise) convolution: :math:`H W C_{in} C_{out} / g`.

    The same count as ``conv2d_mults(height, width, in_channels, out_channels, 1, groups=g)``.

    >>> conv1x1_mults(28, 28, 192, 16)
    2408448
    """
    return conv2d_mults(height, width, in_channels, out_channels, 1, groups=groups)


def conv2d_memory_elements(height: int, width: int, in_channels: int, out_channels: int,
                           kernel_size: Size2, stride: Size2 = 1, padding: Size2 = 0,
                           dilation: Size2 = 1, groups: int = 1) -> int:
    """Numbers a convolution must read or write at least once: input + output + weights.

    .. math:: C_{in} H W + C_{out} H_{out} W_{out} + C_{out} (C_{in}/g) k_h k_w

    Ma et al. call this the *memory access cost* (MAC) of a layer. Grouping divides the
    multiplications by ``g`` but leaves the two feature maps, so the ratio of
    multiplications to numbers moved (the arithmetic intensity) falls with ``g`` and the layer
    becomes memory-bound.

    >>> conv2d_memory_elements(56, 56, 128, 128, 3, padding=1)
    950272
    >>> conv2d_memory_elements(56, 56, 128, 128, 3, padding=1, groups=128)
    803968
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    oh, ow = output_hw(height, width, kernel_size, stride, padding, dilation)
    weights = conv2d_params(in_channels, out_channels, kernel_size, groups=groups, bias=False)
    return in_channels * height * width + out_channels * oh * ow + weights


def _check_batch_norm(batch_norm: bool) -> None:
    check_bool("batch_norm", batch_norm)


def bottleneck_params(channels: int, bottleneck_channels: int, groups: int = 1,
                      batch_norm: bool = True) -> int:
    """Parameters of a ResNet bottleneck: 1x1 ``c -> m``, 3x3 ``m -> m``, 1x1 ``m -> c``.

    Convolutions without bias, each followed by a batch norm (2 parameters per channel) when
    ``batch_norm``; ``groups`` groups the 3x3 layer (ResNeXt).

    .. math:: 2 c m + 9 m^2 / g \\; \\big(+\\, 2 (2 m + c)\\big)

    >>> bottleneck_params(256, 64, batch_norm=False)
    69632
    """
    channels = check_int("channels", channels, minimum=1)
    mid = check_int("bottleneck_channels", bottleneck_channels, minimum=1)
    _check_batch_norm(batch_norm)
    weights = (conv2d_params(channels, mid, 1, bias=False)
               + conv2d_params(mid, mid, 3, groups=groups, bias=False)
               + conv2d_params(mid, channels, 1, bias=False))
    return weights + (2 * (2 * mid + channels) if batch_norm else 0)


def bottleneck_mults(height: int, width: int, channels: int, bottleneck_channels: int,
                     groups: int = 1) -> int:
    """Multiplications of a ResNet bottleneck (stride 1, 3x3 with padding 1) on one image.

    .. math:: h w \\left( 2 c m + 9 m^2 / g \\right)

    >>> bottleneck_mults(56, 56, 256, 64)
    218365952
    """
    mid = check_int("bottleneck_channels", bottleneck_channels, minimum=1)
    return (conv1x1_mults(height, width, channels, mid)
            + conv2d_mults(height, width, mid, mid, 3, padding=1, groups=groups)
            + conv1x1_mults(height, width, mid, channels))


def shuffle_unit_widths(in_channels: int, out_channels: int, groups: int = 3, stride: int = 1,
                        bottleneck_channels: int | None = None,
                        group_first_conv: bool = True) -> tuple[int, int, int, int, int]:
    """Checked widths ``(C_in, m, C_branch, g_first, g)`` of a ShuffleNet unit.

    The one place that validates the arguments of :class:`convnotes.grouped.ShuffleUnit`
    (which builds its layers from these widths) and of its counts below: ``m`` is the
    bottleneck width (``C_out // 4`` by default), ``C_branch`` the residual branch's output
    (``C_out``, or ``C_out - C_in`` for stride 2, where the input is concatenated) and
    ``g_first`` the groups of the first 1x1 layer.

    >>> shuffle_unit_widths(240, 240, groups=3)
    (240, 60, 240, 3, 3)
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    if stride not in (1, 2):
        raise ValueError(f"stride must be one of (1, 2), got {stride}")
    group_first_conv = check_bool("group_first_conv", group_first_conv)
    if stride == 1 and out_channels != in_channels:
        raise ValueError(f"out_channels must equal in_channels={in_channels} for stride=1 "
                         f"(residual addition), got {out_channels}")
    if stride == 2 and out_channels <= in_channels:
        raise ValueError(f"out_channels must be larger than in_channels={in_channels} for "
                         f"stride=2 (the input is concatenated), got {out_channels}")
    mid = out_channels // 4 if bottleneck_channels is None else bottleneck_channels
    mid = check_int("bottleneck_channels", mid, minimum=1)
    branch = out_channels - in_channels if stride == 2 else out_channels
    first_groups = groups if group_first_conv else 1
    check_channels_divisible("in_channels", in_channels, first_groups)
    check_channels_divisible("bottleneck_channels", mid, groups)
    check_channels_divisible("branch channels (out_channels - in_channels for stride=2)",
                             branch, groups)
    return in_channels, mid, branch, first_groups, groups


def shuffle_unit_params(in_channels: int, out_channels: int, groups: int = 3, stride: int = 1,
                        bottleneck_channels: int | None = None, group_first_conv: bool = True,
                        batch_norm: bool = True) -> int:
    """Parameters of :class:`convnotes.grouped.ShuffleUnit` (same arguments).

    Grouped 1x1 ``c -> m``, depthwise 3x3 on ``m``, grouped 1x1 ``m -> c_b`` (``c_b`` is
    ``out_channels``, or ``out_channels - in_channels`` for stride 2), no biases, and a batch
    norm after each when ``batch_norm``:

    .. math:: c m / g + 9 m + m c_b / g \\; \\big(+\\, 2 (2 m + c_b)\\big)

    >>> shuffle_unit_params(240, 240, groups=3, batch_norm=False)
    10140
    """
    _check_batch_norm(batch_norm)
    c_in, mid, branch, first_groups, groups = shuffle_unit_widths(
        in_channels, out_channels, groups, stride, bottleneck_channels, group_first_conv)
    weights = (conv2d_params(c_in, mid, 1, groups=first_groups, bias=False)
               + conv2d_params(mid, mid, 3, groups=mid, bias=False)
               + conv2d_params(mid, branch, 1, groups=groups, bias=False))
    return weights + (2 * (2 * mid + branch) if batch_norm else 0)


def shuffle_unit_mults(height: int, width: int, in_channels: int, out_channels: int,
                       groups: int = 3, stride: int = 1, bottleneck_channels: int | None = None,
                       group_first_conv: bool = True) -> int:
    """Multiplications of :class:`convnotes.grouped.ShuffleUnit` on one ``(C_in, H, W)`` image.

    The three convolutions only (the shuffle moves data, the average pool and the residual
    addition only add). At stride 1 with ``c`` channels this is the paper's

    .. math:: h w \\left( 2 c m / g + 9 m \\right).

    >>> shuffle_unit_mults(28, 28, 240, 240, groups=3)
    7949760
    """
    c_in, mid, branch, first_groups, groups = shuffle_unit_widths(
        in_channels, out_channels, groups, stride, bottleneck_channels, group_first_conv)
    oh, ow = output_hw(height, width, 3, stride, 1)
    return (conv1x1_mults(height, width, c_in, mid, groups=first_groups)
            + conv2d_mults(height, width, mid, mid, 3, stride=stride, padding=1, groups=mid)
            + conv1x1_mults(oh, ow, mid, branch, groups=groups))


def _squeeze_width(channels: int, reduction: int) -> tuple[int, int]:
    channels = check_int("channels", channels, minimum=1)
    reduction = check_int("reduction", reduction, minimum=1)
    if reduction > channels:
        raise ValueError(f"reduction must be at most channels={channels}, got {reduction}")
    return channels, channels // reduction


def squeeze_excitation_params(channels: int, reduction: int = 16, bias: bool = True) -> int:
    """Parameters of :class:`convnotes.pointwise.SqueezeExcitation`: two linear layers.

    .. math:: 2 C \\lfloor C / r \\rfloor \\; \\big(+\\, \\lfloor C / r \\rfloor + C\\big)

    Hu et al. quote the weights alone (``bias=False``): :math:`2 C^2 / r`.

    >>> squeeze_excitation_params(256, 16), squeeze_excitation_params(256, 16, bias=False)
    (8464, 8192)
    """
    channels, hidden = _squeeze_width(channels, reduction)
    bias = check_bool("bias", bias)
    return 2 * channels * hidden + ((hidden + channels) if bias else 0)


def squeeze_excitation_mults(height: int, width: int, channels: int,
                             reduction: int = 16) -> int:
    """Multiplications of a squeeze-and-excitation block on one ``(C, H, W)`` map.

    The two linear layers and the channel scaling (the pooling only adds; its ``C``
    divisions are not counted):

    .. math:: 2 C \\lfloor C / r \\rfloor + C H W

    >>> squeeze_excitation_mults(56, 56, 256, 16)
    811008
    """
    channels, hidden = _squeeze_width(channels, reduction)
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    return 2 * channels * hidden + channels * height * width

# == separable ==


def spatially_separable_mults(height: int, width: int, kernel_size: Size2, *, in_channels: int = 1,
                              out_channels: int = 1, stride: Size2 = 1, padding: Size2 = 0,
                              dilation: Size2 = 1,
                              groups: int = 1) -> int:
    """Multiplications of a spatially separable convolution: a vertical, then a horizontal pass.

    The vertical ``kh x 1`` pass keeps the full width and filters every input channel for
    each of the ``C_out / g`` kernels that read it; the horizontal ``1 x kw`` pass sums the
    ``C_in / g`` rows of each output channel (``convnotes.separable.separable_conv2d``):

    .. math::

        H_{out} W \\cdot C_{in} (C_{out}/g) \\cdot k_h
        + H_{out} W_{out} \\cdot C_{out} (C_{in}/g) \\cdot k_w

    One channel, ``N x N`` image, ``m x m`` kernel, valid: :math:`(N - m + 1)(2N - m + 1)\\, m`
    against :math:`(N - m + 1)^2 m^2` directly (:func:`conv2d_mults`); the ratio tends to
    :math:`2/m`.

    >>> spatially_separable_mults(5, 5, 3), conv2d_mults(5, 5, 1, 1, 3)   # 45 + 27 vs 81
    (72, 81)
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels", out_channels, groups)
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    kh, kw = pair("kernel_size", kernel_size)
    out_h, out_w = output_hw(height, width, kernel_size, stride, padding, dilation)
    pairs = in_channels * (out_channels // groups)  # (kernel, input channel) pairs
    return out_h * width * pairs * kh + out_h * out_w * pairs * kw


def spatially_separable_params(in_channels: int, out_channels: int, kernel_size: Size2,
                               groups: int = 1, bias: bool = True) -> int:
    """Parameters of a spatially separable convolution: ``kh + kw`` per kernel instead of
    ``kh * kw``.

    .. math:: C_{out} (C_{in}/g)(k_h + k_w) \\; (+\\, C_{out})

    >>> spatially_separable_params(1, 1, 3, bias=False), conv2d_params(1, 1, 3, bias=False)
    (6, 9)
    """
    full = conv2d_params(in_channels, out_channels, kernel_size, groups=groups, bias=bias)
    kh, kw = pair("kernel_size", kernel_size)
    kernels = out_channels * (in_channels // groups)
    return full - kernels * kh * kw + kernels * (kh + kw)


def depthwise_separable_params(in_channels: int, out_channels: int, kernel_size: Size2,
                               multiplier: int = 1, bias: bool = True) -> int:
    """Parameters of a depthwise ``k x k`` + pointwise ``1 x 1`` pair (bias on the pointwise).

    .. math:: m C_{in} k_h k_w + m C_{in} C_{out} \\; (+\\, C_{out})

    >>> depthwise_separable_params(3, 128, 3, bias=False), conv2d_params(3, 128, 3, bias=False)
    (411, 3456)
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    multiplier = check_int("multiplier", multiplier, minimum=1)
    mid = multiplier * in_channels
    return (conv2d_params(in_channels, mid, kernel_size, groups=in_channels, bias=False)
            + conv2d_params(mid, out_channels, 1, bias=bias))


def flattened_conv_mults(height: int, width: int, in_channels: int, out_channels: int,
                         kernel_size: Size2, stride: Size2 = 1, padding: Size2 = 0,
                         dilation: Size2 = 1) -> int:
    """Multiplications of a flattened convolution (Jin et al.): lateral, vertical, horizontal.

    A ``1 x 1`` convolution ``C_in -> C_out`` on the ``H x W`` input, then a ``kh x 1`` and a
    ``1 x kw`` depthwise pass (``convnotes.separable.flattened_conv2d``):

    .. math::

        H W \\cdot C_{in} C_{out} + H_{out} W \\cdot C_{out} k_h
        + H_{out} W_{out} \\cdot C_{out} k_w

    >>> flattened_conv_mults(7, 7, 3, 128, 3)   # 18,816 + 13,440 + 9,600
    41856
    """
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    kh, kw = pair("kernel_size", kernel_size)
    out_h, out_w = output_hw(height, width, kernel_size, stride, padding, dilation)
    lateral = height * width * in_channels * out_channels
    return lateral + out_h * width * out_channels * kh + out_h * out_w * out_channels * kw


def flattened_conv_params(in_channels: int, out_channels: int, kernel_size: Size2,
                          bias: bool = True) -> int:
    """Parameters of a flattened convolution: ``C_in + kh + kw`` per output channel.

    .. math:: C_{out} (C_{in} + k_h + k_w) \\; (+\\, C_{out})

    >>> flattened_conv_params(3, 128, 3, bias=False)
    1152
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    bias = check_bool("bias", bias)
    kh, kw = pair("kernel_size", kernel_size)
    return out_channels * (in_channels + kh + kw) + (out_channels if bias else 0)


# == deformable / pooling ==


def deform_conv2d_sampling_mults(out_height: int, out_width: int, in_channels: int,
                                 kernel_size: Size2, offset_groups: int = 1,
                                 modulated: bool = False) -> int:
    """Multiplications of the bilinear sampling inside a deformable convolution (one image).

    .. math:: H_{out} W_{out} \\, k_h k_w \\left(4 C_{in} + 4 G + [\\text{mask}]\\, C_{in}\\right)

    Each of the ``H_out W_out k_h k_w`` sample points of an offset group ``G`` needs four corner
    weights (one product of two 1-D weights each), then every input channel multiplies its
    four corner values by them (the bilinear rule of ``F.grid_sample``, which
    ``convnotes.deformable`` calls); with a mask every sampled value is multiplied by its
    mask entry. Index arithmetic (the normalisation of the coordinates) and the
    comparisons that zero corners outside the image are not counted.

    >>> deform_conv2d_sampling_mults(32, 32, 64, 3)
    2396160
    """
    out_height = check_int("out_height", out_height, minimum=1)
    out_width = check_int("out_width", out_width, minimum=1)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    offset_groups = check_int("offset_groups", offset_groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, offset_groups)
    modulated = check_bool("modulated", modulated)
    kh, kw = pair("kernel_size", kernel_size)
    per_point = 4 * in_channels + 4 * offset_groups + (in_channels if modulated else 0)
    return out_height * out_width * kh * kw * per_point


def deform_conv2d_mults(height: int, width: int, in_channels: int, out_channels: int,
                        kernel_size: Size2, stride: Size2 = 1, padding: Size2 = 0,
                        dilation: Size2 = 1, groups: int = 1,
                        offset_groups: int = 1, modulated: bool = False,
                        predictor: bool = False) -> int:
    """Multiplications of a deformable convolution on one (C_in, H, W) image.

    Bilinear sampling (:func:`deform_conv2d_sampling_mults`) plus the GEMM of an ordinary
    convolution with the same output size, :math:`H_{out} W_{out} C_{out} (C_{in}/g) k_h k_w`;
    with ``predictor=True`` also the offset (and mask) predicting convolution of
    ``convnotes.deformable.DeformConv2d``, a ``k_h x k_w`` convolution with
    ``(2 or 3) G k_h k_w`` output channels (the sigmoid of the mask is not counted).

    >>> deform_conv2d_mults(32, 32, 64, 64, 3, padding=1)
    40144896
    >>> deform_conv2d_mults(32, 32, 64, 64, 3, padding=1, predictor=True)
    50761728
    """
    predictor = check_bool("predictor", predictor)
    out_h, out_w = output_hw(height, width, kernel_size, stride, padding, dilation)
    total = deform_conv2d_sampling_mults(out_h, out_w, in_channels, kernel_size, offset_groups,
                                         modulated)
    total += conv2d_mults(height, width, in_channels, out_channels, kernel_size, stride,
                          padding, dilation, groups)
    if predictor:
        kh, kw = pair("kernel_size", kernel_size)
        predicted = (3 if modulated else 2) * offset_groups * kh * kw
        total += conv2d_mults(height, width, in_channels, predicted, kernel_size, stride,
                              padding, dilation)
    return total


def pool2d_ops(height: int, width: int, channels: int, kernel_size: Size2,
               stride: Size2 | None = None, padding: Size2 = 0,
               dilation: Size2 = 1, ceil_mode: bool = False) -> int:
    """Reduction steps of a max, min or average pooling on one (C, H, W) image.

    .. math:: C \\cdot H_{out} W_{out} \\cdot (k_h k_w - 1)

    A window of ``k_h k_w`` values takes ``k_h k_w - 1`` comparisons (max/min, the ``max``
    of ``convnotes.pooling.max_pool2d``) or additions (average). Pooling has no parameters
    and multiplies nothing, apart from the one division per output of an average (not
    counted, like a bias). Output sizes follow ``pool_output_size`` (stride defaults to the
    kernel size).

    >>> pool2d_ops(224, 224, 64, 2)                       # 2x2 max pool of a 64x224x224 map
    2408448
    >>> conv2d_mults(224, 224, 64, 64, 2, stride=2) / pool2d_ops(224, 224, 64, 2)   # 4C/3
    85.33333333333333
    """
    height = check_int("height", height, minimum=1)
    width = check_int("width", width, minimum=1)
    channels = check_int("channels", channels, minimum=1)
    kh, kw = pair("kernel_size", kernel_size)
    sh, sw = (kh, kw) if stride is None else pair("stride", stride)
    ph, pw = pair("padding", padding, minimum=0)
    dh, dw = pair("dilation", dilation)
    out_h = pool_output_size(height, kh, sh, ph, dh, ceil_mode)
    out_w = pool_output_size(width, kw, sw, pw, dw, ceil_mode)
    return channels * out_h * out_w * (kh * kw - 1)


# == 1-D and 3-D convolution (chapter 10) ==


def _check_layer_channels(in_channels: int, out_channels: int, groups: int) -> tuple[int, int, int]:
    """Checked (in_channels, out_channels, groups), both channel counts divisible by groups."""
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    groups = check_int("groups", groups, minimum=1)
    check_channels_divisible("in_channels", in_channels, groups)
    check_channels_divisible("out_channels", out_channels, groups)
    return in_channels, out_channels, groups


def _convnd_params(axes: int, in_channels: int, out_channels: int,
                   kernel_size: int | Sequence[int], groups: int, bias: bool) -> int:
    """Parameters of an ``axes``-D convolution: ``C_out (C_in / g) prod(k)`` (+ ``C_out``)."""
    in_channels, out_channels, groups = _check_layer_channels(in_channels, out_channels, groups)
    bias = check_bool("bias", bias)
    taps = math.prod(int_tuple("kernel_size", kernel_size, axes))
    return out_channels * (in_channels // groups) * taps + (out_channels if bias else 0)


def _convnd_mults(size: Sequence[int], in_channels: int, out_channels: int,
                  kernel_size: int | Sequence[int], stride: int | Sequence[int],
                  padding: int | Sequence[int], dilation: int | Sequence[int],
                  groups: int) -> int:
    """Multiplications of a convolution over ``len(size)`` axes on one input."""
    in_channels, out_channels, groups = _check_layer_channels(in_channels, out_channels, groups)
    taps = math.prod(int_tuple("kernel_size", kernel_size, len(size)))
    positions = math.prod(conv_output_shape(size, kernel_size, stride, padding, dilation))
    return positions * out_channels * (in_channels // groups) * taps


def conv1d_params(in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                  groups: int = 1, bias: bool = True) -> int:
    """Parameters of a ``Conv1d``: ``C_out * (C_in / g) * k`` (+ ``C_out`` bias terms).

    >>> conv1d_params(64, 64, 3, bias=False)
    12288
    """
    return _convnd_params(1, in_channels, out_channels, kernel_size, groups, bias)


def conv1d_mults(length: int, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                 padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                 groups: int = 1) -> int:
    """Multiplications of a 1-D convolution on one (C_in, L) sequence.

    .. math:: L_{out} \\cdot C_{out} \\cdot (C_{in} / g) \\cdot k

    Zero padding is counted as multiplied, as in :func:`conv2d_mults`. A causal layer
    (``convnotes.dimensions.causal_conv1d``: :math:`d(k - 1)` zeros on the left only) has
    :math:`L_{out} = L`; count it as ``conv1d_mults(length + d * (k - 1), ...)`` without
    padding.

    >>> conv1d_mults(16000, 64, 64, 3, padding=1)
    196608000
    """
    length = check_int("length", length, minimum=1)
    return _convnd_mults((length,), in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups)


def conv3d_params(in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                  groups: int = 1, bias: bool = True) -> int:
    """Parameters of a ``Conv3d``: ``C_out * (C_in / g) * k_t * k_h * k_w`` (+ ``C_out``).

    >>> conv3d_params(64, 64, 3, bias=False), conv3d_params(64, 64, (1, 3, 3), bias=False)
    (110592, 36864)
    """
    return _convnd_params(3, in_channels, out_channels, kernel_size, groups, bias)


def conv3d_mults(depth: int, height: int, width: int, in_channels: int, out_channels: int,
                 kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                 padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                 groups: int = 1) -> int:
    """Multiplications of a 3-D convolution on one (C_in, D, H, W) volume or clip.

    .. math:: D_{out} H_{out} W_{out} \\cdot C_{out} \\cdot (C_{in} / g) \\cdot k_t k_h k_w

    ``depth`` is the first spatial axis: frames of a clip, slices of a scan.

    >>> conv3d_mults(16, 112, 112, 64, 64, 3, padding=1)
    22196256768
    """
    sizes = tuple(check_int(name, value, minimum=1)
                  for name, value in (("depth", depth), ("height", height), ("width", width)))
    return _convnd_mults(sizes, in_channels, out_channels, kernel_size, stride, padding,
                         dilation, groups)


def conv2plus1d_mid_channels(in_channels: int, out_channels: int,
                             kernel_size: int | Sequence[int] = 3) -> int:
    """Width ``M`` of a (2+1)D block by Tran et al.'s parameter-matching rule.

    .. math::

        M = \\left\\lfloor \\frac{t d^2 N_{in} N_{out}}{d^2 N_{in} + t N_{out}}
        \\right\\rfloor

    A ``(1, d, d)`` convolution from :math:`N_{in}` to :math:`M` channels followed by a
    ``(t, 1, 1)`` one to :math:`N_{out}` has :math:`M (d^2 N_{in} + t N_{out})` weights, at
    most the :math:`t d^2 N_{in} N_{out}` of the full ``t x d x d`` convolution and fewer by
    less than :math:`d^2 N_{in} + t N_{out}` (the floor).

    Parameters
    ----------
    kernel_size : int or (int, int)
        ``(t, d)``: temporal and spatial kernel size (an int means both).

    Raises
    ------
    ValueError
        When the rule gives ``M = 0`` (e.g. one channel in and out with ``t = 1``).

    References
    ----------
    D. Tran, H. Wang, L. Torresani, J. Ray, Y. LeCun and M. Paluri, "A closer look at
    spatiotemporal convolutions for action recognition", CVPR 2018, section 3.5.

    >>> conv2plus1d_mid_channels(64, 64, 3), conv2plus1d_mid_channels(3, 64, (3, 7))
    (144, 83)
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    out_channels = check_int("out_channels", out_channels, minimum=1)
    t, d = pair("kernel_size", kernel_size)
    mid = (t * d * d * in_channels * out_channels) // (d * d * in_channels + t * out_channels)
    if mid < 1:
        raise ValueError(f"the parameter-matching rule gives mid_channels = 0 for in_channels="
                         f"{in_channels}, out_channels={out_channels}, kernel_size={(t, d)}; "
                         f"pass mid_channels explicitly")
    return mid


def _conv2plus1d_width(in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                       mid_channels: int | None) -> int:
    """``mid_channels`` checked, or the parameter-matching default."""
    if mid_channels is None:
        return conv2plus1d_mid_channels(in_channels, out_channels, kernel_size)
    return check_int("mid_channels", mid_channels, minimum=1)


def conv2plus1d_params(in_channels: int, out_channels: int,
                       kernel_size: int | Sequence[int] = 3, mid_channels: int | None = None,
                       bias: bool = True) -> int:
    """Parameters of a (2+1)D block: ``M d^2 N_in + N_out t M`` (+ ``M + N_out`` biases).

    >>> conv2plus1d_params(64, 64, 3, bias=False) == conv3d_params(64, 64, 3, bias=False)
    True
    """
    mid = _conv2plus1d_width(in_channels, out_channels, kernel_size, mid_channels)
    t, d = pair("kernel_size", kernel_size)
    return (_convnd_params(3, in_channels, mid, (1, d, d), 1, bias)
            + _convnd_params(3, mid, out_channels, (t, 1, 1), 1, bias))


def conv2plus1d_mults(depth: int, height: int, width: int, in_channels: int, out_channels: int,
                      kernel_size: int | Sequence[int] = 3, mid_channels: int | None = None,
                      stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0) -> int:
    """Multiplications of a (2+1)D block on one (C_in, D, H, W) clip.

    The spatial ``(1, d, d)`` convolution (stride and padding ``(1, s, s)``, ``(0, p, p)``)
    on every frame, then the temporal ``(t, 1, 1)`` one (``(s_t, 1, 1)``, ``(p_t, 0, 0)``) on
    its output, where ``stride = (s_t, s)`` and ``padding = (p_t, p)``:

    .. math:: D H' W' \\cdot M N_{in} d^2 + D' H' W' \\cdot N_{out} M t

    >>> conv2plus1d_mults(16, 112, 112, 64, 64, 3, padding=1)
    22196256768
    """
    mid = _conv2plus1d_width(in_channels, out_channels, kernel_size, mid_channels)
    t, d = pair("kernel_size", kernel_size)
    (st, ss), (pt, ps) = pair("stride", stride), pair("padding", padding, minimum=0)
    spatial = conv3d_mults(depth, height, width, in_channels, mid, (1, d, d), (1, ss, ss),
                           (0, ps, ps))
    frames, rows, cols = conv_output_shape((depth, height, width), (1, d, d), (1, ss, ss),
                                           (0, ps, ps))
    return spatial + conv3d_mults(frames, rows, cols, mid, out_channels, (t, 1, 1),
                                  (st, 1, 1), (pt, 0, 0))
