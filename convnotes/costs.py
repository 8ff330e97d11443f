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

from ._checks import check_channels_divisible, check_int, pair
from .arithmetic import conv_output_size, conv_transpose_output_size

__all__ = [
    "conv2d_mults",
    "conv2d_params",
    "conv_transpose2d_mults",
    "conv_transpose2d_subpixel_mults",
    "conv_transpose2d_zero_insertion_mults",
    "depthwise_separable_mults",
    "output_hw",
]


def output_hw(
    height: int, width: int, kernel_size, stride=1, padding=0, dilation=1
) -> tuple[int, int]:
    """Output (height, width) of a 2-D convolution, via :func:`conv_output_size`."""
    kh, kw = pair("kernel_size", kernel_size)
    sh, sw = pair("stride", stride)
    ph, pw = pair("padding", padding, minimum=0)
    dh, dw = pair("dilation", dilation)
    return (
        conv_output_size(height, kh, sh, ph, dh),
        conv_output_size(width, kw, sw, pw, dw),
    )


def conv2d_params(
    in_channels: int, out_channels: int, kernel_size, groups: int = 1, bias: bool = True
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
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    kh, kw = pair("kernel_size", kernel_size)
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def conv2d_mults(
    height: int,
    width: int,
    in_channels: int,
    out_channels: int,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
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
    kernel_size,
    stride=1,
    padding=0,
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

# == transposed / dilated ==


def _transpose_geometry(height, width, in_channels, out_channels, kernel_size, stride, padding,
                        output_padding, groups, dilation):
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
    outputs = tuple(
        conv_transpose_output_size(i, k, s, p, op, d)
        for i, k, s, p, op, d in zip(sizes, kernel, strides, paddings, extras, dilations,
                                     strict=True)
    )
    return sizes, outputs, kernel, strides, dilations, in_channels // groups


def conv_transpose2d_mults(height: int, width: int, in_channels: int, out_channels: int,
                           kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                           dilation=1) -> int:
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
                                          out_channels: int, kernel_size, stride=1, padding=0,
                                          output_padding=0, groups: int = 1, dilation=1) -> int:
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
                                    out_channels: int, kernel_size, stride=1, padding=0,
                                    output_padding=0, groups: int = 1, dilation=1) -> int:
    """Multiplications of the sub-pixel (kernel padding + depth_to_space) method.

    With ``K = ceil((d (k - 1) + 1) / s)`` taps per phase sub-kernel, one convolution with
    padding ``K - 1`` on the ``H x W`` input and ``s_h s_w C_out`` output channels:

    .. math:: (H + K_h - 1)(W + K_w - 1) \\cdot s_h s_w C_{out} \\cdot (C_{in} / g)
        \\cdot K_h K_w

    >>> conv_transpose2d_subpixel_mults(8, 8, 16, 16, 4, stride=2, padding=1)
    331776
    """
    (h, w), _, kernel, strides, dilations, group_in = _transpose_geometry(
        height, width, in_channels, out_channels, kernel_size, stride, padding, output_padding,
        groups, dilation)
    taps = [-(-(d * (k - 1) + 1) // s) for k, s, d in zip(kernel, strides, dilations,
                                                          strict=True)]
    rows, cols = h + taps[0] - 1, w + taps[1] - 1
    return rows * cols * strides[0] * strides[1] * out_channels * group_in * taps[0] * taps[1]


# == grouped / pointwise ==

# == separable ==

# == deformable / pooling ==
