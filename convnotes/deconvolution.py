"""Deconvolution in the mathematical sense: recover ``x`` from ``y = h * x + n`` (chapter 2).

A blurred photograph is the sharp one convolved with the point spread function (PSF) ``h`` of
the camera, plus noise. This module builds that forward model and three ways back:

* :func:`inverse_filter`: divide the spectra, ``X = Y / H``. Exact without noise; with noise it
  divides the noise by the tiny values of ``|H|`` at high frequencies and explodes;
* :func:`wiener`: the linear estimate with the least mean-square error (Wiener–Hunt), the
  same formulation, arguments and result as ``skimage.restoration.wiener``;
* :func:`richardson_lucy`: the multiplicative EM iteration for Poisson noise, the same result
  as ``skimage.restoration.richardson_lucy`` (zero boundary, same ``eps`` and
  ``filter_epsilon``), but with both PSF spectra computed once and real FFTs of a fast length.

Plus the PSFs (:func:`gaussian_psf`, :func:`motion_psf`), the forward model :func:`blur`, the
transfer function :func:`transfer_function` (twin ``skimage.restoration.uft.ir2tf``) and the
quality measure :func:`psnr` (twin ``skimage.metrics.peak_signal_noise_ratio``).

NumPy input runs with ``scipy.fft`` and returns NumPy arrays of shape ``(H, W)``: float32 stays
float32 and float16 runs in float32 (as in ``skimage``, whose ``_supported_float_type`` keeps
the one and promotes the other), every other real dtype runs in float64.
Torch input runs on the tensor's device and dtype (float32 or float64) and returns a tensor;
it may be a batch: ``(H, W)``, ``(N, H, W)`` or ``(N, C, H, W)``, every ``(H, W)`` slice
deconvolved with the same 2-D PSF. A NumPy PSF is copied to the image's device and dtype; a
PSF tensor must already be on the image's device.

Images and PSFs must be finite (a NaN or infinity is refused, naming the argument): the
Fourier-domain methods make every output pixel depend on every input pixel, so one NaN would
reach the whole result.

This is the *inverse* of a convolution. The layer that CNN papers call "deconvolution" is a
transposed convolution (chapter 3): the adjoint of a convolution, not its inverse.

References
----------
* N. Wiener, *Extrapolation, Interpolation, and Smoothing of Stationary Time Series*,
  MIT Press, 1949.
* F. Orieux, J.-F. Giovannelli and T. Rodet, "Bayesian estimation of regularization and point
  spread function parameters for Wiener–Hunt deconvolution", JOSA A 27(7), 2010.
* W. H. Richardson, "Bayesian-based iterative method of image restoration", JOSA 62(1), 1972.
* L. B. Lucy, "An iterative technique for the rectification of observed distributions",
  The Astronomical Journal 79, 1974.
* L. A. Shepp and Y. Vardi, "Maximum likelihood reconstruction for emission tomography",
  IEEE Transactions on Medical Imaging 1(2), 1982 (the EM derivation).

Examples
--------
>>> from convnotes import data
>>> sharp = data.camera(size=64)
>>> psf = gaussian_psf(5, 1.0)
>>> blurred = blur(sharp, psf, noise_std=0.01, seed=0, boundary="periodic")
>>> round(psnr(sharp, blurred), 2), round(psnr(sharp, wiener(blurred, psf, balance=0.01)), 2)
(26.35, 28.81)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeGuard, cast, overload

import numpy as np
import numpy.typing as npt
import scipy.fft
import torch
import torch.nn.functional as F

from ._checks import (
    Size2,
    check_bool,
    check_finite,
    check_float_tensor,
    check_int,
    check_no_zero_size,
    check_non_negative_values,
    check_number,
    check_one_of,
    check_real,
    check_same_device,
    check_shape,
    check_tensor,
    ensure_array,
    pair,
)
from .runtime import cpu_cores

__all__ = [
    "blur",
    "gaussian_psf",
    "inverse_filter",
    "laplacian_transfer_function",
    "motion_psf",
    "psnr",
    "richardson_lucy",
    "transfer_function",
    "wiener",
]

Array = np.ndarray | torch.Tensor
#: What the NumPy path accepts as an image or a kernel (converted with ``np.asarray``).
ArrayInput = np.ndarray | npt.ArrayLike

#: Added to the re-blurred estimate before dividing, exactly as ``skimage`` does.
RICHARDSON_LUCY_EPS = 1e-12
#: Threads for ``scipy.fft`` (the NumPy path): the cores this process may run on. Torch uses
#: its own intra-op threads.
_WORKERS = cpu_cores()
_TORCH_DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------------------------
# Validation and the two backends (NumPy + scipy.fft, torch.fft)
# --------------------------------------------------------------------------------------------


def _numpy_float_type(dtype: np.dtype) -> type[np.floating]:
    """The float type a NumPy image of ``dtype`` is computed in (skimage's rule).

    As skimage's ``_supported_float_type``: float16 and float32 run in float32, everything
    else (float64, integers, bools) in float64.
    """
    return np.float32 if dtype in (np.float16, np.float32) else np.float64


def _image(value: object, name: str = "image") -> Array:
    """A finite real image: a 2-D NumPy array or a float32/float64 tensor batch.

    NumPy float16 and float32 run in float32 (like ``skimage``); other real dtypes become
    float64. Only the leading (batch) dimensions of a tensor may be empty.
    """
    if isinstance(value, torch.Tensor):
        check_float_tensor(name, value, ndim=(2, 3, 4))
        if value.dtype not in _TORCH_DTYPES:
            raise TypeError(f"{name} must be float32 or float64, got {value.dtype}")
        check_no_zero_size(name, value, first_axis=value.ndim - 2)
        check_finite(name, value)
        return value
    array = ensure_array(name, value, ndim=2)
    check_real(name, array)
    check_no_zero_size(name, array, first_axis=0)
    array = array.astype(_numpy_float_type(array.dtype), copy=False)
    check_finite(name, array)
    return array


def _kernel(name: str, value: object, image: Array, *, allow_complex: bool = False) -> Array:
    """A finite 2-D kernel in the image's backend (a NumPy kernel is copied to the device)."""
    kernel: Array
    if isinstance(image, torch.Tensor):
        if isinstance(value, torch.Tensor):
            tensor = check_tensor(name, value, ndim=2)
            check_same_device(image=image, **{name: tensor})
        else:
            array = np.ascontiguousarray(ensure_array(name, value, ndim=2))  # flipped views
            tensor = torch.as_tensor(array, device=image.device)
        if tensor.is_complex():
            if not allow_complex:
                check_real(name, tensor)
            kernel = tensor.to(torch.complex128 if image.dtype == torch.float64
                               else torch.complex64)
        else:
            kernel = tensor.to(image.dtype)
    else:
        array = ensure_array(name, value, ndim=2)
        single = image.dtype == np.float32
        if np.iscomplexobj(array):
            if not allow_complex:
                check_real(name, array)
            kernel = array.astype(np.complex64 if single else np.complex128, copy=False)
        else:
            kernel = array.astype(np.float32 if single else np.float64, copy=False)
    check_no_zero_size(name, kernel, first_axis=0)
    check_finite(name, kernel)
    return kernel


def _empty_batch(image: Array) -> TypeGuard[torch.Tensor]:
    """An empty batch of tensor images (``N = 0``): the result is empty too (torch's FFT of
    an empty batch raises, so the operators return the empty shape directly)."""
    return isinstance(image, torch.Tensor) and image.numel() == 0


def _is_complex(value: Array) -> bool:
    return value.is_complex() if isinstance(value, torch.Tensor) else np.iscomplexobj(value)


def _rfft2(x: Array, shape: tuple[int, int] | None = None) -> Array:
    """Real 2-D FFT over the last two axes, zero-padded to ``shape``."""
    if isinstance(x, torch.Tensor):
        return torch.fft.rfft2(x, s=shape)
    return scipy.fft.rfft2(x, s=shape, workers=_WORKERS)


def _irfft2(spectrum: Array, shape: tuple[int, int]) -> Array:
    if isinstance(spectrum, torch.Tensor):
        return torch.fft.irfft2(spectrum, s=shape)
    return scipy.fft.irfft2(spectrum, s=shape, workers=_WORKERS)


def _fft2(x: Array) -> Array:
    return torch.fft.fft2(x) if isinstance(x, torch.Tensor) else scipy.fft.fft2(x, workers=_WORKERS)


def _ifft2(spectrum: Array) -> Array:
    if isinstance(spectrum, torch.Tensor):
        return torch.fft.ifft2(spectrum)
    return scipy.fft.ifft2(spectrum, workers=_WORKERS)


def _embed(kernel: Array, shape: tuple[int, int], centre: tuple[int, int]) -> Array:
    """``kernel`` zero-padded to ``shape`` and rolled so that entry ``centre`` sits at (0, 0)."""
    rows, cols = kernel.shape
    if isinstance(kernel, torch.Tensor):
        padded = F.pad(kernel, (0, shape[1] - cols, 0, shape[0] - rows))
        return torch.roll(padded, (-centre[0], -centre[1]), dims=(0, 1))
    canvas = np.zeros(shape, dtype=kernel.dtype)
    canvas[:rows, :cols] = kernel
    return np.roll(canvas, (-centre[0], -centre[1]), axis=(0, 1))


def _clip_unit(x: Array) -> Array:
    """Clip to [-1, 1] as ``skimage`` does with ``clip=True``."""
    return x.clamp(-1.0, 1.0) if isinstance(x, torch.Tensor) else np.clip(x, -1.0, 1.0)


# --------------------------------------------------------------------------------------------
# Point spread functions and the forward model
# --------------------------------------------------------------------------------------------


def gaussian_psf(size: Size2, sigma: float) -> np.ndarray:
    """A sampled Gaussian blur kernel, normalised to sum 1.

    Parameters
    ----------
    size : int or (int, int)
        Kernel height and width (odd sizes keep the peak on a pixel).
    sigma : float
        Standard deviation in pixels, ``> 0``. As ``sigma -> 0`` the kernel tends to a delta
        on the centre pixel (shared equally by the central pixels of an even size), and that
        limit is what a tiny ``sigma`` returns: the exponent is taken relative to its largest
        value, so it never underflows to an all-zero (then NaN) kernel.

    Returns
    -------
    ndarray, shape (size_h, size_w), float64

    Notes
    -----
    With the centre :math:`c = (\\text{size} - 1)/2`,

    .. math:: h[a, b] \\propto \\exp\\left(-\\frac{(a - c_h)^2 + (b - c_w)^2}{2\\sigma^2}\\right),
        \\qquad \\sum_{a,b} h[a, b] = 1.

    Examples
    --------
    >>> psf = gaussian_psf(3, 1.0)
    >>> psf.round(4)
    array([[0.0751, 0.1238, 0.0751],
           [0.1238, 0.2042, 0.1238],
           [0.0751, 0.1238, 0.0751]])
    >>> float(psf.sum())
    1.0
    """
    rows, cols = pair("size", size)
    sigma = check_number("sigma", sigma, 0.0, strict=True)
    a = np.arange(rows) - (rows - 1) / 2
    b = np.arange(cols) - (cols - 1) / 2
    squared = a[:, None] ** 2 + b[None, :] ** 2
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # tiny sigma
        kernel = np.exp(-(squared - squared.min()) / (2.0 * sigma**2))
    kernel[squared == squared.min()] = 1.0  # the peak is exp(0) even when 0 / 0 above
    return kernel / kernel.sum()


def motion_psf(length: float, angle: float, size: Size2 | None = None) -> np.ndarray:
    """A straight motion blur: an anti-aliased line segment, normalised to sum 1.

    Parameters
    ----------
    length : float
        Length of the motion in pixels, ``>= 1`` (1 is no blur: a single pixel).
    angle : float
        Direction in degrees, counter-clockwise from the horizontal (0 is a horizontal
        streak, 90 a vertical one).
    size : int or (int, int), optional
        Kernel height and width; by default the smallest odd size that holds ``length``.
        A smaller size cuts the line off.

    Returns
    -------
    ndarray, shape (size_h, size_w), float64

    Notes
    -----
    Each pixel's weight falls linearly with its distance :math:`d` from the segment of length
    :math:`L - 1` through the kernel's centre, :math:`h \\propto \\max(0, 1 - d)`: a line one
    pixel wide, anti-aliased, whose pixel centres on an axis-aligned segment get weight 1.

    Examples
    --------
    >>> motion_psf(3, 0) * 3
    array([[0., 0., 0.],
           [1., 1., 1.],
           [0., 0., 0.]])
    >>> motion_psf(3, 90) * 3
    array([[0., 1., 0.],
           [0., 1., 0.],
           [0., 1., 0.]])
    """
    length = check_number("length", length, 1.0)
    angle = check_number("angle", angle)
    if size is None:
        side = math.ceil(length)
        side += 1 - side % 2
        rows = cols = side
    else:
        rows, cols = pair("size", size)
    theta = math.radians(angle)
    # (row, col) with rows pointing down; rounded so that 90 degrees gives an exact 0
    direction = np.round([-math.sin(theta), math.cos(theta)], 12)
    half = (length - 1.0) / 2.0
    row = np.arange(rows) - (rows - 1) / 2
    col = np.arange(cols) - (cols - 1) / 2
    points = np.stack(np.meshgrid(row, col, indexing="ij"), axis=-1)  # (rows, cols, 2)
    along = np.clip(points @ direction, -half, half)
    distance = np.linalg.norm(points - along[..., None] * direction, axis=-1)
    kernel = np.clip(1.0 - distance, 0.0, None)
    return kernel / kernel.sum()


@overload
def transfer_function(psf: torch.Tensor, shape: Size2, is_real: bool = True) -> torch.Tensor: ...
@overload
def transfer_function(psf: ArrayInput, shape: Size2, is_real: bool = True) -> np.ndarray: ...
def transfer_function(psf: ArrayInput | torch.Tensor, shape: Size2,
                      is_real: bool = True) -> np.ndarray | torch.Tensor:
    """The transfer function ``H`` of a PSF on an image of ``shape`` (twin ``uft.ir2tf``).

    Parameters
    ----------
    psf : ndarray or Tensor, shape (kh, kw)
        Impulse response, at most ``shape``.
    shape : (int, int)
        Image height and width.
    is_real : bool
        ``True``: the half spectrum of ``rfft2``, shape ``(H, W // 2 + 1)``; ``False``: the
        full spectrum of ``fft2``, shape ``(H, W)``.

    Returns
    -------
    complex ndarray or Tensor
        On the PSF's device; complex128 for NumPy.

    Notes
    -----
    The PSF is zero-padded to the image size and rolled so that its centre
    :math:`(\\lfloor k_h / 2 \\rfloor, \\lfloor k_w / 2 \\rfloor)` sits at the origin, then
    transformed (without normalisation, so a PSF with sum 1 has :math:`H(0) = 1`). Then
    :math:`\\mathcal{F}^{-1}(H \\cdot \\mathcal{F} x)` is the *circular* convolution of
    :math:`x` with the centred PSF.

    Examples
    --------
    >>> H = transfer_function(gaussian_psf(3, 1.0), (8, 8))
    >>> H.shape, round(float(abs(H[0, 0])), 6)
    ((8, 5), 1.0)
    """
    rows, cols = pair("shape", shape)
    is_real = check_bool("is_real", is_real)
    kernel: Array
    if isinstance(psf, torch.Tensor):
        kernel = check_float_tensor("psf", psf, ndim=2)
    else:
        kernel = ensure_array("psf", psf, ndim=2)
        check_real("psf", kernel)
        kernel = kernel.astype(_numpy_float_type(kernel.dtype), copy=False)
    check_no_zero_size("psf", kernel, first_axis=0)
    check_finite("psf", kernel)
    if kernel.shape[0] > rows or kernel.shape[1] > cols:
        raise ValueError(f"psf must not be larger than the image {(rows, cols)}, "
                         f"got shape {tuple(kernel.shape)}")
    placed = _embed(kernel, (rows, cols), (kernel.shape[0] // 2, kernel.shape[1] // 2))
    return _rfft2(placed) if is_real else _fft2(placed)


def laplacian_transfer_function(shape: Size2, is_real: bool = True) -> np.ndarray:
    """Transfer function of the discrete Laplacian, Wiener's default regulariser.

    Parameters
    ----------
    shape : (int, int)
        Image height and width (any size, also below 3).
    is_real : bool
        Half spectrum, shape ``(H, W // 2 + 1)``, or full spectrum, shape ``(H, W)``.

    Returns
    -------
    complex ndarray
        Real-valued (zero imaginary part), complex dtype like :func:`transfer_function`.

    Notes
    -----
    The impulse response ``[[0, -1, 0], [-1, 4, -1], [0, -1, 0]]`` (twin
    ``skimage.restoration.uft.laplacian``) has the transfer function

    .. math:: D[k, l] = 4 - 2\\cos\\frac{2\\pi k}{H} - 2\\cos\\frac{2\\pi l}{W},

    which is 0 at :math:`f = 0` and grows as :math:`|f|^2`: it penalises high frequencies.

    Examples
    --------
    >>> laplacian_transfer_function((4, 4)).real
    array([[0., 2., 4.],
           [2., 4., 6.],
           [4., 6., 8.],
           [2., 4., 6.]])
    """
    rows, cols = pair("shape", shape)
    is_real = check_bool("is_real", is_real)
    row_term = 2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(rows) / rows)
    col_term = 2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(cols // 2 + 1 if is_real else cols)
                                  / cols)
    return (row_term[:, None] + col_term[None, :]).astype(np.complex128)


@dataclass(frozen=True)
class _SameConvolution:
    """Linear ('same', zero boundary) convolution with a fixed PSF and its mirror, by FFT.

    ``scipy.signal.convolve(x, psf, mode="same")`` keeps the full result from index
    ``c = (k - 1) // 2``. Rolling the zero-padded PSF by ``-c`` moves that window to
    ``[0, N)``; an FFT length ``L >= N + max(c, k - 1 - c)`` keeps the circular wrap-around
    out of it. The mirrored PSF (``psf[::-1, ::-1]``, same ``c``) gives the adjoint
    step of Richardson–Lucy. Both spectra are computed once.
    """

    image_hw: tuple[int, int]
    fft_hw: tuple[int, int]
    spectrum: Array
    mirror_spectrum: Array

    @classmethod
    def build(cls, psf: Array, image_hw: tuple[int, int]) -> _SameConvolution:
        kh, kw = int(psf.shape[0]), int(psf.shape[1])
        centre = ((kh - 1) // 2, (kw - 1) // 2)

        def fast_length(n: int, k: int, c: int) -> int:
            return int(scipy.fft.next_fast_len(max(n + max(c, k - 1 - c), k), real=True))

        fft_hw = (fast_length(image_hw[0], kh, centre[0]), fast_length(image_hw[1], kw, centre[1]))
        mirror = psf.flip((0, 1)) if isinstance(psf, torch.Tensor) else psf[::-1, ::-1]
        return cls(image_hw, fft_hw, _rfft2(_embed(psf, fft_hw, centre)),
                   _rfft2(_embed(mirror, fft_hw, centre)))

    def __call__(self, x: Array, *, mirror: bool = False) -> Array:
        """Convolve ``x`` (image size, any leading dimensions); a view of the FFT canvas."""
        return self.padded(_rfft2(x, self.fft_hw), mirror=mirror)

    def padded(self, spectrum: Array, *, mirror: bool = False) -> Array:
        """Finish a convolution from the spectrum of the zero-padded input (overwritten)."""
        spectrum *= self.mirror_spectrum if mirror else self.spectrum
        rows, cols = self.image_hw
        if isinstance(spectrum, torch.Tensor):
            return torch.fft.irfft2(spectrum, s=self.fft_hw)[..., :rows, :cols]
        canvas = scipy.fft.irfft2(spectrum, s=self.fft_hw, workers=_WORKERS, overwrite_x=True)
        return canvas[..., :rows, :cols]


@overload
def blur(image: torch.Tensor, psf: ArrayInput | torch.Tensor, noise_std: float = 0.0,
         seed: int | None = None, *, boundary: str = "zero") -> torch.Tensor: ...
@overload
def blur(image: ArrayInput, psf: ArrayInput, noise_std: float = 0.0,
         seed: int | None = None, *, boundary: str = "zero") -> np.ndarray: ...
def blur(image: ArrayInput | torch.Tensor, psf: ArrayInput | torch.Tensor,
         noise_std: float = 0.0, seed: int | None = None, *,
         boundary: str = "zero") -> np.ndarray | torch.Tensor:
    """The forward model ``y = h * x + n``: convolve with the PSF, add Gaussian noise.

    Parameters
    ----------
    image : ndarray, shape (H, W), or Tensor, shape (H, W), (N, H, W) or (N, C, H, W)
        The sharp image ``x``.
    psf : ndarray or Tensor, shape (kh, kw)
        The point spread function ``h``.
    noise_std : float
        Standard deviation of the white Gaussian noise ``n`` (``>= 0``).
    seed : int, optional
        Seed of the noise: ``numpy.random.default_rng(seed)`` for arrays, a
        ``torch.Generator`` on the image's device for tensors.
    boundary : {"zero", "periodic"}
        ``"zero"``: the image is zero outside its frame, output centred as
        ``scipy.signal.convolve(image, psf, mode="same")`` (the model of
        :func:`richardson_lucy`). ``"periodic"``: circular convolution, the model that the
        Fourier-domain methods :func:`inverse_filter` and :func:`wiener` assume (the PSF
        must then be at most the image size).

    Returns
    -------
    ndarray or Tensor, the shape of ``image``

    Notes
    -----
    .. math:: y[i, j] = \\sum_{a, b} h[a, b]\\, x[i - a + c_h, j - b + c_w] + n[i, j],
        \\qquad n \\sim \\mathcal{N}(0, \\sigma^2)

    with :math:`c = (k - 1) // 2` for ``"zero"`` (:math:`x` is zero outside the image) and
    :math:`c = k // 2` for ``"periodic"`` (indices wrap around), matching
    :func:`transfer_function`. For odd ``k`` both centres are the same.

    Examples
    --------
    >>> x = np.zeros((5, 5)); x[2, 2] = 1.0
    >>> bool(np.allclose(blur(x, gaussian_psf(3, 1.0))[1:4, 1:4], gaussian_psf(3, 1.0)))
    True
    """
    image = _image(image)
    kernel = _kernel("psf", psf, image)
    noise_std = check_number("noise_std", noise_std, 0.0)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    check_one_of("boundary", boundary, ("zero", "periodic"))
    if _empty_batch(image):
        return image.clone()
    image_hw = tuple(image.shape[-2:])
    if boundary == "zero":
        blurred = _SameConvolution.build(kernel, image_hw)(image)  # a view of a larger canvas
        blurred = (blurred.contiguous() if isinstance(blurred, torch.Tensor)
                   else np.ascontiguousarray(blurred))
    else:
        spectrum = _rfft2(image) * transfer_function(kernel, image_hw)
        blurred = _irfft2(spectrum, image_hw)
    if noise_std == 0.0:
        return blurred
    if isinstance(image, torch.Tensor):
        generator = torch.Generator(device=image.device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        noise = torch.randn(image.shape, generator=generator, device=image.device,
                            dtype=image.dtype)
        return blurred + noise_std * noise
    return blurred + noise_std * np.random.default_rng(seed).standard_normal(image.shape)


# --------------------------------------------------------------------------------------------
# Fourier-domain inverses: inverse filter and Wiener
# --------------------------------------------------------------------------------------------


@overload
def inverse_filter(image: torch.Tensor, psf: ArrayInput | torch.Tensor,
                   eps: float = 1e-3) -> torch.Tensor: ...
@overload
def inverse_filter(image: ArrayInput, psf: ArrayInput, eps: float = 1e-3) -> np.ndarray: ...
def inverse_filter(image: ArrayInput | torch.Tensor, psf: ArrayInput | torch.Tensor,
                   eps: float = 1e-3) -> np.ndarray | torch.Tensor:
    """The naive inverse: divide the image spectrum by the transfer function.

    Parameters
    ----------
    image : ndarray, shape (H, W), or Tensor, shape (H, W), (N, H, W) or (N, C, H, W)
        The blurred image ``y``.
    psf : ndarray or Tensor, shape (kh, kw)
        The point spread function (at most the image size).
    eps : float
        Frequencies with :math:`|H| < \\varepsilon` are set to zero instead of divided by
        (``>= 0``). ``eps=0`` is the plain inverse; only exact zeros of ``H`` are dropped.

    Returns
    -------
    ndarray or Tensor, the shape of ``image``

    Notes
    -----
    With circular convolution, :math:`Y = H X + N` frequency by frequency, so

    .. math:: \\hat X = \\begin{cases} Y / H = X + N / H & |H| \\ge \\varepsilon \\\\
        0 & |H| < \\varepsilon \\end{cases}

    The error :math:`N / H` is the noise multiplied by up to :math:`1/\\varepsilon`: a blur
    leaves little of the high frequencies, and dividing by that little amplifies whatever
    noise sits there. Without noise (and with ``blur(..., boundary="periodic")``) the
    recovery is exact at every frequency kept.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((16, 16))
    >>> y = blur(x, gaussian_psf(3, 0.7), boundary="periodic")
    >>> bool(np.allclose(inverse_filter(y, gaussian_psf(3, 0.7), eps=0.0), x))
    True
    """
    image = _image(image)
    kernel = _kernel("psf", psf, image)
    eps = check_number("eps", eps, 0.0)
    if _empty_batch(image):
        return image.clone()
    image_hw = tuple(image.shape[-2:])
    H = transfer_function(kernel, image_hw)
    kept = abs(H) >= eps if eps > 0 else H != 0
    safe = H.masked_fill(~kept, 1.0) if isinstance(H, torch.Tensor) else np.where(kept, H, 1.0)
    gain = kept / safe
    return _irfft2(_rfft2(image) * gain, image_hw)


def _transfer(name: str, value: object, image: Array, is_real: bool) -> Array:
    """A real kernel's transfer function, or a complex transfer function checked for shape."""
    kernel = _kernel(name, value, image, allow_complex=True)
    rows, cols = image.shape[-2:]
    if _is_complex(kernel):
        check_shape(name, kernel, (rows, cols // 2 + 1) if is_real else (rows, cols))
        return kernel
    return transfer_function(kernel, (rows, cols), is_real)


@overload
def wiener(image: torch.Tensor, psf: ArrayInput | torch.Tensor, balance: float,
           reg: ArrayInput | torch.Tensor | None = None, is_real: bool = True,
           clip: bool = True) -> torch.Tensor: ...
@overload
def wiener(image: ArrayInput, psf: ArrayInput, balance: float, reg: ArrayInput | None = None,
           is_real: bool = True, clip: bool = True) -> np.ndarray: ...
def wiener(image: ArrayInput | torch.Tensor, psf: ArrayInput | torch.Tensor, balance: float,
           reg: ArrayInput | torch.Tensor | None = None, is_real: bool = True,
           clip: bool = True) -> np.ndarray | torch.Tensor:
    """Wiener–Hunt deconvolution (twin ``skimage.restoration.wiener``).

    Parameters
    ----------
    image : ndarray, shape (H, W), or Tensor, shape (H, W), (N, H, W) or (N, C, H, W)
        The blurred, noisy image ``y``.
    psf : ndarray or Tensor
        A real impulse response, shape (kh, kw), or a complex transfer function, shape
        (H, W // 2 + 1) when ``is_real`` else (H, W).
    balance : float
        :math:`\\lambda \\ge 0`, the noise-to-signal ratio: larger trusts the prior (smooth
        image) more and the data less. ``0`` is the inverse filter.
    reg : ndarray or Tensor, optional
        The regulariser :math:`D`, as an impulse response or a transfer function like ``psf``;
        the Laplacian (:func:`laplacian_transfer_function`) by default.
    is_real : bool
        Whether transfer functions are given as half spectra (``rfft2``) or full spectra.
    clip : bool
        Clip the result to [-1, 1], as ``skimage`` does.

    Returns
    -------
    ndarray or Tensor, the shape of ``image``
        Real. (``skimage`` returns a complex array for ``is_real=False``; this is its real
        part, the imaginary part being rounding error for a real PSF.)

    Notes
    -----
    The estimate with the least expected squared error per frequency, for a signal whose power
    spectrum is :math:`\\propto 1/|D|^2` and white noise, is

    .. math:: \\hat X = \\frac{H^*}{|H|^2 + \\lambda |D|^2}\\, Y

    (Wiener, 1949; the Laplacian prior is Hunt's, see Orieux et al., 2010). The products are
    circular convolutions, like :func:`blur` with ``boundary="periodic"``. Where
    :math:`|H|^2 + \\lambda |D|^2 = 0` (``balance=0`` at a zero of ``H``, or a PSF summing to
    zero) nothing is known about :math:`X` and the estimate is set to 0 there; ``skimage``
    returns NaN. Transfer functions are used as they are: ``skimage`` keeps only the real
    part of a complex ``psf`` and of every ``reg`` (scikit-image issue 7363), which gives the
    same result only when that transfer function is real, i.e. for kernels symmetric about
    their centre (Gaussian, Laplacian, identity). And a real ``psf`` is always an impulse
    response, while ``skimage`` takes one whose shape equals the transfer function's for a
    transfer function.

    Examples
    --------
    >>> from convnotes import data
    >>> sharp = data.camera(size=64)
    >>> psf = gaussian_psf(5, 1.0)
    >>> noisy = blur(sharp, psf, noise_std=0.02, seed=0, boundary="periodic")
    >>> psnr(sharp, wiener(noisy, psf, 0.05)) > psnr(sharp, inverse_filter(noisy, psf, 0.0))
    True
    """
    image = _image(image)
    balance = check_number("balance", balance, 0.0)
    is_real = check_bool("is_real", is_real)
    clip = check_bool("clip", clip)
    rows, cols = image.shape[-2:]
    H = _transfer("psf", psf, image, is_real)
    D: Array
    if reg is None:
        laplacian = laplacian_transfer_function((rows, cols), is_real)
        D = (torch.as_tensor(laplacian, device=image.device).to(H.dtype)
             if isinstance(H, torch.Tensor) else laplacian.astype(H.dtype, copy=False))
    else:
        D = _transfer("reg", reg, image, is_real)
    gain: Array
    if isinstance(H, torch.Tensor) and isinstance(D, torch.Tensor):
        denominator = H.abs() ** 2 + balance * D.abs() ** 2
        known = denominator > 0
        gain = torch.where(known, H.conj() / denominator.masked_fill(~known, 1.0), 0)
    elif isinstance(H, np.ndarray) and isinstance(D, np.ndarray):
        power = np.abs(H) ** 2 + balance * np.abs(D) ** 2
        gain = np.where(power > 0, np.conj(H) / np.where(power > 0, power, 1.0), 0)
    else:  # _transfer puts both on the image's backend
        raise TypeError("psf and reg must be of the image's kind (both NumPy or both torch)")
    if _empty_batch(image):
        return image.clone()
    if is_real:
        restored = _irfft2(_rfft2(image) * gain, (rows, cols))
    else:
        restored = _ifft2(_fft2(image) * gain).real
    return _clip_unit(restored) if clip else restored


# --------------------------------------------------------------------------------------------
# Richardson–Lucy
# --------------------------------------------------------------------------------------------


def _richardson_lucy_psf(psf: object, image: Array) -> Array:
    kernel = _kernel("psf", psf, image)
    check_non_negative_values("psf", kernel)
    total = float(kernel.sum())
    if total <= 0:
        raise ValueError(f"psf must have a positive sum, got {total:.6g}")
    return kernel


@overload
def richardson_lucy(image: torch.Tensor, psf: ArrayInput | torch.Tensor, num_iter: int = 50,
                    clip: bool = True, filter_epsilon: float | None = None) -> torch.Tensor: ...
@overload
def richardson_lucy(image: ArrayInput, psf: ArrayInput, num_iter: int = 50, clip: bool = True,
                    filter_epsilon: float | None = None) -> np.ndarray: ...
def richardson_lucy(image: ArrayInput | torch.Tensor, psf: ArrayInput | torch.Tensor,
                    num_iter: int = 50, clip: bool = True,
                    filter_epsilon: float | None = None) -> np.ndarray | torch.Tensor:
    """Richardson–Lucy deconvolution (twin ``skimage.restoration.richardson_lucy``).

    Parameters
    ----------
    image : ndarray, shape (H, W), or Tensor, shape (H, W), (N, H, W) or (N, C, H, W)
        The blurred image ``y`` (counts or intensities; RL assumes ``y >= 0``).
    psf : ndarray or Tensor, shape (kh, kw)
        Non-negative, with a positive sum (normally 1). Any size.
    num_iter : int
        Iterations, ``>= 0`` (0 returns the starting estimate, a constant 0.5, as in
        ``skimage``). Stopping early is the regularisation: see Notes.
    clip : bool
        Clip the result to [-1, 1], as ``skimage`` does.
    filter_epsilon : float, optional
        Where the re-blurred estimate is below this value the ratio is set to 0 instead of
        divided (``>= 0``; ``None`` or 0: never).

    Returns
    -------
    ndarray, shape (H, W), float64, or Tensor (input's shape, device and dtype)

    Notes
    -----
    Starting from :math:`x_0 = 0.5`, with the mirrored PSF :math:`\\bar h[a] = h[-a]`,

    .. math:: x_{k+1} = x_k \\cdot \\left(\\bar h * \\frac{y}{h * x_k + \\epsilon}\\right),
        \\qquad \\epsilon = 10^{-12}.

    This is the EM algorithm for the maximum-likelihood estimate under Poisson noise
    :math:`y \\sim \\mathrm{Poisson}(h * x)` (Richardson, 1972; Lucy, 1974; Shepp & Vardi,
    1982). Every factor is non-negative, so the estimate stays non-negative when ``y`` and
    ``h`` are, and for an odd PSF :math:`\\sum x_{k+1} = \\sum_i y_i (h * x_k)_i /
    ((h * x_k)_i + \\epsilon) \\approx \\sum y`: flux is preserved. Early iterations restore
    the strong low frequencies, later ones fit the noise: the error first falls, then
    rises (semi-convergence), so ``num_iter`` acts as the regularisation parameter.

    Convolutions are ``mode="same"`` with a zero boundary, like ``scipy.signal.convolve``
    in ``skimage``; here they are real FFTs of a fast length with the PSF spectrum and its
    mirror computed once (4 FFTs per iteration instead of 6).

    Examples
    --------
    A star (one bright pixel) blurred by a Gaussian PSF: RL gathers the light back into the
    pixel it came from, keeping the total.

    >>> star = np.zeros((15, 15)); star[7, 7] = 1.0
    >>> psf = gaussian_psf(5, 1.0)
    >>> observed = blur(star, psf)
    >>> restored = richardson_lucy(observed, psf, num_iter=50, clip=False)
    >>> round(float(observed.max()), 3), round(float(restored.max()), 3)
    (0.162, 0.963)
    >>> round(float(restored.sum()), 6), bool(restored.min() > -1e-12)
    (1.0, True)
    """
    image = _image(image)
    kernel = _richardson_lucy_psf(psf, image)
    num_iter = check_int("num_iter", num_iter, minimum=0)
    clip = check_bool("clip", clip)
    if filter_epsilon is not None:
        filter_epsilon = check_number("filter_epsilon", filter_epsilon, 0.0)
    if _empty_batch(image):
        return image.clone()
    convolve = _SameConvolution.build(kernel, (int(image.shape[-2]), int(image.shape[-1])))
    estimate: Array
    if isinstance(image, torch.Tensor):
        estimate = _richardson_lucy_loop_torch(image, convolve, num_iter, filter_epsilon)
    else:
        estimate = _richardson_lucy_loop_numpy(image, convolve, num_iter, filter_epsilon)
    return _clip_unit(estimate) if clip else estimate


def _richardson_lucy_loop_numpy(image: np.ndarray, convolve: _SameConvolution, num_iter: int,
                                filter_epsilon: float | None) -> np.ndarray:
    # The estimate and the ratio live in the top-left corner of zero-padded FFT canvases, so
    # each forward FFT reads its canvas as it is (no padded copy per call).
    rows, cols = image.shape
    estimate_canvas = np.zeros(convolve.fft_hw, dtype=image.dtype)
    ratio_canvas = np.zeros(convolve.fft_hw, dtype=image.dtype)
    estimate, ratio = estimate_canvas[:rows, :cols], ratio_canvas[:rows, :cols]
    estimate[...] = 0.5
    for _ in range(num_iter):
        reblurred = convolve.padded(_rfft2(estimate_canvas))
        reblurred += RICHARDSON_LUCY_EPS
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(image, reblurred, out=ratio)
        if filter_epsilon:
            ratio[reblurred < filter_epsilon] = 0.0
        estimate *= convolve.padded(_rfft2(ratio_canvas), mirror=True)
    return estimate.copy()


def _richardson_lucy_loop_torch(image: torch.Tensor, convolve: _SameConvolution, num_iter: int,
                                filter_epsilon: float | None) -> torch.Tensor:
    estimate = torch.full_like(image, 0.5)
    for _ in range(num_iter):
        reblurred = cast(torch.Tensor, convolve(estimate)) + RICHARDSON_LUCY_EPS
        ratio = image / reblurred
        if filter_epsilon:
            ratio = ratio.masked_fill(reblurred < filter_epsilon, 0.0)
        estimate = estimate * cast(torch.Tensor, convolve(ratio, mirror=True))
    return estimate


# --------------------------------------------------------------------------------------------
# Quality
# --------------------------------------------------------------------------------------------


def _default_data_range(reference: Array) -> float:
    """skimage's rule: the dtype's range, [-1, 1] for floats; ``dmax`` when nothing is negative."""
    if isinstance(reference, torch.Tensor) or np.issubdtype(reference.dtype, np.floating):
        low, high = -1.0, 1.0
    elif reference.dtype == np.bool_:
        low, high = 0.0, 1.0
    else:
        info = np.iinfo(reference.dtype)
        low, high = float(info.min), float(info.max)
    smallest, largest = float(reference.min()), float(reference.max())
    if smallest < low or largest > high:
        raise ValueError(
            f"reference has values in [{smallest:.6g}, {largest:.6g}], outside the range "
            f"[{low:g}, {high:g}] of its dtype: give data_range explicitly")
    return high if smallest >= 0 else high - low


def psnr(reference: ArrayInput | torch.Tensor, estimate: ArrayInput | torch.Tensor,
         data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in decibels (twin ``skimage.metrics.peak_signal_noise_ratio``).

    Parameters
    ----------
    reference, estimate : ndarray or Tensor, the same shape
        Both arrays or both tensors (on one device).
    data_range : float, optional
        Peak-to-peak range of the data (``> 0``). By default from the reference's dtype as
        ``skimage`` does: 1 for floats with no negative values, 2 for floats with some (values
        outside [-1, 1] need an explicit range), 255 for ``uint8``.

    Returns
    -------
    float
        ``inf`` when the images are equal.

    Notes
    -----
    .. math:: \\mathrm{PSNR} = 10 \\log_{10} \\frac{R^2}{\\frac{1}{n}\\sum_i (x_i - \\hat x_i)^2}

    Every halving of the root-mean-square error adds :math:`20 \\log_{10} 2 \\approx 6` dB.

    Examples
    --------
    >>> round(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)), 6)
    20.0
    """
    ref: Array
    est: Array
    if isinstance(reference, torch.Tensor) or isinstance(estimate, torch.Tensor):
        ref = check_float_tensor("reference", reference)
        est = check_float_tensor("estimate", estimate)
        check_same_device(reference=ref, estimate=est)
    else:
        ref = ensure_array("reference", reference)
        est = ensure_array("estimate", estimate)
        check_real("reference", ref)
        check_real("estimate", est)
    check_shape("estimate", est, ref.shape)
    if ref.size == 0 if isinstance(ref, np.ndarray) else ref.numel() == 0:
        raise ValueError(f"reference must not be empty (a mean over no pixels), got shape "
                         f"{tuple(ref.shape)}")
    check_finite("reference", ref)
    check_finite("estimate", est)
    if data_range is None:
        data_range = _default_data_range(ref)
    else:
        data_range = check_number("data_range", data_range, 0.0, strict=True)
    # the mean square of difference / largest lies in (0, 1]: no overflow for huge errors
    if isinstance(ref, torch.Tensor) and isinstance(est, torch.Tensor):
        difference = ref.double() - est.double()
        largest = float(difference.abs().max())
        scaled_error = float(((difference / largest) ** 2).mean()) if largest else 0.0
    else:
        gap = np.asarray(ref, dtype=np.float64) - np.asarray(est, dtype=np.float64)
        largest = float(np.abs(gap).max())
        scaled_error = float(np.mean((gap / largest) ** 2)) if largest else 0.0
    if largest == 0.0:
        return math.inf
    return 20.0 * math.log10(data_range) - 10.0 * math.log10(scaled_error) \
        - 20.0 * math.log10(largest)
