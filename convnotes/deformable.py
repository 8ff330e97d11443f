"""Deformable convolution: a kernel whose taps move by learned offsets (chapter 8).

An ordinary 3x3 convolution reads its input on a fixed grid of nine positions around every
output pixel. A deformable convolution adds a learned 2-D offset to each tap, separately at
every output pixel, and reads the input there by bilinear interpolation, so the sampling grid
can stretch, rotate or bend to follow the objects in the image (Dai et al., 2017). The
modulated version (DCNv2, Zhu et al., 2019) also multiplies each tap by a learned mask in
[0, 1].

* :func:`bilinear_sample`: values of an image at fractional positions, zero outside the image
  (the rule of ``torchvision.ops.deform_conv2d``; twin ``F.grid_sample`` with
  ``align_corners=True, padding_mode="zeros"``);
* :func:`deform_conv2d`: the operator itself, with exactly the signature, offset layout and
  results of ``torchvision.ops.deform_conv2d`` (its twin), mask included. It samples all taps
  of all output pixels at once (one ``F.grid_sample``) into a *mosaic* of ``kh x kw`` tiles,
  then runs one ordinary convolution whose stride equals its kernel size, so every tile meets
  the kernel exactly once (that convolution is the GEMM of im2col + GEMM);
* :func:`deformable_im2col`: the sampled values themselves, as im2col columns (the layout of
  ``F.unfold``) or as the mosaic;
* :func:`sampling_positions` (where each tap reads) and :func:`affine_offsets` (the offsets
  that move the kernel grid by a linear map: a scale, a rotation);
* :class:`DeformConv2d`: the layer, with a zero-initialised ``nn.Conv2d`` that predicts the
  offsets (and the mask) from the input, so training starts from a plain convolution.

Everything is pure, vectorised torch, differentiable in the input, the offsets, the mask and
the weights, on any device. :func:`bilinear_sample` spells the interpolation out (one gather
per corner); :func:`deform_conv2d` samples every tap with one ``F.grid_sample`` (the same
rule, checked against it) and multiplies with one convolution, so a forward pass dispatches
about twenty aten operations, not one per corner and tap.

References
----------
* J. Dai, H. Qi, Y. Xiong, Y. Li, G. Zhang, H. Hu and Y. Wei, "Deformable convolutional
  networks", ICCV 2017.
* X. Zhu, H. Hu, S. Lin and J. Dai, "Deformable ConvNets v2: more deformable, better
  results", CVPR 2019.

Examples
--------
With zero offsets a deformable convolution is an ordinary one:

>>> x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
>>> offset = torch.zeros(1, 2 * 3 * 3, 5, 5)
>>> torch.allclose(deform_conv2d(x, offset, w, padding=1), F.conv2d(x, w, padding=1),
...                atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    Size2,
    as_batch,
    check_bool,
    check_channels_divisible,
    check_conv_operands,
    check_conv_weight,
    check_finite,
    check_float_tensor,
    check_int,
    check_layer_input,
    check_one_of,
    check_real,
    check_same_device,
    check_same_dtype,
    check_shape,
    check_window_fits,
    ensure_array,
    pair,
)
from .arithmetic import effective_kernel_size

__all__ = [
    "DeformConv2d",
    "affine_offsets",
    "bilinear_sample",
    "deform_conv2d",
    "deformable_im2col",
    "sampling_positions",
]


# --------------------------------------------------------------------------------------------
# Bilinear sampling
# --------------------------------------------------------------------------------------------


def _axis_neighbours(
    position: torch.Tensor, size: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The two pixels around each position along one axis: (clamped index, weight) twice.

    The weights are ``1 - frac`` and ``frac``; a pixel outside ``[0, size)`` gets weight 0
    (and a clamped, harmless index), which is bilinear interpolation of the zero-padded image.
    """
    below = torch.floor(position)
    frac = position - below  # in [0, 1)
    first = below.long()
    neighbours = []
    for index, weight in ((first, 1 - frac), (first + 1, frac)):
        inside = (index >= 0) & (index < size)
        neighbours.append((index.clamp(0, size - 1), torch.where(inside, weight, 0.0)))
    return neighbours[0], neighbours[1]


