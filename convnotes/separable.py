"""Separable convolutions: split a kernel into cheaper pieces (chapter 6).

Two different things share the name.

* **Spatially separable**: a ``kh x kw`` kernel that is the outer product of a column and a row
  (a matrix of rank one) is applied as two 1-D passes, ``kh + kw`` instead of ``kh * kw``
  multiplications per output. :func:`separate_kernel` finds the factors with the singular value
  decomposition (and the best rank-``r`` factors of any kernel), :func:`is_separable` tests the
  rank, :func:`low_rank_kernel` / :func:`low_rank_error` give the best rank-``r`` approximation
  and its error, and :func:`separable_conv2d` runs the two passes (twin: ``F.conv2d`` with the
  outer-product kernel).
* **Depthwise separable** (Xception, MobileNet): a :func:`depthwise_conv2d` filters each
  channel on its own (``F.conv2d(groups=C_in)``), then a 1x1 convolution mixes the channels:
  :func:`depthwise_separable_conv2d`, the layer :class:`DepthwiseSeparableConv2d`, and
  :func:`depthwise_separable_kernel`, the full kernel the pair is equivalent to.

Between the two sits the **flattened** convolution of Jin et al.: every 3-D filter is the
product of three 1-D filters (across channels, vertical, horizontal), :func:`flattened_conv2d`
and :func:`flattened_kernel`.

The functions compute with the book's own :func:`convnotes.correlation.conv2d` (im2col + one
matrix product), so every pass is code the reader has seen; :class:`DepthwiseSeparableConv2d`,
the layer networks train, holds two ``nn.Conv2d`` for speed.

References
----------
* L. Sifre, "Rigid-motion scattering for image classification", PhD thesis, Ecole
  Polytechnique, 2014 (depthwise separable convolutions).
* F. Chollet, "Xception: deep learning with depthwise separable convolutions", CVPR 2017.
* A. G. Howard et al., "MobileNets: efficient convolutional neural networks for mobile vision
  applications", arXiv:1704.04861, 2017.
* J. Jin, A. Dundar and E. Culurciello, "Flattened convolutional neural networks for
  feedforward acceleration", arXiv:1412.5474, 2014.
* M. Jaderberg, A. Vedaldi and A. Zisserman, "Speeding up convolutional neural networks with
  low rank expansions", BMVC 2014.

Examples
--------
The Sobel kernel is a smoothing column times a difference row:

>>> sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
>>> is_separable(sobel)
True
>>> column, row = separate_kernel(sobel)
>>> column / column[0, 0], row * column[0, 0]
(tensor([[1., 2., 1.]]), tensor([[-1., 0., 1.]]))
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import (
    Padding2,
    Size2,
    as_batch,
    check_bool,
    check_conv_weight,
    check_finite,
    check_float_tensor,
    check_int,
    check_layer_input,
    check_number,
    check_one_of,
    check_same_device,
    check_same_dtype,
    check_window_fits,
    pair,
    unbatch,
)
from .correlation import conv2d

__all__ = [
    "DepthwiseSeparableConv2d",
    "depthwise_conv2d",
    "depthwise_separable_conv2d",
    "depthwise_separable_kernel",
    "flattened_conv2d",
    "flattened_kernel",
    "is_separable",
    "low_rank_error",
    "low_rank_kernel",
    "separable_conv2d",
    "separate_kernel",
]


# --------------------------------------------------------------------------------------------
# Rank, SVD factors and low-rank approximation
# --------------------------------------------------------------------------------------------


def _check_rank(rank: int, kh: int, kw: int) -> int:
    """``1 <= rank <= min(kh, kw)``: a ``kh x kw`` matrix has at most that many singular values."""
    rank = check_int("rank", rank, minimum=1)
    if rank > min(kh, kw):
        raise ValueError(f"rank must be <= min(kh, kw) = {min(kh, kw)} for a kernel of shape "
                         f"({kh}, {kw}), got {rank}")
    return rank


def _check_kernel_stack(name: str, weight: torch.Tensor) -> torch.Tensor:
    """A float tensor of shape (..., kh, kw) with finite values."""
    check_float_tensor(name, weight)
    if weight.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., kh, kw), got shape "
                         f"{tuple(weight.shape)}")
    check_finite(name, weight)
    return weight


def _fix_signs(left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose the sign of each singular pair so that results do not depend on the LAPACK build.

    ``u v^T = (-u)(-v)^T``: the SVD leaves each pair's sign free. We make the first entry of
    ``u`` whose magnitude is within 0.1% of the largest one positive (the tolerance keeps ties
    such as ``(-1, 0, 1)`` from being decided by rounding). ``left`` is (..., kh, r), ``right``
    (..., r, kw).
    """
    magnitude = left.abs()
    near_max = magnitude >= magnitude.amax(dim=-2, keepdim=True) * (1 - 1e-3)
    position = torch.arange(left.shape[-2], device=left.device)[:, None]
    first = torch.where(near_max, position, left.shape[-2]).amin(dim=-2, keepdim=True)
    first = first.clamp(max=left.shape[-2] - 1)
    signs = torch.sign(left.gather(-2, first))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)  # (..., 1, r)
    return left * signs, right * signs.transpose(-2, -1)


