"""Argument validation: the one place where convnotes checks what callers pass.

Every public function validates its arguments at the top with these helpers, so that bad
input fails early with a message that names the parameter, the value it got and what was
expected. ``TypeError`` means the kind of object is wrong (a list where a tensor belongs, a
float where an int belongs); ``ValueError`` means the kind is right but the value is not
(a negative stride, a 3-D tensor where a 4-D one belongs).

Examples
--------
>>> pair("stride", 2)
(2, 2)
>>> pair("padding", (1, 0), minimum=0)
(1, 0)
>>> pair("stride", 0)
Traceback (most recent call last):
    ...
ValueError: stride must be >= 1, got 0
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_channels_divisible",
    "check_conv_operands",
    "check_divisible",
    "check_finite",
    "check_float_tensor",
    "check_int",
    "check_ndim",
    "check_non_negative_values",
    "check_number",
    "check_one_of",
    "check_same_device",
    "check_same_dtype",
    "check_shape",
    "check_tensor",
    "ensure_array",
    "pair",
]


def _is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for bools (``True`` is not a stride)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking its type and lower bound.

    Raises ``TypeError`` for a non-integer (bools included) and ``ValueError`` when
    ``value < minimum``.
    """
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_number(
    name: str,
    value: Any,
    minimum: float | None = None,
    *,
    strict: bool = False,
) -> float:
    """Return ``value`` as a finite ``float``, at least ``minimum`` (above it when ``strict``)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
        if not strict and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def pair(name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """Normalise an int or a pair of ints (``stride=2`` or ``stride=(2, 1)``) to a checked pair.

    This mirrors how ``torch.nn.functional`` accepts ``kernel_size``, ``stride``, ``padding``
    and ``dilation``. ``minimum`` is 1 for sizes, strides and dilations and 0 for paddings.
    """
    if _is_int(value):
        checked = check_int(name, value, minimum)
        return checked, checked
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        if not all(_is_int(v) for v in value):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        first, second = (int(v) for v in value)
        if first < minimum or second < minimum:
            raise ValueError(f"{name} must be >= {minimum} in each dimension, got {tuple(value)!r}")
        return first, second
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def check_one_of(name: str, value: Any, options: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``options`` (e.g. ``mode`` in ``("full", "same")``)."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {options!r}, got {value!r}")
    return value


def check_tensor(name: str, value: Any, ndim: int | Sequence[int] | None = None) -> torch.Tensor:
    """Check that ``value`` is a ``torch.Tensor`` (with ``ndim`` dimensions when given)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None:
        check_ndim(name, value, ndim)
    return value


def check_float_tensor(
    name: str, value: Any, ndim: int | Sequence[int] | None = None
) -> torch.Tensor:
    """Like :func:`check_tensor`, and the dtype must be floating point."""
    tensor = check_tensor(name, value, ndim)
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {tensor.dtype}")
    return tensor


