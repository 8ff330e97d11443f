"""convnotes: the convolution family from scratch, each operator tested against its twin.

One module per chapter of the book (``arithmetic`` and ``correlation`` for chapter 1,
``deconvolution``, ``transposed``, ``dilated``, ``grouped``, ``separable``, ``pointwise``,
``deformable``, ``pooling``, ``dimensions`` (1-D and 3-D), and ``choosing`` for the
capstone), closed-form operation counts in ``costs``, and shared helpers:
``runtime`` (device, seeding, timing), ``plotting`` (the book's figures) and ``data`` (bundled
images). Submodules are imported on first use: ``import convnotes; convnotes.pooling``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

__all__ = [
    "arithmetic",
    "choosing",
    "correlation",
    "costs",
    "data",
    "deconvolution",
    "deformable",
    "dilated",
    "dimensions",
    "grouped",
    "plotting",
    "pointwise",
    "pooling",
    "runtime",
    "separable",
    "transposed",
]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