def separate_kernel(kernel: torch.Tensor, rank: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Column and row factors of a 2-D kernel from its SVD: the best rank-``rank`` split.

    Parameters
    ----------
    kernel : Tensor, shape (kh, kw)
        A floating-point 2-D kernel.
    rank : int, default 1
        Number of separable terms, ``1 <= rank <= min(kh, kw)``.

    Returns
    -------
    columns : Tensor, shape (rank, kh)
    rows : Tensor, shape (rank, kw)
        ``sum_i outer(columns[i], rows[i])`` is the best rank-``rank`` approximation of
        ``kernel`` (exactly ``kernel`` when its rank is at most ``rank``). Same dtype and
        device as ``kernel``.

    Raises
    ------
    TypeError
        ``kernel`` is not a floating-point tensor, or ``rank`` not an int.
    ValueError
        ``kernel`` is not 2-D or not finite; ``rank`` is out of range.

    Notes
    -----
    With the singular value decomposition :math:`K = \\sum_i \\sigma_i u_i v_i^\\top`
    (:math:`\\sigma_1 \\ge \\sigma_2 \\ge \\dots \\ge 0`), the factors are

    .. math::

        c_i = \\sqrt{\\sigma_i}\\, u_i, \\qquad r_i = \\sqrt{\\sigma_i}\\, v_i,
        \\qquad K_r = \\sum_{i=1}^{r} c_i r_i^\\top .

    By the Eckart-Young theorem :math:`K_r` is the closest rank-:math:`r` matrix to
    :math:`K` in the Frobenius norm, with error :math:`\\sqrt{\\sum_{i>r} \\sigma_i^2}`
    (:func:`low_rank_error`). Splitting :math:`\\sigma_i` evenly keeps both factors on the
    same scale; the sign of each pair is fixed so that the largest entry of :math:`u_i` is
    positive (the first of several equal ones). The SVD runs in float64.

    References
    ----------
    * M. Jaderberg, A. Vedaldi and A. Zisserman, "Speeding up convolutional neural networks
      with low rank expansions", BMVC 2014.

    Examples
    --------
    >>> columns, rows = separate_kernel(torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
    >>> columns.shape, rows.shape
    (torch.Size([1, 2]), torch.Size([1, 2]))
    >>> columns.T @ rows
    tensor([[1., 2.],
            [2., 4.]])
    """
    check_float_tensor("kernel", kernel, ndim=2)
    check_finite("kernel", kernel)
    kh, kw = kernel.shape
    rank = _check_rank(rank, kh, kw)
    u, s, vh = torch.linalg.svd(kernel.to(torch.float64), full_matrices=False)
    scale = s[:rank].sqrt()
    left, right = _fix_signs(u[:, :rank] * scale, scale[:, None] * vh[:rank])
    return left.T.to(kernel.dtype).contiguous(), right.to(kernel.dtype).contiguous()


def is_separable(kernel: torch.Tensor, tol: float | None = None) -> bool:
    """Whether a 2-D kernel is (numerically) an outer product of a column and a row.

    Parameters
    ----------
    kernel : Tensor, shape (kh, kw)
    tol : float, optional
        Relative tolerance: separable when :math:`\\sigma_2 \\le \\text{tol} \\cdot \\sigma_1`.
        Default ``max(kh, kw) * eps`` of ``kernel``'s dtype, the rule of
        ``torch.linalg.matrix_rank``, so ``is_separable(k)`` is ``matrix_rank(k) <= 1``.

    Returns
    -------
    bool
        ``True`` for rank 0 or 1 (a zero kernel, a single row or column included).

    Notes
    -----
    A matrix has rank one exactly when its second singular value is zero:

    .. math:: K = c\\, r^\\top \\iff \\sigma_2(K) = 0 .

    Examples
    --------
    >>> is_separable(torch.ones(3, 3)), is_separable(torch.eye(3))
    (True, False)
    """
    check_float_tensor("kernel", kernel, ndim=2)
    check_finite("kernel", kernel)
    kh, kw = kernel.shape
    if tol is None:
        tol = max(kh, kw) * torch.finfo(kernel.dtype).eps
    tol = check_number("tol", tol, minimum=0.0)
    if min(kh, kw) == 1:
        return True
    s = torch.linalg.svdvals(kernel.to(torch.float64))
    return bool(s[1] <= tol * s[0])


def low_rank_kernel(weight: torch.Tensor, rank: int) -> torch.Tensor:
    """Best rank-``rank`` approximation of every ``kh x kw`` kernel in a stack.

    Parameters
    ----------
    weight : Tensor, shape (..., kh, kw)
        Any leading dimensions, e.g. a ``(C_out, C_in, kh, kw)`` convolution weight.
    rank : int
        ``1 <= rank <= min(kh, kw)``.

    Returns
    -------
    Tensor, shape (..., kh, kw)
        Each kernel replaced by :math:`\\sum_{i \\le r} \\sigma_i u_i v_i^\\top` (SVD in float64,
        result in ``weight``'s dtype, on its device).

    Examples
    --------
    >>> low_rank_kernel(torch.diag(torch.tensor([3.0, 1.0])), 1)
    tensor([[3., 0.],
            [0., 0.]])
    """
    _check_kernel_stack("weight", weight)
    rank = _check_rank(rank, *weight.shape[-2:])
    u, s, vh = torch.linalg.svd(weight.to(torch.float64), full_matrices=False)
    approx = (u[..., :rank] * s[..., None, :rank]) @ vh[..., :rank, :]
    return approx.to(weight.dtype)


def low_rank_error(weight: torch.Tensor, rank: int) -> torch.Tensor:
    """Relative Frobenius error of the best rank-``rank`` approximation of each kernel.

    Parameters
    ----------
    weight : Tensor, shape (..., kh, kw)
    rank : int
        ``1 <= rank <= min(kh, kw)``.

    Returns
    -------
    Tensor, shape (...)
        ``||K - K_r||_F / ||K||_F`` per kernel, from the singular values (0 for a zero kernel).

    Notes
    -----
    Eckart-Young:

    .. math::

        \\frac{\\lVert K - K_r \\rVert_F}{\\lVert K \\rVert_F}
        = \\sqrt{\\frac{\\sum_{i > r} \\sigma_i^2}{\\sum_i \\sigma_i^2}} .

    Examples
    --------
    >>> low_rank_error(torch.diag(torch.tensor([3.0, 0.0, 4.0])), 1)
    tensor(0.6000)
    """
    _check_kernel_stack("weight", weight)
    rank = _check_rank(rank, *weight.shape[-2:])
    energy = torch.linalg.svdvals(weight.to(torch.float64)).square()
    total = energy.sum(dim=-1)
    tail = energy[..., rank:].sum(dim=-1)
    ratio = torch.where(total > 0, tail / torch.where(total > 0, total, 1.0), 0.0)
    return ratio.sqrt().to(weight.dtype)


# --------------------------------------------------------------------------------------------
# Shared validation of the torch operators
# --------------------------------------------------------------------------------------------


def _check_input(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A floating-point ``x`` as a 4-D batch (:func:`~convnotes._checks.as_batch`)."""
    check_float_tensor("x", x, ndim=(3, 4))
    return as_batch("x", x)


def _check_operand(name: str, tensor: torch.Tensor | None, x: torch.Tensor, ndim: int) -> None:
    """A float tensor of ``ndim`` dimensions with ``x``'s dtype (``None`` passes)."""
    if tensor is None:
        return
    check_float_tensor(name, tensor, ndim=ndim)
    check_same_dtype("x", x, **{name: tensor})


# --------------------------------------------------------------------------------------------
# Spatially separable convolution
# --------------------------------------------------------------------------------------------


def separable_conv2d(x: torch.Tensor, column: torch.Tensor, row: torch.Tensor,
                     bias: torch.Tensor | None = None, stride: Size2 = 1, padding: Size2 = 0,
                     dilation: Size2 = 1, groups: int = 1) -> torch.Tensor:
    """A convolution whose kernels are outer products, run as a vertical then a horizontal pass.

    Twin: ``F.conv2d(x, column[..., :, None] * row[..., None, :], bias, stride, padding,
    dilation, groups)``.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    column : Tensor, shape (C_out, C_in / groups, kh)
        Vertical factor of each kernel.
    row : Tensor, shape (C_out, C_in / groups, kw)
        Horizontal factor of each kernel.
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
        As in ``F.conv2d`` (padding as numbers of zeros).
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        The sizes of the full convolution.

    Notes
    -----
    For a kernel :math:`w[o, c, a, b] = \\text{col}[o, c, a]\\,\\text{row}[o, c, b]` the sum over
    the window splits into two 1-D sums (associativity of convolution):

    .. math::

        t[n, (c, o), i, q] &= \\sum_a \\text{col}[o, c, a]\\;
        x_{\\text{pad}}[n, c, s_h i + d_h a, q]
        \\\\
        y[n, o, i, j] &= b[o] + \\sum_{c} \\sum_b \\text{row}[o, c, b]\\;
        t_{\\text{pad}}[n, (c, o), i, s_w j + d_w b]

    The vertical pass is one depthwise convolution (``groups = C_in``, each input channel
    filtered by the columns of the ``C_out / groups`` kernels that read it), the horizontal pass
    one convolution with ``groups = C_out``, each summing its ``C_in / groups`` rows. Cost
    (:func:`convnotes.costs.spatially_separable_mults`):
    :math:`H_{out} W \\cdot C_{in} (C_{out}/g) \\cdot k_h + H_{out} W_{out} \\cdot C_{out}
    (C_{in}/g) \\cdot k_w` instead of :math:`H_{out} W_{out} \\cdot C_{out} (C_{in}/g)
    \\cdot k_h k_w`.

    Examples
    --------
    >>> x = torch.arange(25.0).reshape(1, 1, 5, 5)
    >>> column, row = torch.tensor([[[1.0, 2.0, 1.0]]]), torch.tensor([[[-1.0, 0.0, 1.0]]])
    >>> separable_conv2d(x, column, row)
    tensor([[[[8., 8., 8.],
              [8., 8., 8.],
              [8., 8., 8.]]]])
    """
    x4, batched = _check_input(x)
    _check_operand("column", column, x4, ndim=3)
    _check_operand("row", row, x4, ndim=3)
    _check_operand("bias", bias, x4, ndim=1)
    groups = check_int("groups", groups, minimum=1)
    (sh, sw), (dh, dw) = pair("stride", stride), pair("dilation", dilation)
    ph, pw = pair("padding", padding, minimum=0)
    in_channels = x4.shape[1]
    out_channels = check_conv_weight(column, bias, in_channels, groups, name="column")
    group_in, kh = column.shape[1:]
    check_conv_weight(row, None, in_channels, groups, name="row")
    if row.shape[:2] != column.shape[:2]:
        raise ValueError(f"row must have shape ({out_channels}, {group_in}, kw) to match column, "
                         f"got {tuple(row.shape)}")
    check_same_device(x=x4, column=column, row=row, bias=bias)
    kw, group_out = row.shape[2], out_channels // groups
    # vertical pass: input channel c = (g, c_l) feeds the C_out/g kernels of its group
    columns = column.reshape(groups, group_out, group_in, kh).transpose(1, 2)
    columns = columns.reshape(in_channels * group_out, 1, kh, 1)
    vertical = conv2d(x4, columns, stride=(sh, 1), padding=(ph, 0), dilation=(dh, 1),
                      groups=in_channels)  # (N, C_in * C_out/g, H_out, W): channels (g, c_l, o_l)
    batch, _, out_h, width = vertical.shape
    vertical = vertical.reshape(batch, groups, group_in, group_out, out_h, width).transpose(2, 3)
    vertical = vertical.reshape(batch, out_channels * group_in, out_h, width)  # (g, o_l, c_l)
    # horizontal pass: output o sums its C_in/g rows
    rows = row.reshape(out_channels, group_in, 1, kw)
    out = conv2d(vertical, rows, bias, stride=(1, sw), padding=(0, pw), dilation=(1, dw),
                 groups=out_channels)
    return unbatch(out, batched)


# --------------------------------------------------------------------------------------------
# Depthwise and depthwise separable convolution
# --------------------------------------------------------------------------------------------


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     stride: Size2 = 1, padding: Padding2 = 0, dilation: Size2 = 1
                     ) -> torch.Tensor:
    """Filter every input channel with its own kernel(s) (twin: ``F.conv2d(groups=C_in)``).

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (m * C_in, 1, kh, kw)
        ``m`` kernels per input channel (the depth multiplier); output channel
        ``c * m + j`` is input channel ``c`` filtered by kernel ``c * m + j``.
    bias : Tensor, shape (m * C_in,), optional
    stride, padding, dilation : int or (int, int)
        As in ``F.conv2d``.

    Returns
    -------
    Tensor, shape (N, m * C_in, H_out, W_out) or (m * C_in, H_out, W_out)

    Notes
    -----
    .. math::

        y[n, c m + j, i, q] = b[c m + j] + \\sum_{a, b} w[c m + j, 0, a, b]\\;
        x_{\\text{pad}}[n, c, s_h i + d_h a, s_w q + d_w b]

    A grouped convolution with one group per channel (chapter 5): no sum over channels, so
    :math:`H_{out} W_{out} \\cdot m C_{in} \\cdot k_h k_w` multiplications.

    Examples
    --------
    >>> x = torch.ones(1, 2, 3, 3)
    >>> w = torch.stack([torch.ones(1, 3, 3), 2 * torch.ones(1, 3, 3)])
    >>> depthwise_conv2d(x, w).flatten()
    tensor([ 9., 18.])
    """
    x4, batched = _check_input(x)
    _check_operand("weight", weight, x4, ndim=4)
    _check_operand("bias", bias, x4, ndim=1)
    in_channels = x4.shape[1]
    if weight.shape[1] != 1 or weight.shape[0] % in_channels != 0:
        raise ValueError(f"weight must have shape (multiplier * C_in, 1, kh, kw) with "
                         f"C_in={in_channels}, got {tuple(weight.shape)}")
    check_conv_weight(weight, bias, in_channels, in_channels)
    check_same_device(x=x4, weight=weight, bias=bias)
    out = conv2d(x4, weight, bias, stride=stride, padding=padding, dilation=dilation,
                 groups=in_channels)
    return unbatch(out, batched)


def _check_pointwise(pointwise_weight: torch.Tensor, x: torch.Tensor, mid_channels: int) -> None:
    _check_operand("pointwise_weight", pointwise_weight, x, ndim=4)
    if pointwise_weight.shape[1:] != (mid_channels, 1, 1):
        raise ValueError(f"pointwise_weight must have shape (C_out, {mid_channels}, 1, 1) for "
                         f"{mid_channels} depthwise channels, got {tuple(pointwise_weight.shape)}")


def depthwise_separable_conv2d(x: torch.Tensor, depthwise_weight: torch.Tensor,
                               pointwise_weight: torch.Tensor,
                               bias: torch.Tensor | None = None, stride: Size2 = 1,
                               padding: Padding2 = 0, dilation: Size2 = 1) -> torch.Tensor:
    """A depthwise ``k x k`` convolution followed by a pointwise ``1 x 1`` convolution.

    Twin: ``F.conv2d(F.conv2d(x, depthwise_weight, None, stride, padding, dilation,
    groups=C_in), pointwise_weight, bias)``.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    depthwise_weight : Tensor, shape (m * C_in, 1, kh, kw)
        Spatial filters, ``m`` per input channel (see :func:`depthwise_conv2d`).
    pointwise_weight : Tensor, shape (C_out, m * C_in, 1, 1)
        Channel mixing.
    bias : Tensor, shape (C_out,), optional
        Added after the pointwise step (the depthwise step has none, as in Keras'
        ``SeparableConv2D``).
    stride, padding, dilation : int or (int, int)
        Of the depthwise step; the pointwise step has stride 1 and no padding.

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)

    Notes
    -----
    .. math::

        y[n, o] = b[o] + \\sum_{c, j} p[o, c m + j]\\; \\big(x[n, c] \\star d[c m + j]\\big)

    This is one ordinary convolution with the kernel
    :math:`w[o, c] = \\sum_j p[o, c m + j]\\, d[c m + j]` (:func:`depthwise_separable_kernel`):
    every output filter mixes the same ``m * C_in`` spatial kernels. Cost:
    :math:`H_{out} W_{out} (m C_{in} k_h k_w + m C_{in} C_{out})` instead of
    :math:`H_{out} W_{out} C_{in} C_{out} k_h k_w`, a ratio of
    :math:`1/C_{out} + 1/(k_h k_w)` for ``m = 1``
    (:func:`convnotes.costs.depthwise_separable_mults`).

    References
    ----------
    * F. Chollet, "Xception: deep learning with depthwise separable convolutions", CVPR 2017.
    * A. G. Howard et al., "MobileNets: efficient convolutional neural networks for mobile
      vision applications", arXiv:1704.04861, 2017.

    Examples
    --------
    >>> x = torch.randn(1, 3, 7, 7)
    >>> y = depthwise_separable_conv2d(x, torch.randn(3, 1, 3, 3), torch.randn(128, 3, 1, 1))
    >>> y.shape
    torch.Size([1, 128, 5, 5])
    """
    x4, batched = _check_input(x)
    _check_operand("depthwise_weight", depthwise_weight, x4, ndim=4)
    _check_operand("bias", bias, x4, ndim=1)
    in_channels = x4.shape[1]
    if depthwise_weight.shape[1] != 1 or depthwise_weight.shape[0] % in_channels != 0:
        raise ValueError(f"depthwise_weight must have shape (multiplier * C_in, 1, kh, kw) with "
                         f"C_in={in_channels}, got {tuple(depthwise_weight.shape)}")
    check_conv_weight(depthwise_weight, None, in_channels, in_channels, name="depthwise_weight")
    _check_pointwise(pointwise_weight, x4, depthwise_weight.shape[0])
    check_conv_weight(pointwise_weight, bias, depthwise_weight.shape[0], 1,
                      name="pointwise_weight")
    check_same_device(x=x4, depthwise_weight=depthwise_weight,
                      pointwise_weight=pointwise_weight, bias=bias)
    spatial = depthwise_conv2d(x4, depthwise_weight, stride=stride, padding=padding,
                               dilation=dilation)
    return unbatch(conv2d(spatial, pointwise_weight, bias), batched)


def depthwise_separable_kernel(depthwise_weight: torch.Tensor, pointwise_weight: torch.Tensor,
                               multiplier: int = 1) -> torch.Tensor:
    """The full convolution kernel that a depthwise + pointwise pair computes.

    Parameters
    ----------
    depthwise_weight : Tensor, shape (m * C_in, 1, kh, kw)
    pointwise_weight : Tensor, shape (C_out, m * C_in, 1, 1)
    multiplier : int, default 1
        ``m``, the kernels per input channel.

    Returns
    -------
    Tensor, shape (C_out, C_in, kh, kw)
        ``F.conv2d(x, kernel, ...)`` equals :func:`depthwise_separable_conv2d` with the same
        stride, padding and dilation.

    Notes
    -----
    .. math:: w[o, c, a, b] = \\sum_{j=0}^{m-1} p[o, c m + j]\\; d[c m + j, a, b]

    For ``m = 1`` each slice :math:`w[:, c]` is the single kernel :math:`d[c]` scaled by the
    column :math:`p[:, c]`: the ``C_out x C_in`` grid of kernels has only ``C_in`` distinct
    shapes.

    Examples
    --------
    >>> depthwise = torch.arange(1.0, 3.0).reshape(2, 1, 1, 1)   # two 1x1 "kernels": 1 and 2
    >>> pointwise = torch.tensor([[1.0, 1.0], [3.0, -1.0]]).reshape(2, 2, 1, 1)
    >>> depthwise_separable_kernel(depthwise, pointwise).flatten()
    tensor([ 1.,  2.,  3., -2.])
    """
    check_float_tensor("depthwise_weight", depthwise_weight, ndim=4)
    multiplier = check_int("multiplier", multiplier, minimum=1)
    mid, one, kh, kw = depthwise_weight.shape
    if one != 1 or mid % multiplier != 0:
        raise ValueError(f"depthwise_weight must have shape (multiplier * C_in, 1, kh, kw) with "
                         f"multiplier={multiplier}, got {tuple(depthwise_weight.shape)}")
    _check_pointwise(pointwise_weight, depthwise_weight, mid)
    check_same_device(depthwise_weight=depthwise_weight, pointwise_weight=pointwise_weight)
    in_channels = mid // multiplier
    spatial = depthwise_weight.reshape(in_channels, multiplier, kh, kw)
    mixing = pointwise_weight.reshape(-1, in_channels, multiplier)
    return torch.einsum("ocj,cjab->ocab", mixing, spatial)


class DepthwiseSeparableConv2d(nn.Module):
    """Depthwise ``k x k`` convolution then pointwise ``1 x 1`` convolution, as one layer.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, padding, dilation : int or (int, int)
        Of the depthwise convolution (``padding`` may also be ``"same"`` or ``"valid"``, as in
        ``nn.Conv2d``).
    bias : bool, default True
        A bias on the pointwise convolution (the depthwise one has none).
    multiplier : int, default 1
        Depthwise kernels per input channel (the depth multiplier of Xception/Keras).
    device, dtype : optional
        Where and in which dtype to create the parameters, as in ``nn.Conv2d``.

    Attributes
    ----------
    depthwise : nn.Conv2d
        ``Conv2d(in_channels, multiplier * in_channels, kernel_size, groups=in_channels)``.
    pointwise : nn.Conv2d
        ``Conv2d(multiplier * in_channels, out_channels, 1)``.

    Notes
    -----
    Input (N, C_in, H, W), output (N, C_out, H_out, W_out) with the output size of the
    depthwise convolution. The two parts are ``nn.Conv2d`` modules so that tools which walk a
    model's ``nn.Conv2d`` layers (counting multiplications, pruning, quantisation) see both;
    ``forward`` equals :func:`depthwise_separable_conv2d` with ``depthwise`` and
    ``pointwise`` weights. No normalisation or nonlinearity sits between the two parts
    (Xception's choice); MobileNet adds batch norm and ReLU after each.

    References
    ----------
    * F. Chollet, "Xception: deep learning with depthwise separable convolutions", CVPR 2017.
    * A. G. Howard et al., "MobileNets: efficient convolutional neural networks for mobile
      vision applications", arXiv:1704.04861, 2017.

    Examples
    --------
    >>> layer = DepthwiseSeparableConv2d(3, 128, 3)
    >>> layer(torch.randn(1, 3, 7, 7)).shape
    torch.Size([1, 128, 5, 5])
    >>> sum(p.numel() for p in layer.parameters())   # 27 + 384 weights + 128 biases
    539
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size2, stride: Size2 = 1,
                 padding: Padding2 = 0, dilation: Size2 = 1, bias: bool = True,
                 multiplier: int = 1, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        multiplier = check_int("multiplier", multiplier, minimum=1)
        kernel_size = pair("kernel_size", kernel_size)
        stride, dilation = pair("stride", stride), pair("dilation", dilation)
        if isinstance(padding, str):
            check_one_of("padding", padding, ("same", "valid"))
        else:
            padding = pair("padding", padding, minimum=0)
        if padding == "same" and stride != (1, 1):
            raise ValueError(f"padding='same' needs stride=1 (as in nn.Conv2d), got "
                             f"stride={stride}")
        bias = check_bool("bias", bias)
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        self.multiplier = multiplier
        self.depthwise = nn.Conv2d(in_channels, multiplier * in_channels, kernel_size, stride,
                                   padding, dilation, groups=in_channels, bias=False,
                                   device=device, dtype=dtype)
        self.pointwise = nn.Conv2d(multiplier * in_channels, out_channels, 1, bias=bias,
                                   device=device, dtype=dtype)

    @property
    def in_channels(self) -> int:
        return self.depthwise.in_channels

    @property
    def out_channels(self) -> int:
        return self.pointwise.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out) or (C_out, ...)."""
        check_layer_input(x, self.depthwise.weight, self.in_channels)
        as_batch("x", x)  # the zero-size policy
        conv = self.depthwise
        if not isinstance(conv.padding, str):
            check_window_fits("kernel_size", conv.kernel_size, conv.dilation,
                              tuple(x.shape[-2:]), conv.padding)
        return self.pointwise(self.depthwise(x))

    def full_weight(self) -> torch.Tensor:
        """The equivalent ``(C_out, C_in, kh, kw)`` kernel (:func:`depthwise_separable_kernel`)."""
        return depthwise_separable_kernel(self.depthwise.weight, self.pointwise.weight,
                                          self.multiplier)


# --------------------------------------------------------------------------------------------
# Flattened convolution
# --------------------------------------------------------------------------------------------


def _check_flattened_factors(channel_weight: torch.Tensor, vertical_weight: torch.Tensor,
                             horizontal_weight: torch.Tensor) -> None:
    check_float_tensor("channel_weight", channel_weight, ndim=2)
    check_float_tensor("vertical_weight", vertical_weight, ndim=2)
    check_float_tensor("horizontal_weight", horizontal_weight, ndim=2)
    out_channels = channel_weight.shape[0]
    for name, factor in (("vertical_weight", vertical_weight),
                         ("horizontal_weight", horizontal_weight)):
        if factor.shape[0] != out_channels:
            raise ValueError(f"{name} must have one row per output channel "
                             f"({out_channels}, k), got shape {tuple(factor.shape)}")
        check_same_dtype("channel_weight", channel_weight, **{name: factor})
    check_same_device(channel_weight=channel_weight, vertical_weight=vertical_weight,
                      horizontal_weight=horizontal_weight)


def flattened_kernel(channel_weight: torch.Tensor, vertical_weight: torch.Tensor,
                     horizontal_weight: torch.Tensor) -> torch.Tensor:
    """The rank-one 3-D kernels of a flattened layer, as one ``(C_out, C_in, kh, kw)`` weight.

    Parameters
    ----------
    channel_weight : Tensor, shape (C_out, C_in)
        The lateral 1-D filter of each output channel (across the input channels).
    vertical_weight : Tensor, shape (C_out, kh)
    horizontal_weight : Tensor, shape (C_out, kw)

    Returns
    -------
    Tensor, shape (C_out, C_in, kh, kw)

    Notes
    -----
    .. math:: w[o, c, a, b] = \\alpha[o, c]\\; \\beta[o, a]\\; \\gamma[o, b]

    Examples
    --------
    >>> flattened_kernel(torch.ones(1, 2), torch.tensor([[1.0, 2.0]]), torch.ones(1, 1)).shape
    torch.Size([1, 2, 2, 1])
    """
    _check_flattened_factors(channel_weight, vertical_weight, horizontal_weight)
    return torch.einsum("oc,oa,ob->ocab", channel_weight, vertical_weight, horizontal_weight)


def flattened_conv2d(x: torch.Tensor, channel_weight: torch.Tensor,
                     vertical_weight: torch.Tensor, horizontal_weight: torch.Tensor,
                     bias: torch.Tensor | None = None, stride: Size2 = 1, padding: Size2 = 0,
                     dilation: Size2 = 1) -> torch.Tensor:
    """Flattened convolution: three 1-D filters in sequence (lateral, vertical, horizontal).

    Twin: ``F.conv2d(x, flattened_kernel(channel_weight, vertical_weight, horizontal_weight),
    bias, stride, padding, dilation)``.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    channel_weight : Tensor, shape (C_out, C_in)
    vertical_weight : Tensor, shape (C_out, kh)
    horizontal_weight : Tensor, shape (C_out, kw)
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
        Of the equivalent ``kh x kw`` convolution.

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)

    Notes
    -----
    Each output channel :math:`o` has a rank-one 3-D filter
    :math:`w[o] = \\alpha_o \\otimes \\beta_o \\otimes \\gamma_o`, so

    .. math::

        y[o] = b[o] + \\gamma_o \\star_{\\text{horizontal}} \\Big(\\beta_o
        \\star_{\\text{vertical}} \\sum_c \\alpha[o, c]\\, x[c] \\Big):

    a 1x1 convolution ``C_in -> C_out`` (on the unpadded input: zero padding commutes with
    it), then a ``kh x 1`` and a ``1 x kw`` depthwise convolution. Cost
    (:func:`convnotes.costs.flattened_conv_mults`):
    :math:`H W C_{in} C_{out} + H_{out} W C_{out} k_h + H_{out} W_{out} C_{out} k_w`.

    References
    ----------
    * J. Jin, A. Dundar and E. Culurciello, "Flattened convolutional neural networks for
      feedforward acceleration", arXiv:1412.5474, 2014.

    Examples
    --------
    >>> x = torch.ones(1, 2, 4, 4)
    >>> flattened_conv2d(x, torch.ones(1, 2), torch.ones(1, 3), torch.ones(1, 3)).flatten()
    tensor([18., 18., 18., 18.])
    """
    x4, batched = _check_input(x)
    _check_operand("channel_weight", channel_weight, x4, ndim=2)
    _check_flattened_factors(channel_weight, vertical_weight, horizontal_weight)
    out_channels, in_channels = channel_weight.shape
    if in_channels != x4.shape[1]:
        raise ValueError(f"channel_weight must have shape (C_out, C_in = {x4.shape[1]}), "
                         f"got {tuple(channel_weight.shape)}")
    _check_operand("bias", bias, x4, ndim=1)
    if bias is not None and tuple(bias.shape) != (out_channels,):
        check_conv_weight(channel_weight[:, :, None, None], bias, in_channels, 1,
                          name="channel_weight")
    check_same_device(x=x4, channel_weight=channel_weight, bias=bias)
    (sh, sw), (dh, dw) = pair("stride", stride), pair("dilation", dilation)
    ph, pw = pair("padding", padding, minimum=0)
    lateral = conv2d(x4, channel_weight[:, :, None, None])
    vertical = depthwise_conv2d(lateral, vertical_weight[:, None, :, None], stride=(sh, 1),
                                padding=(ph, 0), dilation=(dh, 1))
    out = depthwise_conv2d(vertical, horizontal_weight[:, None, None, :], bias, stride=(1, sw),
                           padding=(0, pw), dilation=(1, dw))
    return unbatch(out, batched)
