"""Images the book works on: bundled with scikit-image, nothing is downloaded.

Examples
--------
>>> image = camera(size=64)
>>> image.shape, image.dtype, float(image.min()) >= 0.0, float(image.max()) <= 1.0
((64, 64), dtype('float64'), True, True)
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int, check_one_of

__all__ = ["camera", "image", "to_tensor"]

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


def to_tensor(picture: np.ndarray, dtype=None, device=None):
    """A (H, W) array as an NCHW tensor of shape (1, 1, H, W)."""
    import torch

    array = np.asarray(picture)
    if array.ndim != 2:
        raise ValueError(f"picture must be 2-D (H, W), got shape {array.shape}")
    return torch.as_tensor(array, dtype=dtype or torch.float32, device=device)[None, None]
