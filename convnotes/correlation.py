"""Convolution and cross-correlation: the mathematician's operator and the CNN's (chapter 1).

Two families live here.

* NumPy signal functions that mirror ``scipy.signal`` (``mode="full" | "same" | "valid"``,
  1-D and 2-D, real input): :func:`convolve` flips the kernel, :func:`correlate` does not,
  :func:`fft_convolve` computes the convolution through the convolution theorem, and
  :func:`conv_matrix` writes a valid 2-D correlation as one matrix.
* Torch CNN operators that mirror ``torch.nn.functional`` (NCHW):
  :func:`im2col` (``F.unfold``), :func:`col2im` (``F.fold``) and :func:`conv2d`
  (``F.conv2d``), built as im2col followed by one batched matrix product.

References
----------
- V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
  arXiv:1603.07285, 2016.
- K. Chellapilla, S. Puri and P. Simard, "High performance convolutional neural
  networks for document processing", 10th International Workshop on Frontiers in
  Handwriting Recognition, 2006 (im2col + GEMM).
- A. V. Oppenheim and R. W. Schafer, "Discrete-Time Signal Processing", 3rd ed.,
  Pearson, 2010 (the convolution theorem).

Examples
--------
>>> convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
array([0. , 1. , 2.5, 4. , 1.5])
>>> correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
array([0.5, 2. , 3.5, 3. , 0. ])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import (
    Padding2,
    Size2,
    as_batch,
    check_bool,
    check_conv_operands,
    check_conv_weight,
    check_float_tensor,
    check_int,
    check_one_of,
    check_real,
    check_window_fits,
    ensure_array,
    pair,
    unbatch,
)
from .arithmetic import conv_output_size

if TYPE_CHECKING:
    from scipy.sparse import csr_array

__all__ = [
    "col2im",
    "conv2d",
    "conv_matrix",
    "convolve",
    "correlate",
    "fft_convolve",
    "im2col",
]

Mode = Literal["full", "same", "valid"]
_MODES = ("full", "same", "valid")


# --------------------------------------------------------------------------------------------
# NumPy signal functions (twin: scipy.signal)
# --------------------------------------------------------------------------------------------


def _signal_pair(x: npt.ArrayLike, k: npt.ArrayLike,
                 mode: str) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """Validate the two operands of a scipy-style function and return them with the result dtype.

    Both must be real, non-empty, and of the same rank (1 or 2); ``mode`` must be one of
    full/same/valid, and for ``valid`` one operand must be at least as large as the other in
    every dimension (scipy's rule).
    """
    check_one_of("mode", mode, _MODES)
    x = ensure_array("x", x, ndim=(1, 2))
    k = ensure_array("k", k, ndim=(1, 2))
    for name, array in (("x", x), ("k", k)):
        check_real(name, array)
        if array.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if x.ndim != k.ndim:
        raise ValueError(f"x and k must have the same number of dimensions, got x of shape "
                         f"{x.shape} and k of shape {k.shape}")
    if mode == "valid" and not _one_covers_other(x.shape, k.shape):
        raise ValueError(f"for mode='valid' one of x, k must be at least as large as the other "
                         f"in every dimension, got x of shape {x.shape} and k of shape {k.shape}")
    dtype = np.result_type(x, k)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return x.astype(dtype, copy=False), k.astype(dtype, copy=False), dtype


def _one_covers_other(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> bool:
    a_covers = all(a >= b for a, b in zip(shape_a, shape_b, strict=True))
    b_covers = all(b >= a for a, b in zip(shape_a, shape_b, strict=True))
    return a_covers or b_covers


def _crop_full(full: np.ndarray, x_shape: tuple[int, ...], k_shape: tuple[int, ...],
               mode: str) -> np.ndarray:
    """Cut the ``mode`` output out of the full convolution, centred as scipy does.

    ``same`` has ``x``'s shape; ``valid`` has shape ``|N - M| + 1`` per dimension. Both start at
    ``(full_size - out_size) // 2``, i.e. ``(M - 1) // 2`` for ``same``.
    """
    if mode == "full":
        return full
    if mode == "same":
        target = x_shape
    else:
        target = tuple(abs(n - m) + 1 for n, m in zip(x_shape, k_shape, strict=True))
    starts = [(have - want) // 2 for have, want in zip(full.shape, target, strict=True)]
    window = tuple(slice(s, s + want) for s, want in zip(starts, target, strict=True))
    return full[window]


def _full_convolution_direct(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Full convolution by definition: each window of the zero-padded ``x`` times flipped ``k``."""
    border = [(m - 1, m - 1) for m in k.shape]
    windows = sliding_window_view(np.pad(x, border), k.shape)
    flipped = k[(slice(None, None, -1),) * k.ndim]
    subscripts = "ia,a->i" if k.ndim == 1 else "ijab,ab->ij"
    return np.einsum(subscripts, windows, flipped)


def convolve(x: npt.ArrayLike, k: npt.ArrayLike, mode: Mode = "full") -> np.ndarray:
    """Discrete convolution of 1-D or 2-D real arrays (twin: ``scipy.signal.convolve``).

    .. math::

        (x * k)[n] = \\sum_m x[m]\\, k[n - m]

    The kernel is flipped: output ``n`` pairs ``x[m]`` with ``k[n - m]``.

    Parameters
    ----------
    x : array-like, shape (N,) or (N1, N2)
        The signal (``in1`` in scipy).
    k : array-like, shape (M,) or (M1, M2)
        The kernel (``in2``), of the same rank as ``x``.
    mode : {"full", "same", "valid"}
        ``full``: every overlap, shape ``N + M - 1``; ``same``: ``x``'s shape, centred in the
        full output as scipy centres it (start ``(M - 1) // 2``); ``valid``: only complete
        overlaps, shape ``|N - M| + 1`` (one operand must cover the other).

    Returns
    -------
    ndarray
        Floating point (``np.result_type(x, k)``, float64 for integer input).

    Raises
    ------
    TypeError
        Complex, non-numeric or torch input.
    ValueError
        Bad ``mode``, ranks other than 1 or 2 or unequal, empty input, or ``valid`` with
        neither operand covering the other.

    Notes
    -----
    Direct evaluation costs :math:`\\prod N_i \\cdot \\prod M_i` multiplications (full mode);
    :func:`fft_convolve` computes the same numbers through the convolution theorem.

    Examples
    --------
    >>> convolve([1, 2, 3], [1, 1], mode="full")
    array([1., 3., 5., 3.])
    >>> convolve([1, 2, 3], [1, 1], mode="valid")
    array([3., 5.])
    """
    x, k, _ = _signal_pair(x, k, mode)
    return _crop_full(_full_convolution_direct(x, k), x.shape, k.shape, mode)


def correlate(x: npt.ArrayLike, k: npt.ArrayLike, mode: Mode = "full") -> np.ndarray:
    """Cross-correlation of two 1-D or 2-D real arrays (twin: ``scipy.signal.correlate``).

    .. math::

        (x \\star k)[n] = \\sum_m x[n + m]\\, k[m]

    The kernel slides over ``x`` without flipping: this is what CNN layers compute. For real
    input it equals the convolution with the flipped kernel, which is how scipy defines its
    output index and its ``same``/``valid`` centring; correlation is not commutative:
    ``correlate(k, x)`` is ``correlate(x, k)`` reversed.

    Parameters
    ----------
    x : array-like, shape (N,) or (N1, N2)
    k : array-like, shape (M,) or (M1, M2)
    mode : {"full", "same", "valid"}
        As in :func:`convolve`.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> correlate([1, 2, 3, 4], [1, -1], mode="valid")   # differences x[n] - x[n + 1]
    array([-1., -1., -1.])
    """
    x, k, _ = _signal_pair(x, k, mode)
    return convolve(x, k[(slice(None, None, -1),) * k.ndim], mode)


def fft_convolve(x: npt.ArrayLike, k: npt.ArrayLike, mode: Mode = "full") -> np.ndarray:
    """Convolution through the FFT (twin: ``scipy.signal.fftconvolve``).

    The convolution theorem: the spectrum of a (zero-padded, hence linear rather than
    circular) convolution is the product of the spectra,

    .. math::

        x * k = \\mathcal{F}^{-1}\\left( \\mathcal{F}(x) \\cdot \\mathcal{F}(k) \\right),

    with both operands zero-padded to the full size ``N + M - 1`` (rounded up to a fast FFT
    length), so the circular wrap-around never reaches the kept samples.

    Parameters
    ----------
    x : array-like, shape (N,) or (N1, N2)
    k : array-like, shape (M,) or (M1, M2)
    mode : {"full", "same", "valid"}
        As in :func:`convolve`.

    Returns
    -------
    ndarray
        Equal to :func:`convolve` up to floating-point rounding (about 1e-12 relative); float16
        operands are transformed, and returned, in float32, as by ``scipy.signal.fftconvolve``.

    Notes
    -----
    Costs :math:`O(P \\log P)` for ``P`` padded samples, independent of the kernel size, whereas
    direct convolution costs :math:`O(N M)`; the crossover is measured in chapter 1.
    Through the FFT every output sample depends on every input sample: one NaN or infinity
    in ``x`` or ``k`` makes the whole result NaN (as in ``scipy.signal.fftconvolve``), where
    :func:`convolve` keeps it to the outputs that overlap it.

    Examples
    --------
    >>> np.round(fft_convolve([1, 2, 3], [1, 1]), 10)
    array([1., 3., 5., 3.])
    """
    from scipy import fft as sp_fft

    x, k, dtype = _signal_pair(x, k, mode)
    full_shape = tuple(n + m - 1 for n, m in zip(x.shape, k.shape, strict=True))
    fast_shape = tuple(sp_fft.next_fast_len(n, real=True) for n in full_shape)
    axes = tuple(range(x.ndim))
    spectrum = sp_fft.rfftn(x, fast_shape, axes=axes) * sp_fft.rfftn(k, fast_shape, axes=axes)
    full = sp_fft.irfftn(spectrum, fast_shape, axes=axes)
    # scipy.fft has no float16: it transforms in float32, and fftconvolve returns float32
    result_dtype = np.promote_types(dtype, np.float32)
    full = full[tuple(slice(0, n) for n in full_shape)].astype(result_dtype, copy=False)
    return _crop_full(full, x.shape, k.shape, mode)


@overload
def conv_matrix(input_shape: Size2, kernel: npt.ArrayLike, *,
                sparse: Literal[False] = False) -> np.ndarray: ...
@overload
def conv_matrix(input_shape: Size2, kernel: npt.ArrayLike, *,
                sparse: Literal[True]) -> csr_array: ...
def conv_matrix(input_shape: Size2, kernel: npt.ArrayLike, *,
                sparse: bool = False) -> np.ndarray | csr_array:
    """The matrix ``M`` of a valid 2-D cross-correlation: ``M @ x.ravel()`` is its ravelled output.

    ``M @ x.ravel() == correlate(x, kernel, "valid").ravel()`` for every ``x`` of shape
    ``input_shape``.

    Each row holds the kernel laid out at one window position, so ``M`` is doubly-blocked
    Toeplitz: an ``(H - kh + 1) x H`` grid of blocks, block ``(i, j)`` depending only on
    ``j - i``, each block itself an ``(W - kw + 1) x W`` Toeplitz matrix.

    .. math::

        M[(i, j),\\ (i + a, j + b)] = k[a, b], \\qquad 0 \\le a < k_h,\\ 0 \\le b < k_w

    Its transpose ``M.T`` maps the output back to the input's shape: that is the transposed
    convolution of chapter 3.

    Parameters
    ----------
    input_shape : (int, int)
        ``(H, W)`` of the input.
    kernel : array-like, shape (kh, kw)
        Real kernel, ``kh <= H`` and ``kw <= W``.
    sparse : bool, default False
        Return a dense ``ndarray`` (default: small examples, easy to print) or a
        ``scipy.sparse.csr_array`` (only ``kh * kw`` non-zeros per row).

    Returns
    -------
    ndarray or scipy.sparse.csr_array, shape ((H - kh + 1) * (W - kw + 1), H * W)

    Examples
    --------
    >>> conv_matrix((3, 3), [[1, 2], [3, 4]]).astype(int)
    array([[1, 2, 0, 3, 4, 0, 0, 0, 0],
           [0, 1, 2, 0, 3, 4, 0, 0, 0],
           [0, 0, 0, 1, 2, 0, 3, 4, 0],
           [0, 0, 0, 0, 1, 2, 0, 3, 4]])
    """
    height, width = pair("input_shape", input_shape)
    kernel = ensure_array("kernel", kernel, ndim=2)
    check_real("kernel", kernel)
    sparse = check_bool("sparse", sparse)
    kh, kw = kernel.shape
    if kernel.size == 0:
        raise ValueError(f"kernel must not be empty, got shape {kernel.shape}")
    if kh > height or kw > width:
        raise ValueError(f"kernel must fit in input_shape={(height, width)} for a valid "
                         f"correlation, got kernel of shape {kernel.shape}")
    out_h, out_w = height - kh + 1, width - kw + 1
    dtype = kernel.dtype if np.issubdtype(kernel.dtype, np.floating) else np.float64
    out_rows = np.arange(out_h)[:, None, None, None]
    out_cols = np.arange(out_w)[None, :, None, None]
    taps_a = np.arange(kh)[None, None, :, None]
    taps_b = np.arange(kw)[None, None, None, :]
    rows = np.broadcast_to(out_rows * out_w + out_cols, (out_h, out_w, kh, kw))
    cols = (out_rows + taps_a) * width + (out_cols + taps_b)
    values = np.broadcast_to(kernel.astype(dtype), (out_h, out_w, kh, kw))
    shape = (out_h * out_w, height * width)
    if sparse:
        from scipy.sparse import csr_array

        return csr_array((values.ravel(), (rows.ravel(), cols.ravel())), shape=shape)
    matrix = np.zeros(shape, dtype=dtype)
    matrix[rows.ravel(), cols.ravel()] = values.ravel()
    return matrix


# --------------------------------------------------------------------------------------------
# Torch CNN operators (twins: F.unfold, F.fold, F.conv2d)
# --------------------------------------------------------------------------------------------


def _window_index(kernel_size: int, stride: int, dilation: int, out_size: int,
                  device: torch.device) -> torch.Tensor:
    """Padded-input positions read by (tap, output position): shape (kernel_size, out_size)."""
    taps = dilation * torch.arange(kernel_size, device=device)
    starts = stride * torch.arange(out_size, device=device)
    return taps[:, None] + starts[None, :]


_Pairs = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int],
               tuple[int, int]]