def _bilinear_corners(
    y: torch.Tensor, x: torch.Tensor, height: int, width: int,
    first_row: torch.Tensor | int = 0,
    row_step: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The four pixels around each point ``(y, x)``: table row and weight of each corner.

    Pixel ``(h, w)`` is row ``first_row + (h * width + w) * row_step`` of a channels-last
    table (``first_row`` selects the image). The weight of a corner is the product of its
    two 1-D weights, zero when the corner lies outside the image, so points in
    ``(-1, height) x (-1, width)`` fade to zero at the border and points beyond read zero.
    """
    rows, cols = _axis_neighbours(y, height), _axis_neighbours(x, width)
    steps = [(col * row_step, col_weight) for col, col_weight in cols]
    for row, row_weight in rows:
        row_start = first_row + row * (width * row_step)
        for col, col_weight in steps:
            yield row_start + col, row_weight * col_weight


def _interpolate_rows(
    table: torch.Tensor,
    first_row: torch.Tensor,
    row_step: int,
    y: torch.Tensor,
    x: torch.Tensor,
    height: int,
    width: int,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bilinear values at ``(y, x)`` of images stored channels-last as the rows of ``table``.

    ``table`` has shape (R, C); pixel ``(h, w)`` of the image that a point belongs to is row
    ``first_row + (h * width + w) * row_step`` (``first_row`` broadcasts against ``y``).
    Returns shape ``(*y.shape, C)``. Each corner is one ``index_select`` of whole rows (all
    channels of a pixel are contiguous), accumulated in place: no 4x intermediate tensor.
    ``scale`` (the DCNv2 mask, shaped like ``y``) is folded into the four corner weights.
    """
    out: torch.Tensor | None = None
    for row, weight in _bilinear_corners(y, x, height, width, first_row, row_step):
        if scale is not None:
            weight = weight * scale
        values = table.index_select(0, row.reshape(-1))
        column = weight.reshape(-1, 1)
        out = values * column if out is None else out.addcmul_(values, column)
    if out is None:  # the loop above always runs its four corners
        raise RuntimeError("bilinear interpolation read no corner")
    return out.view(*y.shape, table.shape[1])


def bilinear_sample(x: torch.Tensor, y: torch.Tensor, x_coords: torch.Tensor) -> torch.Tensor:
    r"""Values of images at fractional pixel positions, zero outside the image.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
        The images.
    y, x_coords : Tensor, shape (N, ...)
        Row and column of each sample point, in pixels: ``(0, 0)`` is the centre of the
        top-left pixel, ``(H - 1, W - 1)`` that of the bottom-right one. Same dtype and
        device as ``x``; the trailing dimensions ``...`` (the sample shape) are arbitrary.

    Returns
    -------
    Tensor, shape (N, C, ...)

    Notes
    -----
    With :math:`h = \lfloor y \rfloor`, :math:`w = \lfloor x \rfloor`,
    :math:`a = y - h`, :math:`b = x - w`:

    .. math::

        v(y, x) = (1-a)(1-b)\,X[h, w] + (1-a)\,b\,X[h, w+1]
                + a\,(1-b)\,X[h+1, w] + a\,b\,X[h+1, w+1],

    where a pixel outside the image counts as 0. This is bilinear interpolation of the image
    padded with zeros: it fades to 0 towards ``y = -1`` and ``y = H`` and is 0 beyond, the rule
    of ``torchvision.ops.deform_conv2d`` (and of ``F.grid_sample`` with
    ``align_corners=True, padding_mode="zeros"``). It is differentiable in ``x`` and in the
    positions (piecewise linear in each coordinate).

    References
    ----------
    * J. Dai et al., "Deformable convolutional networks", ICCV 2017, eq. (3)-(4).

    Examples
    --------
    >>> image = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])
    >>> bilinear_sample(image, torch.tensor([[0.5, 0.0, -0.5]]), torch.tensor([[0.5, 1.0, 0.0]]))
    tensor([[[15., 10.,  0.]]])
    """
    check_float_tensor("x", x, ndim=4)
    check_float_tensor("y", y)
    check_float_tensor("x_coords", x_coords)
    check_same_device(x=x, y=y, x_coords=x_coords)
    check_same_dtype("x", x, y=y, x_coords=x_coords)
    for name, coords in (("y", y), ("x_coords", x_coords)):
        if coords.ndim < 1 or coords.shape[0] != x.shape[0]:
            raise ValueError(f"{name} must have shape (N={x.shape[0]}, ...), got "
                             f"{tuple(coords.shape)}")
    check_shape("x_coords", x_coords, y.shape)
    check_finite("y", y)  # a NaN position has no neighbours: refuse it rather than read 0
    check_finite("x_coords", x_coords)
    batch, channels, height, width = x.shape
    table = x.permute(0, 2, 3, 1).reshape(-1, channels)
    first_row = (torch.arange(batch, device=x.device) * (height * width)).view(
        -1, *([1] * (y.ndim - 1)))
    values = _interpolate_rows(table, first_row, 1, y, x_coords, height, width)
    return values.movedim(-1, 1)


# --------------------------------------------------------------------------------------------
# Sampling grid and validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """Checked sampling geometry of one deformable convolution (pairs are (height, width))."""

    offset_groups: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    output_hw: tuple[int, int]


def _output_hw(input_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
               padding: tuple[int, int], dilation: tuple[int, int],
               kernel_name: str) -> tuple[int, int]:
    """Output size, with a ``ValueError`` naming ``kernel_name`` when the kernel does not fit."""
    check_window_fits(kernel_name, kernel, dilation, input_hw, padding, "input")

    def size(axis: int) -> int:
        span = effective_kernel_size(kernel[axis], dilation[axis])
        return (input_hw[axis] + 2 * padding[axis] - span) // stride[axis] + 1

    return size(0), size(1)



def _sampling_geometry(input: torch.Tensor, offset: torch.Tensor, kernel_size: Size2,
                       stride: Size2, padding: Size2, dilation: Size2,
                       mask: torch.Tensor | None, kernel_name: str = "kernel_size") -> _Geometry:
    """Validate input, offset and mask as torchvision does, with errors that name them."""
    check_float_tensor("input", input, ndim=4)
    as_batch("input", input)  # the zero-size policy: only the batch may be empty
    check_float_tensor("offset", offset, ndim=4)
    if mask is not None:
        check_float_tensor("mask", mask, ndim=4)
    check_same_device(input=input, offset=offset, mask=mask)
    check_same_dtype("input", input, offset=offset, mask=mask)
    kernel, stride = pair(kernel_name, kernel_size), pair("stride", stride)
    padding, dilation = pair("padding", padding, minimum=0), pair("dilation", dilation)
    batch, in_channels, height, width = input.shape
    taps = kernel[0] * kernel[1]
    if offset.shape[1] == 0 or offset.shape[1] % (2 * taps) != 0:
        raise ValueError(f"offset must have 2 * offset_groups * kh * kw channels, a positive "
                         f"multiple of 2 * {kernel[0]} * {kernel[1]} = {2 * taps}, "
                         f"got {offset.shape[1]}")
    offset_groups = offset.shape[1] // (2 * taps)
    if in_channels % offset_groups != 0:
        raise ValueError(f"offset has {offset.shape[1]} channels, i.e. offset_groups="
                         f"{offset_groups}, which must divide the input's {in_channels} channels")
    output_hw = _output_hw((height, width), kernel, stride, padding, dilation, kernel_name)
    check_shape("offset", offset, (batch, 2 * offset_groups * taps, *output_hw))
    check_finite("offset", offset)  # a NaN position has no neighbours: refuse it, never read 0
    if mask is not None:
        check_shape("mask", mask, (batch, offset_groups * taps, *output_hw))
    return _Geometry(offset_groups, kernel, stride, padding, dilation, output_hw)


def _weight_groups(input: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None) -> int:
    """Validate weight and bias against the input; return ``groups = C_in / weight.shape[1]``."""
    check_conv_operands(input, weight, bias, input_name="input", input_ndim=4)
    in_channels, group_in = input.shape[1], weight.shape[1]
    if group_in == 0 or in_channels % group_in != 0:
        raise ValueError(f"weight must have shape (C_out, C_in / groups, kh, kw) with "
                         f"C_in / groups dividing C_in={in_channels}, got {tuple(weight.shape)}")
    groups = in_channels // group_in
    check_conv_weight(weight, bias, in_channels, groups)
    return groups


def _tap_positions(offset: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], dilation: tuple[int, int]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns read by every tap: two tensors of shape (N, G, kh, kw, H_out, W_out)."""
    batch, channels, out_h, out_w = offset.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    moves = offset.reshape(batch, channels // (2 * kh * kw), kh, kw, 2, out_h, out_w)
    device, dtype = offset.device, offset.dtype
    # regular grid: output pixel i, tap a reads row s i - p + d a (and likewise for columns)
    grid_rows = torch.arange(0, kh * dh, dh, device=device, dtype=dtype).view(
        kh, 1, 1, 1) + torch.arange(-ph, out_h * sh - ph, sh, device=device,
                                    dtype=dtype).view(1, 1, out_h, 1)
    grid_cols = torch.arange(0, kw * dw, dw, device=device, dtype=dtype).view(
        1, kw, 1, 1) + torch.arange(-pw, out_w * sw - pw, sw, device=device,
                                    dtype=dtype).view(1, 1, 1, out_w)
    return moves[:, :, :, :, 0] + grid_rows, moves[:, :, :, :, 1] + grid_cols


def sampling_positions(
    offset: torch.Tensor,
    kernel_size: Size2,
    stride: Size2 = 1,
    padding: Size2 = 0,
    dilation: Size2 = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Where each kernel tap of a deformable convolution reads its input.

    Parameters
    ----------
    offset : Tensor, shape (N, 2 * offset_groups * kh * kw, H_out, W_out)
        torchvision's layout: channel ``2 * (g * kh * kw + a * kw + b)`` is the row offset
        (dy) of tap ``(a, b)`` in offset group ``g``, the next channel its column offset (dx).
    kernel_size, stride, padding, dilation : int or (int, int)
        As for the convolution.

    Returns
    -------
    rows, cols : Tensor, each of shape (N, offset_groups, kh, kw, H_out, W_out)
        Positions in input pixels (``(0, 0)`` is the top-left pixel of the unpadded input).

    Notes
    -----
    .. math::

        (r, c) = (s_h i - p_h + d_h a + \Delta y,\ s_w j - p_w + d_w b + \Delta x)

    for output pixel :math:`(i, j)` and tap :math:`(a, b)`.

    Examples
    --------
    >>> rows, cols = sampling_positions(torch.zeros(1, 18, 1, 1), 3, padding=1)
    >>> rows[0, 0, :, :, 0, 0]
    tensor([[-1., -1., -1.],
            [ 0.,  0.,  0.],
            [ 1.,  1.,  1.]])
    """
    check_float_tensor("offset", offset, ndim=4)
    kernel, stride = pair("kernel_size", kernel_size), pair("stride", stride)
    padding, dilation = pair("padding", padding, minimum=0), pair("dilation", dilation)
    taps = kernel[0] * kernel[1]
    if offset.shape[1] == 0 or offset.shape[1] % (2 * taps) != 0:
        raise ValueError(f"offset must have a positive multiple of 2 * kh * kw = {2 * taps} "
                         f"channels, got {offset.shape[1]}")
    return _tap_positions(offset, kernel, stride, padding, dilation)


def affine_offsets(matrix: torch.Tensor | np.ndarray | list[list[float]], kernel_size: Size2,
                   dilation: Size2 = 1) -> torch.Tensor:
    r"""Offsets that move the taps of a centred kernel grid by a linear map.

    Parameters
    ----------
    matrix : Tensor or array-like, shape (2, 2)
        Acts on (row, column) vectors measured from the kernel's centre; ``2 * I`` doubles
        the grid, a rotation matrix turns it.
    kernel_size, dilation : int or (int, int)

    Returns
    -------
    Tensor, shape (2 * kh * kw,)
        ``(dy, dx)`` per tap in torchvision's order (float64, or the dtype of a floating
        tensor ``matrix``). Broadcast it to a constant offset field with
        ``offsets.view(1, -1, 1, 1).expand(N, -1, H_out, W_out)``.

    Notes
    -----
    Tap :math:`(a, b)` sits at :math:`p = (d_h (a - \tfrac{k_h - 1}{2}),\ d_w (b -
    \tfrac{k_w - 1}{2}))` from the centre; its offset is :math:`A p - p`. With
    :math:`A = sI` (integer :math:`s`, odd kernel) the deformable convolution is a dilated
    one with dilation :math:`s d` and padding grown by :math:`(s - 1) d (k - 1) / 2` (Dai et
    al., 2017: offsets can learn the scale of the receptive field).

    Examples
    --------
    >>> affine_offsets(2 * torch.eye(2), 3).view(3, 3, 2)[0]
    tensor([[-1., -1.],
            [-1.,  0.],
            [-1.,  1.]])
    """
    if not isinstance(matrix, torch.Tensor):
        matrix = torch.as_tensor(ensure_array("matrix", matrix))
    check_real("matrix", matrix)
    dtype = matrix.dtype if matrix.is_floating_point() else torch.float64
    matrix = matrix.to(dtype)
    check_shape("matrix", matrix, (2, 2))
    check_finite("matrix", matrix)
    (kh, kw), (dh, dw) = pair("kernel_size", kernel_size), pair("dilation", dilation)
    rows = (torch.arange(kh, dtype=dtype, device=matrix.device) - (kh - 1) / 2) * dh
    cols = (torch.arange(kw, dtype=dtype, device=matrix.device) - (kw - 1) / 2) * dw
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)
    return (grid @ matrix.T - grid).reshape(-1)


