"""Images the book works on: bundled with scikit-image, nothing is downloaded.

Examples
--------
>>> image = camera(size=64)
>>> image.shape, image.dtype, float(image.min()) >= 0.0, float(image.max()) <= 1.0
((64, 64), dtype('float64'), True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from ._checks import check_int, check_number, check_one_of, check_real, ensure_array

__all__ = ["DigitsData", "camera", "image", "load_digits", "to_tensor"]

_BUNDLED = (
    "camera", "astronaut", "coins", "moon", "text", "brick", "grass", "gravel", "checkerboard",
)


def image(name: str = "camera", size: int | None = None) -> np.ndarray:
    """A bundled ``skimage.data`` image as grayscale float64 in [0, 1], shape (H, W).

    Parameters
    ----------
    name : str
        One of ``camera``, ``astronaut`` (converted to gray), ``coins``, ``moon``, ``text``,
        ``brick``, ``grass``, ``gravel``, ``checkerboard``.
    size : int, optional
        Resize (anti-aliased) to ``size x size`` after a centre square crop.
    """
    check_one_of("name", name, _BUNDLED)
    try:
        from skimage import color, data, transform
    except ImportError as error:  # pragma: no cover - scikit-image is a test/book dependency
        raise ImportError("convnotes.data needs scikit-image: pip install scikit-image") from error
    picture = getattr(data, name)()
    if picture.ndim == 3:
        picture = color.rgb2gray(picture[..., :3])
    picture = picture.astype(np.float64)
    if picture.max() > 1.0:
        picture = picture / 255.0
    if size is not None:
        size = check_int("size", size, minimum=1)
        height, width = picture.shape
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        picture = picture[top : top + side, left : left + side]
        picture = transform.resize(picture, (size, size), anti_aliasing=True)
    return np.clip(picture, 0.0, 1.0)


def camera(size: int | None = None) -> np.ndarray:
    """The 512x512 ``camera`` photograph as float64 in [0, 1] (optionally resized)."""
    return image("camera", size)


def to_tensor(picture: npt.ArrayLike, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
    """A real (H, W) array as an NCHW tensor of shape (1, 1, H, W).

    Parameters
    ----------
    picture : array-like, shape (H, W)
        Real numbers (a complex array is refused: its imaginary part would be dropped).
    dtype : torch.dtype, optional
        A floating-point dtype; float32 by default.
    device : torch.device or str, optional
        Where to create the tensor (the CPU by default).

    Examples
    --------
    >>> to_tensor(np.ones((2, 3))).shape
    torch.Size([1, 1, 2, 3])
    """
    array = ensure_array("picture", picture, ndim=2)
    check_real("picture", array)
    if dtype is None:
        dtype = torch.float32
    elif not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    return torch.as_tensor(array, dtype=dtype, device=device)[None, None]


@dataclass(frozen=True)
class DigitsData:
    """A train/test split of images and labels (the digits, or a task built from them).

    Attributes
    ----------
    x_train, x_test : Tensor, shape (N, 1, H, W)
        Float32 images in [0, 1].
    y_train, y_test : Tensor of int64, shape (N,) or (N, H, W)
        One label per image (0..9 for the digits), or one per pixel for a dense task.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> DigitsData:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn, split by class.

    Each class is shuffled with ``seed`` and its first ``round(test_fraction * n)`` images go
    to the test set (a stratified split); the training images are then shuffled together.
    Nothing is downloaded: ``sklearn.datasets.load_digits`` reads a file shipped with
    scikit-learn. Pixel values 0..16 are divided by 16.

    Parameters
    ----------
    test_fraction : float
        Share of each class held out for testing, in (0, 1).
    seed : int
        Seeds the split (``numpy.random.default_rng``); the same seed gives the same split.

    Returns
    -------
    DigitsData
        ``x_*`` float32 of shape (N, 1, 8, 8) in [0, 1], ``y_*`` int64 of shape (N,) with
        labels 0..9: 1,438 training and 359 test images for ``test_fraction=0.2``.

    Examples
    --------
    >>> digits = load_digits()
    >>> tuple(digits.x_train.shape), tuple(digits.x_test.shape)
    ((1438, 1, 8, 8), (359, 1, 8, 8))
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:  # pragma: no cover - scikit-learn is a test/book dependency
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn") from error

    test_fraction = check_number("test_fraction", test_fraction, minimum=0.0, strict=True)
    if test_fraction >= 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    seed = check_int("seed", seed, minimum=0)
    bunch = sklearn_digits()
    images = torch.as_tensor(bunch.images / 16.0, dtype=torch.float32)[:, None]
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    rng = np.random.default_rng(seed)
    test_index: list[int] = []
    train_index: list[int] = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(bunch.target == digit))
        cut = round(test_fraction * len(members))
        test_index.extend(members[:cut].tolist())
        train_index.extend(members[cut:].tolist())
    train = torch.as_tensor(rng.permutation(train_index))
    test = torch.as_tensor(np.sort(test_index))
    return DigitsData(images[train], labels[train], images[test], labels[test])