def check_ndim(name: str, value: Any, ndim: int | Sequence[int]) -> Any:
    """Check the number of dimensions of an array or tensor; ``ndim`` may list several."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if value.ndim not in allowed:
        expected = " or ".join(str(n) for n in allowed)
        raise ValueError(
            f"{name} must be {expected}-D, got a {value.ndim}-D input of shape {tuple(value.shape)}"
        )
    return value


def check_shape(name: str, value: Any, expected: Sequence[int]) -> Any:
    """Check that an array or tensor has exactly the shape ``expected``."""
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(value.shape)}")
    return value


def ensure_array(name: str, value: Any, ndim: int | Sequence[int] | None = None) -> np.ndarray:
    """Convert array-likes to a NumPy array of numbers, rejecting tensors, strings and objects."""
    if isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a NumPy array or array-like, got a torch.Tensor")
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be a NumPy array or array-like, got {type(value).__name__}")
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if ndim is not None:
        check_ndim(name, array, ndim)
    return array


def check_finite(name: str, value: np.ndarray | torch.Tensor) -> None:
    """Raise ``ValueError`` when an array or tensor contains NaN or infinity."""
    if isinstance(value, torch.Tensor):
        finite = torch.isfinite(value).all()
    else:
        finite = np.isfinite(value).all()
    if not bool(finite):
        raise ValueError(f"{name} must contain only finite values, got NaN or infinity")


def check_non_negative_values(name: str, value: np.ndarray | torch.Tensor) -> None:
    """Raise ``ValueError`` when an array or tensor has a negative entry (reports the minimum)."""
    minimum = float(value.min())
    if minimum < 0:
        raise ValueError(f"{name} must be non-negative, got a minimum of {minimum:.6g}")


def check_channels_divisible(name: str, channels: int, groups: int) -> None:
    """Check that a channel count splits evenly into ``groups``."""
    if channels % groups != 0:
        raise ValueError(f"{name} must be divisible by groups={groups}, got {channels}")


def check_divisible(name: str, value: int, divisor: int, reason: str = "") -> None:
    """Check that ``value`` (called ``name``) is a multiple of ``divisor``.

    ``reason`` says where the divisor comes from, e.g. ``"block_size**2 = 4"``.

    >>> check_divisible("channels", 6, 4, "block_size**2 = 4")
    Traceback (most recent call last):
        ...
    ValueError: channels must be divisible by block_size**2 = 4, got 6
    """
    if value % divisor != 0:
        raise ValueError(f"{name} must be divisible by {reason or divisor}, got {value}")


def check_same_dtype(name: str, reference: torch.Tensor, **tensors: torch.Tensor | None) -> None:
    """Check that all given tensors (``None`` ignored) have the dtype of ``reference``.

    ``name`` is the reference's parameter name, for the message. Operators do not cast their
    operands silently: a float32 weight with a float64 input is a caller's mistake.

    >>> check_same_dtype("x", torch.zeros(1), weight=torch.zeros(1, dtype=torch.float64))
    Traceback (most recent call last):
        ...
    TypeError: weight must have the dtype of x (torch.float32), got torch.float64
    """
    for other, tensor in tensors.items():
        if tensor is not None and tensor.dtype != reference.dtype:
            raise TypeError(f"{other} must have the dtype of {name} ({reference.dtype}), "
                            f"got {tensor.dtype}")


def check_conv_operands(x: Any, weight: Any, bias: Any = None, *, input_name: str = "x",
                        input_ndim: int | Sequence[int] = (3, 4)) -> None:
    """Check the tensors of a convolution-like layer, as ``F.conv2d`` receives them.

    A floating-point input (called ``input_name``, ``input_ndim`` dimensions), a 4-D weight
    and an optional 1-D bias, all on one device and of one dtype. Shapes that depend on the
    layer (channels, groups) are the caller's to check.

    >>> check_conv_operands(torch.zeros(1, 2, 3, 3), torch.zeros(4, 2, 1, 1), torch.zeros(4))
    >>> check_conv_operands(torch.zeros(1, 2, 3, 3), torch.zeros(4, 2, 1))
    Traceback (most recent call last):
        ...
    ValueError: weight must be 4-D, got a 3-D input of shape (4, 2, 1)
    """
    check_float_tensor(input_name, x, ndim=input_ndim)
    check_float_tensor("weight", weight, ndim=4)
    if bias is not None:
        check_float_tensor("bias", bias, ndim=1)
    check_same_device(**{input_name: x, "weight": weight, "bias": bias})
    check_same_dtype(input_name, x, weight=weight, bias=bias)


def check_same_device(**tensors: torch.Tensor | None) -> None:
    """Check that all given tensors (``None`` ignored) live on one device.

    convnotes never moves data behind the caller's back, so mixed devices are an error.
    """
    present = {name: t for name, t in tensors.items() if t is not None}
    devices = {t.device for t in present.values()}
    if len(devices) > 1:
        listing = ", ".join(f"{name} on {t.device}" for name, t in present.items())
        raise ValueError(f"all tensors must be on one device, got {listing}")