# --------------------------------------------------------------------------------------------
# The operator
# --------------------------------------------------------------------------------------------


def _power_of_two_at_least(size: int) -> int:
    """The smallest power of two ``>= size``."""
    return 1 << max(size - 1, 0).bit_length()


def _normalised_tap_grid(size: int, out_size: int, kernel: int, stride: int, padding: int,
                         dilation: int, options: dict) -> torch.Tensor:
    """Undeformed tap positions along one axis in ``F.grid_sample``'s coordinates.

    Entry ``[i, a]`` is output pixel ``i``'s tap ``a`` at pixel ``s i - p + d a``, normalised
    for ``align_corners=False`` on an axis of ``size`` pixels: ``(2 x + 1) / size - 1``.
    Computed in Python (``H_out kh`` numbers), one small tensor.
    """
    return torch.tensor(
        [[(2 * (stride * i - padding + dilation * a) + 1) / size - 1 for a in range(kernel)]
         for i in range(out_size)], **options)


def _deformed_mosaic(input: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor | None,
                     geo: _Geometry) -> torch.Tensor:
    """Sample every tap of every output pixel into a (N, C, H_out kh, W_out kw) mosaic.

    Tile ``(i, j)`` of the mosaic holds the ``kh x kw`` (masked) values that output pixel
    ``(i, j)`` multiplies with the kernel. All ``N C kh kw H_out W_out`` samples come from one
    ``F.grid_sample`` (bilinear, zeros outside: the rule of :func:`bilinear_sample`), so a
    forward pass is a handful of large operations, not one per corner and tap.

    ``grid_sample`` takes coordinates normalised by the image side. The image is first padded
    with zeros at the bottom and right to sides that are powers of two (points there read
    zero anyway): dividing by a power of two is exact, so a tap at an integer position stays
    exactly on its pixel, and the kinks of the bilinear weights (where the offset gradient
    jumps) fall at the integer positions, as in ``torchvision.ops.deform_conv2d``.
    """
    batch, channels, height, width = input.shape
    groups, (kh, kw), (out_h, out_w) = geo.offset_groups, geo.kernel, geo.output_hw
    side_h, side_w = _power_of_two_at_least(height), _power_of_two_at_least(width)
    if (side_h, side_w) != (height, width):
        input = F.pad(input, (0, side_w - width, 0, side_h - height))
    options = {"dtype": offset.dtype, "device": offset.device}
    rows = _normalised_tap_grid(side_h, out_h, kh, geo.stride[0], geo.padding[0],
                                geo.dilation[0], options).view(out_h, kh, 1, 1)
    cols = _normalised_tap_grid(side_w, out_w, kw, geo.stride[1], geo.padding[1],
                                geo.dilation[1], options)
    # offset channels (g, a, b, dy/dx) -> (N G, H_out, kh, W_out, kw) per coordinate
    dy, dx = offset.reshape(batch * groups, kh, kw, 2, out_h, out_w).permute(
        0, 4, 1, 5, 2, 3).unbind(-1)
    grid = torch.stack((torch.add(cols, dx, alpha=2 / side_w),
                        torch.add(rows, dy, alpha=2 / side_h)), dim=-1)  # (x, y) order
    samples = F.grid_sample(input.reshape(batch * groups, channels // groups, side_h, side_w),
                            grid.view(batch * groups, out_h * kh, out_w * kw, 2),
                            mode="bilinear", padding_mode="zeros", align_corners=False)
    if mask is not None:  # one factor per (group, tap, output pixel), shared by the channels
        tile_mask = mask.reshape(batch * groups, 1, kh, kw, out_h, out_w).permute(
            0, 1, 4, 2, 5, 3)
        samples = samples.view(batch * groups, channels // groups, out_h, kh, out_w, kw)
        samples = samples * tile_mask
    return samples.reshape(batch, channels, out_h * kh, out_w * kw)


def deformable_im2col(
    input: torch.Tensor,
    offset: torch.Tensor,
    kernel_size: Size2,
    stride: Size2 = 1,
    padding: Size2 = 0,
    dilation: Size2 = 1,
    mask: torch.Tensor | None = None,
    *,
    layout: str = "columns",
) -> torch.Tensor:
    r"""The (masked) input values that a deformable convolution multiplies with its kernel.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    offset : Tensor, shape (N, 2 * offset_groups * kh * kw, H_out, W_out)
        torchvision's layout (see :func:`deform_conv2d`).
    kernel_size, stride, padding, dilation : int or (int, int)
    mask : Tensor, shape (N, offset_groups * kh * kw, H_out, W_out), optional
    layout : {"columns", "mosaic"}
        ``"columns"``: shape (N, C kh kw, H_out W_out), the layout of ``F.unfold`` (im2col),
        one column per output pixel. ``"mosaic"``: shape (N, C, H_out kh, W_out kw), the same
        numbers as an image of ``kh x kw`` tiles, tile ``(i, j)`` for output pixel ``(i, j)``.

    Returns
    -------
    Tensor
        With zero offsets and no mask the columns equal ``F.unfold(input, kernel_size,
        dilation, padding, stride)``.

    Notes
    -----
    Entry :math:`(c, a, b)` of the column of output pixel :math:`p_0` is
    :math:`m_k\, v_c(p_0 + p_k + \Delta p_k)` with :func:`bilinear_sample` :math:`v`. The
    weight matrix times the columns is the convolution (im2col + GEMM, chapter 1);
    :func:`deform_conv2d` instead convolves the mosaic with ``stride = kernel_size``, which is
    the same product and reads the (channels-last) mosaic without reordering it.

    Examples
    --------
    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> columns = deformable_im2col(x, torch.zeros(1, 8, 3, 3), 2)
    >>> torch.equal(columns, F.unfold(x, 2))
    True
    """
    check_one_of("layout", layout, ("columns", "mosaic"))
    geo = _sampling_geometry(input, offset, kernel_size, stride, padding, dilation, mask)
    mosaic = _deformed_mosaic(input, offset, mask, geo)
    if layout == "mosaic":
        return mosaic.contiguous()
    (kh, kw), (out_h, out_w) = geo.kernel, geo.output_hw
    batch, channels = input.shape[:2]
    tiles = mosaic.reshape(batch, channels, out_h, kh, out_w, kw).permute(0, 1, 3, 5, 2, 4)
    return tiles.reshape(batch, channels * kh * kw, out_h * out_w)


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size2 = 1,
    padding: Size2 = 0,
    dilation: Size2 = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Deformable convolution (DCNv1), or modulated deformable convolution (DCNv2) with ``mask``.

    Same signature, layout and results as ``torchvision.ops.deform_conv2d`` (its twin).

    Parameters
    ----------
    input : Tensor, shape (N, C_in, H, W)
    offset : Tensor, shape (N, 2 * offset_groups * kh * kw, H_out, W_out)
        Channel ``2 * (g * kh * kw + a * kw + b)`` is the row offset (dy) of tap ``(a, b)``
        for the input channels of offset group ``g``; the next channel is its column offset
        (dx). ``offset_groups`` is inferred from the channel count and must divide ``C_in``.
    weight : Tensor, shape (C_out, C_in / groups, kh, kw)
        ``groups`` is inferred as ``C_in / weight.shape[1]``, as in torchvision.
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
        As for ``F.conv2d``; padding is implicit (points outside the input read zero).
    mask : Tensor, shape (N, offset_groups * kh * kw, H_out, W_out), optional
        DCNv2 modulation: each sampled value is multiplied by its mask entry.

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out)
        ``H_out = floor((H + 2 p_h - d_h (kh - 1) - 1) / s_h) + 1``, as for ``conv2d``.

    Raises
    ------
    ValueError
        For a wrong shape of ``offset``, ``mask``, ``weight`` or ``bias`` (the message names
        it), and when the kernel is larger than the padded input.
    TypeError
        For non-tensors, integer tensors or mixed dtypes.

    Notes
    -----
    For output pixel :math:`p_0` with the regular grid positions :math:`p_k` (stride, padding
    and dilation included), offsets :math:`\Delta p_k` and mask :math:`m_k` (1 without a
    mask):

    .. math::

        y(p_0) = b + \sum_{k=1}^{k_h k_w} w_k\, m_k\, v(p_0 + p_k + \Delta p_k),

    summed over the input channels of the group, where :math:`v` is
    :func:`bilinear_sample` (zero outside the input). The implementation samples all
    :math:`N \cdot C_{in} \cdot k_h k_w \cdot H_{out} W_{out}` values at once, with one
    ``F.grid_sample`` (bilinear, zeros outside; the input is zero-padded to power-of-two sides
    first so that the coordinate normalisation is exact and integer positions stay on their
    pixels), into a mosaic of
    :math:`k_h \times k_w` tiles (:math:`H_{out} k_h \times W_{out} k_w` per channel), then
    runs ``F.conv2d(mosaic, weight, bias, stride=(kh, kw), groups=groups)``: a convolution
    whose windows are exactly the tiles, i.e. the GEMM of im2col + GEMM with the deformed
    columns. Autograd provides the gradients in ``input``, ``offset``, ``mask``, ``weight``
    and ``bias`` (the offset gradient is the piecewise-constant derivative of the bilinear
    weights, as in torchvision). On CUDA the convolution follows torch's settings for
    ``F.conv2d``: float32 may run in TF32 (``torch.backends.cudnn.allow_tf32``), whereas
    torchvision's CUDA kernel multiplies in full float32; compare the two in float64.

    References
    ----------
    * J. Dai et al., "Deformable convolutional networks", ICCV 2017.
    * X. Zhu et al., "Deformable ConvNets v2: more deformable, better results", CVPR 2019.

    Examples
    --------
    Shifting every tap one pixel to the right reads the input one column further on:

    >>> x, w = torch.randn(1, 1, 4, 6), torch.randn(1, 1, 3, 3)
    >>> offset = torch.zeros(1, 18, 2, 4)
    >>> offset[:, 1::2] = 1.0                      # dx = 1 for every tap
    >>> y = deform_conv2d(x, offset, w)
    >>> torch.allclose(y[..., :3], F.conv2d(x, w)[..., 1:], atol=1e-6)
    True
    """
    check_float_tensor("input", input, ndim=4)
    groups = _weight_groups(input, weight, bias)
    kernel = (weight.shape[2], weight.shape[3])
    geo = _sampling_geometry(input, offset, kernel, stride, padding, dilation, mask, "weight")
    mosaic = _deformed_mosaic(input, offset, mask, geo)  # (N, C_in, H_out kh, W_out kw)
    return F.conv2d(mosaic, weight, bias, stride=kernel, groups=groups).contiguous()


# --------------------------------------------------------------------------------------------
# The layer
# --------------------------------------------------------------------------------------------


class DeformConv2d(nn.Module):
    r"""A deformable convolution layer that predicts its own offsets (and mask) from its input.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding, dilation : int or (int, int)
        As for ``nn.Conv2d``.
    groups : int, default 1
        Weight groups, as for ``nn.Conv2d``.
    bias : bool, default True
    offset_groups : int, default 1
        Channel groups that share one set of offsets; must divide ``in_channels``.
    modulated : bool, default False
        DCNv2: also predict a mask ``sigmoid(m)`` per tap.

    Attributes
    ----------
    offset_conv : nn.Conv2d
        ``in_channels -> (2 or 3) * offset_groups * kh * kw`` channels, with the layer's
        kernel size, stride, padding and dilation, so it predicts offsets (then mask logits)
        for every output pixel. Weights and bias start at zero.
    conv : nn.Conv2d
        The layer's weights, ``(out_channels, in_channels / groups, kh, kw)``; it is applied to
        the sampled mosaic with stride ``kernel_size`` (see :func:`deform_conv2d`).
    weight, bias : Parameter
        ``conv.weight`` and ``conv.bias``, torchvision's names.

    Notes
    -----
    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)`` with the usual
    output-size rule. Because the offset predictor starts at zero, a new layer *is* a plain
    convolution (with the mask, a plain convolution with half the weights: ``sigmoid(0) =
    1/2``, DCNv2's initialisation), and training moves the taps only where that lowers the
    loss (Dai et al., 2017). A forward pass multiplies what
    :func:`convnotes.costs.deform_conv2d_mults` with ``predictor=True`` counts.

    References
    ----------
    * J. Dai et al., "Deformable convolutional networks", ICCV 2017.
    * X. Zhu et al., "Deformable ConvNets v2: more deformable, better results", CVPR 2019.

    Examples
    --------
    >>> layer = DeformConv2d(4, 8, 3, padding=1)
    >>> x = torch.randn(2, 4, 6, 6)
    >>> layer(x).shape
    torch.Size([2, 8, 6, 6])
    >>> torch.allclose(layer(x), F.conv2d(x, layer.weight, layer.bias, padding=1), atol=1e-5)
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2,
        stride: Size2 = 1,
        padding: Size2 = 0,
        dilation: Size2 = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        offset_groups: int = 1,
        modulated: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=1)
        self.out_channels = check_int("out_channels", out_channels, minimum=1)
        self.groups = check_int("groups", groups, minimum=1)
        self.offset_groups = check_int("offset_groups", offset_groups, minimum=1)
        check_channels_divisible("in_channels", self.in_channels, self.groups)
        check_channels_divisible("out_channels", self.out_channels, self.groups)
        if self.in_channels % self.offset_groups != 0:
            raise ValueError(f"in_channels must be divisible by offset_groups="
                             f"{self.offset_groups}, got {self.in_channels}")
        bias, modulated = check_bool("bias", bias), check_bool("modulated", modulated)
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride, self.dilation = pair("stride", stride), pair("dilation", dilation)
        self.padding = pair("padding", padding, minimum=0)
        self.modulated = modulated
        taps = self.kernel_size[0] * self.kernel_size[1]
        predicted = (3 if modulated else 2) * self.offset_groups * taps
        self.offset_conv = nn.Conv2d(self.in_channels, predicted, self.kernel_size, self.stride,
                                     self.padding, self.dilation)
        nn.init.zeros_(self.offset_conv.weight)
        if self.offset_conv.bias is not None:
            nn.init.zeros_(self.offset_conv.bias)
        self.conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size,
                              stride=self.kernel_size, groups=self.groups, bias=bias)

    @property
    def weight(self) -> torch.Tensor:
        """The convolution weight, shape (out_channels, in_channels / groups, kh, kw)."""
        return self.conv.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The convolution bias, shape (out_channels,), or ``None``."""
        return self.conv.bias

    def offsets_and_mask(self, input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predicted ``offset`` (N, 2 G kh kw, H_out, W_out) and ``mask`` (or ``None``)."""
        self._check_input(input)
        predicted = self.offset_conv(input)
        if not self.modulated:
            return predicted, None
        split = 2 * self.offset_groups * self.kernel_size[0] * self.kernel_size[1]
        return predicted[:, :split], torch.sigmoid(predicted[:, split:])

    def _check_input(self, input: torch.Tensor) -> None:
        check_layer_input(input, self.weight, self.in_channels, name="input", ndim=4)
        as_batch("input", input)  # the zero-size policy
        _output_hw((input.shape[2], input.shape[3]), self.kernel_size, self.stride,
                   self.padding, self.dilation, "kernel_size")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Deformable convolution of ``input`` (N, C_in, H, W) with its predicted offsets."""
        offset, mask = self.offsets_and_mask(input)
        geo = _sampling_geometry(input, offset, self.kernel_size, self.stride, self.padding,
                                 self.dilation, mask)
        return self.conv(_deformed_mosaic(input, offset, mask, geo)).contiguous()

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}")
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.offset_groups != 1:
            text += f", offset_groups={self.offset_groups}"
        if self.modulated:
            text += ", modulated=True"
        return text if self.bias is not None else text + ", bias=False"