def _unfold_geometry(height: int, width: int, kernel_size: Size2, stride: Size2, padding: Size2,
                     dilation: Size2, kernel_name: str = "kernel_size",
                     input_name: str = "x") -> _Pairs:
    """Checked pairs (kernel, stride, padding, dilation) and the output size (oh, ow).

    ``kernel_name`` is how the caller gave the window (``"weight"`` for a weight's shape).
    """
    kh, kw = pair(kernel_name, kernel_size)
    sh, sw = pair("stride", stride)
    ph, pw = pair("padding", padding, minimum=0)
    dh, dw = pair("dilation", dilation)
    check_window_fits(kernel_name, (kh, kw), (dh, dw), (height, width), (ph, pw), input_name)
    oh = conv_output_size(height, kh, sh, ph, dh)
    ow = conv_output_size(width, kw, sw, pw, dw)
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow)


def im2col(x: torch.Tensor, kernel_size: Size2, *, stride: Size2 = 1, padding: Size2 = 0,
           dilation: Size2 = 1) -> torch.Tensor:
    """Copy every window of the input into a column (twin: ``F.unfold``).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride, padding, dilation : int or (int, int), keyword-only
        As in ``F.unfold``. Keyword-only because ``F.unfold`` orders them ``dilation,
        padding, stride``: a positional call in torch's order must fail (``TypeError``),
        not compute another geometry.

    Returns
    -------
    Tensor, shape (N, C * kh * kw, L) or (C * kh * kw, L)
        Row ``c * kh * kw + a * kw + b`` holds tap ``(a, b)`` of channel ``c``; column
        ``l = i * W_out + j`` is output position ``(i, j)``; ``L = H_out * W_out``.

    Notes
    -----
    .. math::

        \\text{cols}[n, (c, a, b), (i, j)] =
        x_{\\text{pad}}[n, c, s_h i + d_h a, s_w j + d_w b]

    Built by advanced indexing of the zero-padded input with a (kh, kw, H_out, W_out) index
    grid, so autograd differentiates it (the backward is a scatter-add: :func:`col2im`).

    Examples
    --------
    >>> x = torch.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2)
    tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]])
    """
    check_float_tensor("x", x, ndim=(3, 4))
    x4, batched = as_batch("x", x)
    batch, channels, height, width = x4.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _unfold_geometry(
        height, width, kernel_size, stride, padding, dilation)
    padded = F.pad(x4, (pw, pw, ph, ph))
    rows = _window_index(kh, sh, dh, oh, x.device)  # (kh, oh)
    cols = _window_index(kw, sw, dw, ow, x.device)   # (kw, ow)
    windows = padded[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # (N, C, kh, kw, oh, ow)
    out = windows.reshape(batch, channels * kh * kw, oh * ow)
    return unbatch(out, batched)


def col2im(cols: torch.Tensor, output_size: Size2, kernel_size: Size2, *, stride: Size2 = 1,
           padding: Size2 = 0, dilation: Size2 = 1) -> torch.Tensor:
    """Sum every column back into its window of the image (twin: ``F.fold``).

    The adjoint of :func:`im2col`: overlapping windows add up, so
    ``col2im(im2col(x))`` is ``x`` times the number of windows covering each pixel.

    Parameters
    ----------
    cols : Tensor, shape (N, C * kh * kw, L) or (C * kh * kw, L)
        Layout as returned by :func:`im2col`.
    output_size : int or (int, int)
        ``(H, W)`` of the image to rebuild (before padding).
    kernel_size : int or (int, int)
    stride, padding, dilation : int or (int, int), keyword-only
        As in ``F.fold`` (keyword-only, as in :func:`im2col`).

    Returns
    -------
    Tensor, shape (N, C, H, W) or (C, H, W)

    Raises
    ------
    ValueError
        When ``cols.shape[-2]`` is not a multiple of ``kh * kw`` or ``L`` differs from the
        number of windows ``H_out * W_out`` that the geometry implies.

    Notes
    -----
    .. math::

        y_{\\text{pad}}[n, c, p, q] = \\sum_{(a, b, i, j):\\ s_h i + d_h a = p,\\ s_w j + d_w b = q}
        \\text{cols}[n, (c, a, b), (i, j)]

    computed with one ``index_add`` over the flattened padded image.

    Examples
    --------
    >>> col2im(torch.ones(1, 4, 4), 3, 2)   # output_size 3, kernel_size 2
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    check_float_tensor("cols", cols, ndim=(2, 3))
    cols3, batched = as_batch("cols", cols, batched_ndim=3)
    height, width = pair("output_size", output_size)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _unfold_geometry(
        height, width, kernel_size, stride, padding, dilation, input_name="output_size")
    batch, rows_total, blocks = cols3.shape
    if rows_total % (kh * kw) != 0:
        raise ValueError(f"cols must have a multiple of kh * kw = {kh * kw} rows (dimension -2), "
                         f"got shape {tuple(cols.shape)}")
    if blocks != oh * ow:
        raise ValueError(f"cols must have L = {oh * ow} columns for output_size={(height, width)}, "
                         f"kernel_size={(kh, kw)}, stride={(sh, sw)}, padding={(ph, pw)}, "
                         f"dilation={(dh, dw)}; got L = {blocks}")
    channels = rows_total // (kh * kw)
    padded_h, padded_w = height + 2 * ph, width + 2 * pw
    rows = _window_index(kh, sh, dh, oh, cols.device)
    cols_index = _window_index(kw, sw, dw, ow, cols.device)
    flat = rows[:, None, :, None] * padded_w + cols_index[None, :, None, :]  # (kh, kw, oh, ow)
    values = cols3.reshape(batch, channels, kh * kw * oh * ow)
    canvas = cols3.new_zeros(batch, channels, padded_h * padded_w)
    image = canvas.index_add(2, flat.reshape(-1), values)
    image = image.reshape(batch, channels, padded_h, padded_w)
    image = image[:, :, ph : ph + height, pw : pw + width]
    return unbatch(image, batched)


def _same_padding(kernel: tuple[int, int], dilation: tuple[int, int],
                  stride: tuple[int, int]) -> tuple[int, int, int, int]:
    """torch's ``padding="same"``: ``d (k - 1)`` zeros per axis, an odd one on the far side."""
    if stride != (1, 1):
        raise ValueError(f"padding='same' needs stride=1 (as in F.conv2d), got stride={stride}")
    total_h, total_w = (d * (k - 1) for k, d in zip(kernel, dilation, strict=True))
    return total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: Size2 = 1, padding: Padding2 = 0, dilation: Size2 = 1,
           groups: int = 1) -> torch.Tensor:
    """2-D cross-correlation as im2col plus one batched matrix product (twin: ``F.conv2d``).

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (C_out, C_in / groups, kh, kw)
    bias : Tensor, shape (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), "valid" or "same"
        Zeros on each side; ``"valid"`` is 0, ``"same"`` (stride 1 only) pads
        ``d (k - 1)`` in total per axis, the extra one at the bottom/right as torch does.
    groups : int
        ``C_in`` and ``C_out`` split into ``groups`` independent convolutions.

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        ``H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1``, see
        :func:`convnotes.arithmetic.conv_output_size`.

    Notes
    -----
    .. math::

        y[n, o, i, j] = b[o] + \\sum_{c=0}^{C_{in}/g - 1} \\sum_{a, b}
        w[o, c, a, b]\\; x_{\\text{pad}}[n,\\ g(o) C_{in}/g + c,\\ s_h i + d_h a,\\ s_w j + d_w b]

    where :math:`g(o)` is the group of output channel ``o``. No kernel flip: CNN
    "convolution" is cross-correlation. With the columns of :func:`im2col` viewed as
    ``(N, g, C_in/g * kh * kw, L)`` and the weight as ``(g, C_out/g, C_in/g * kh * kw)``,
    the whole layer is one ``torch.matmul`` (Chellapilla et al., 2006).
    Differentiable in every tensor argument.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = torch.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])
    >>> conv2d(x, w, stride=2)
    tensor([[[[-5., -5.],
              [-5., -5.]]]])
    """
    check_conv_operands(x, weight, bias)
    groups = check_int("groups", groups, minimum=1)
    x4, batched = as_batch("x", x)
    batch, in_channels = x4.shape[:2]
    out_channels = check_conv_weight(weight, bias, in_channels, groups)
    group_in, kh, kw = weight.shape[1:]
    dilation_pair = pair("dilation", dilation)
    if isinstance(padding, str):
        check_one_of("padding", padding, ("valid", "same"))
        if padding == "same":
            stride_pair = pair("stride", stride)
            x4 = F.pad(x4, _same_padding((kh, kw), dilation_pair, stride_pair))
        padding = 0
    _, _, padded_h, padded_w = x4.shape
    oh, ow = _unfold_geometry(padded_h, padded_w, (kh, kw), stride, padding, dilation_pair,
                              kernel_name="weight")[-1]
    cols = im2col(x4, (kh, kw), stride=stride, padding=padding, dilation=dilation_pair)
    cols = cols.reshape(batch, groups, group_in * kh * kw, oh * ow)
    kernels = weight.reshape(groups, out_channels // groups, group_in * kh * kw)
    out = torch.matmul(kernels, cols).reshape(batch, out_channels, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return unbatch(out, batched)
