"""Convolution arithmetic: output sizes and receptive fields (chapter 1).

These are the shape rules of ``torch.nn.functional`` written out, one spatial dimension at a
time. Every chapter uses them; the unit tests check each against the shape torch produces.

References
----------
- V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
  arXiv:1603.07285, 2016.

Examples
--------
>>> conv_output_size(5, 3, stride=2, padding=1)
3
>>> conv_transpose_output_size(3, 3, stride=2, padding=1)
5
>>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
15
"""

from __future__ import annotations

from collections.abc import Sequence

from ._checks import check_bool, check_int, check_int_sequence, int_tuple

__all__ = [
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "pool_output_size",
    "receptive_field",
]


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``dilation * (kernel_size - 1) + 1``.

    A 3-tap kernel with dilation 2 touches inputs 0, 2 and 4, so it spans 5.
    """
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    dilation = check_int("dilation", dilation, minimum=1)
    return dilation * (kernel_size - 1) + 1


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a convolution along one dimension.

    .. math::

        o = \\left\\lfloor \\frac{i + 2p - d(k - 1) - 1}{s} \\right\\rfloor + 1

    Parameters
    ----------
    size : int
        Input length ``i`` (>= 1).
    kernel_size, stride, dilation : int
        ``k``, ``s``, ``d`` (each >= 1).
    padding : int
        Zeros added on each side, ``p`` (>= 0).

    Returns
    -------
    int
        ``o``, the number of window positions.

    Raises
    ------
    ValueError
        When the dilated kernel is larger than the padded input (no window fits).

    Examples
    --------
    >>> conv_output_size(7, 3)                 # valid
    5
    >>> conv_output_size(7, 3, padding=1)      # same
    7
    >>> conv_output_size(7, 3, padding=2)      # full
    9
    """
    size = check_int("size", size, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    span = effective_kernel_size(kernel_size, dilation)
    padded = size + 2 * padding
    if span > padded:
        raise ValueError(
            f"kernel_size={kernel_size} with dilation={dilation} spans {span}, larger than the "
            f"padded input size {padded} (size={size}, padding={padding})"
        )
    return (padded - span) // stride + 1


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution along one dimension.

    .. math::

        o = (i - 1)s - 2p + d(k - 1) + a + 1

    with :math:`a` = ``output_padding``.

    A strided convolution maps ``s`` different input sizes to one output size; the transposed
    convolution inverts the shape map, so ``output_padding`` (``0 <= output_padding <
    max(stride, dilation)``, as in torch) picks which of those sizes to return.

    Examples
    --------
    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)
    6
    """
    size = check_int("size", size, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    output_padding = check_int("output_padding", output_padding, minimum=0)
    span = effective_kernel_size(kernel_size, dilation)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation, got output_padding="
            f"{output_padding} with stride={stride}, dilation={dilation}"
        )
    out = (size - 1) * stride - 2 * padding + span + output_padding
    if out < 1:
        raise ValueError(
            f"padding={padding} is too large: the output size would be {out} "
            f"(size={size}, kernel_size={kernel_size}, stride={stride})"
        )
    return out


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of max/avg pooling along one dimension (torch's rule).

    ``stride`` defaults to ``kernel_size``. With ``ceil_mode`` the division rounds up, but a
    window may not start inside the right padding, so the last window is dropped when it would.
    Padding must be at most half the kernel size.

    Examples
    --------
    >>> pool_output_size(5, 2)
    2
    >>> pool_output_size(5, 2, ceil_mode=True)
    3
    """
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    stride = kernel_size if stride is None else check_int("stride", stride, minimum=1)
    size = check_int("size", size, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    ceil_mode = check_bool("ceil_mode", ceil_mode)
    if padding > kernel_size // 2:
        raise ValueError(
            f"padding must be at most half of kernel_size={kernel_size}, got padding={padding}"
        )
    span = effective_kernel_size(kernel_size, dilation)
    padded = size + 2 * padding
    slack = padded - span  # may be negative with ceil_mode: a window may hang over the edge
    out = (-(-slack // stride) if ceil_mode else slack // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(
            f"kernel_size={kernel_size} with dilation={dilation} spans {span}, larger than the "
            f"padded input size {padded} (size={size}, padding={padding}, ceil_mode={ceil_mode})"
        )
    return out


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> int:
    """Receptive field of a stack of layers, in input pixels along one dimension.

    Parameters
    ----------
    layers : list of tuple
        One ``(kernel_size, stride, dilation)`` triple of ints per layer, from the input
        upwards.

    Notes
    -----
    With jump :math:`j_l = \\prod_{m<l} s_m` (the input distance between neighbouring units
    of layer ``l``'s input), each layer widens the field by :math:`d_l (k_l - 1) j_l`:

    .. math::

        r = 1 + \\sum_l d_l (k_l - 1) \\prod_{m<l} s_m

    Examples
    --------
    Three 3x3 layers with dilations 1, 2, 4 (Yu & Koltun's context module):

    >>> [receptive_field([(3, 1, 2 ** m) for m in range(n)]) for n in (1, 2, 3)]
    [3, 7, 15]
    """
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a sequence of (kernel_size, stride, dilation), got {layers!r}"
        )
    field, jump = 1, 1
    for index, layer in enumerate(layers):
        if not isinstance(layer, Sequence) or len(layer) != 3:
            raise ValueError(
                f"layers[{index}] must be a (kernel_size, stride, dilation) triple, got {layer!r}"
            )
        kernel_size, stride, dilation = layer
        check_int(f"layers[{index}] kernel_size", kernel_size, minimum=1)
        check_int(f"layers[{index}] stride", stride, minimum=1)
        check_int(f"layers[{index}] dilation", dilation, minimum=1)
        field += dilation * (kernel_size - 1) * jump
        jump *= stride
    return field


def conv_output_shape(
    size: Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> tuple[int, ...]:
    """Output shape of a convolution over any number of spatial axes, one axis at a time.

    Each axis follows :func:`conv_output_size` on its own, so the 1-D, 2-D and 3-D shape
    rules of ``F.conv1d``, ``F.conv2d`` and ``F.conv3d`` are this one rule with 1, 2 or 3
    axes.

    Parameters
    ----------
    size : sequence of int
        The spatial shape ``(i_1, ..., i_n)`` of the input (no batch or channel axis).
    kernel_size, stride, padding, dilation : int or sequence of n ints
        An int applies to every axis, as in torch.

    Returns
    -------
    tuple of int
        ``(o_1, ..., o_n)`` with

        .. math::

            o_a = \\left\\lfloor \\frac{i_a + 2p_a - d_a(k_a - 1) - 1}{s_a} \\right\\rfloor + 1

    Raises
    ------
    ValueError
        When a sequence has the wrong length, or along an axis the dilated kernel is larger
        than the padded input (the message names the axis).

    References
    ----------
    V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
    arXiv:1603.07285, 2016 (chapter 2: the rules hold for each axis independently).

    Examples
    --------
    A video clip of 16 frames of 112x112 through a 3x3x3 layer with padding 1, stride 2:

    >>> conv_output_shape((16, 112, 112), 3, stride=2, padding=1)
    (8, 56, 56)
    >>> conv_output_shape((100,), 5, dilation=4)
    (84,)
    """
    axes = len(check_int_sequence("size", size))
    sizes = int_tuple("size", size, axes)
    kernel = int_tuple("kernel_size", kernel_size, axes)
    strides = int_tuple("stride", stride, axes)
    paddings = int_tuple("padding", padding, axes, minimum=0)
    dilations = int_tuple("dilation", dilation, axes)
    shape = []
    for axis, geometry in enumerate(zip(sizes, kernel, strides, paddings, dilations, strict=True)):
        try:
            shape.append(conv_output_size(*geometry))
        except ValueError as error:
            raise ValueError(f"axis {axis}: {error}") from error
    return tuple(shape)
