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
import os
from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias, TypeGuard

import numpy as np
import torch

__all__ = [
    "Padding2",
    "Size2",
    "as_batch",
    "check_bool",
    "check_broadcasts_to",
    "check_channels_divisible",
    "check_conv_operands",
    "check_conv_weight",
    "check_divisible",
    "check_finite",
    "check_float_tensor",
    "check_int",
    "check_int_sequence",
    "check_layer_input",
    "check_module",
    "check_ndim",
    "check_no_zero_size",
    "check_non_negative_values",
    "check_number",
    "check_one_of",
    "check_path",
    "check_real",
    "check_same_device",
    "check_same_dtype",
    "check_shape",
    "check_split",
    "check_tensor",
    "check_window_fits",
    "ensure_array",
    "int_tuple",
    "pair",
    "unbatch",
]

#: An int or an ``(height, width)`` pair of ints, as ``torch.nn.functional`` takes
#: ``kernel_size``, ``stride``, ``padding`` and ``dilation``.
Size2: TypeAlias = int | tuple[int, int]
#: A convolution's padding: zeros per side (an int or a pair), or ``"same"`` / ``"valid"``.
Padding2: TypeAlias = int | tuple[int, int] | Literal["same", "valid"]



def _is_int(value: object) -> TypeGuard[int | np.integer]:
    """True for Python and NumPy integers, False for bools (``True`` is not a stride)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_int(name: str, value: object, minimum: int | None = None) -> int:
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
    value: object,
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


def pair(name: str, value: object, minimum: int = 1) -> tuple[int, int]:
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

# --------------------------------------------------------------------------------------------
# Flags, real numbers, batching, the zero-size policy, convolution weights
# --------------------------------------------------------------------------------------------


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a ``bool``; only ``True``/``False`` (also ``np.bool_``) are flags.

    ``"False"``, ``0`` and ``None`` are refused: a truthy string would silently mean ``True``.

    >>> check_bool("ceil_mode", np.bool_(True))
    True
    >>> check_bool("transposed", "False")
    Traceback (most recent call last):
        ...
    TypeError: transposed must be a bool, got 'False' of type str
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r} of type {type(value).__name__}")
    return bool(value)


def check_real(name: str, value: np.ndarray | torch.Tensor) -> None:
    """Refuse a complex array or tensor where the imaginary part would be dropped silently.

    >>> check_real("reference", np.array([1 + 2j]))
    Traceback (most recent call last):
        ...
    TypeError: reference must be real, got complex dtype complex128
    (its imaginary part would be dropped)
    """
    dtype = value.dtype
    is_complex = value.is_complex() if isinstance(value, torch.Tensor) else np.iscomplexobj(value)
    if is_complex:
        kind = str(dtype).removeprefix("torch.")
        raise TypeError(f"{name} must be real, got complex dtype {kind} "
                        f"(its imaginary part would be dropped)")


def check_no_zero_size(name: str, value: np.ndarray | torch.Tensor, first_axis: int = 1) -> None:
    """The zero-size policy: only the batch axis (the axes before ``first_axis``) may be empty.

    An empty batch (``N = 0``) gives the twin's empty result; a zero channel count or a zero
    spatial size has no windows to compute and is refused here, with the shape, instead of
    failing in a reshape or returning a plausible-looking array of zeros.

    >>> check_no_zero_size("x", torch.zeros(0, 2, 3, 3))
    >>> check_no_zero_size("x", torch.zeros(1, 2, 0, 3))
    Traceback (most recent call last):
        ...
    ValueError: x must have a non-zero size in every dimension after the batch,
    got shape (1, 2, 0, 3)
    """
    if any(size == 0 for size in tuple(value.shape)[first_axis:]):
        where = {0: "", 1: " after the batch"}.get(first_axis, f" from dimension {first_axis} on")
        raise ValueError(f"{name} must have a non-zero size in every dimension{where}, "
                         f"got shape {tuple(value.shape)}")


def as_batch(name: str, value: torch.Tensor, batched_ndim: int = 4, *,
             allow_zero_size: bool = False) -> tuple[torch.Tensor, bool]:
    """``value`` with a leading batch axis, and whether the caller's tensor already had one.

    Every operator accepts ``(N, C, H, W)`` and the unbatched ``(C, H, W)``, like
    ``torch.nn.functional``; it computes on the batched view and hands its result to
    :func:`unbatch`. Unless ``allow_zero_size``, the zero-size policy
    (:func:`check_no_zero_size`) is applied to the batched view.

    >>> batch, batched = as_batch("x", torch.zeros(2, 5, 5))
    >>> tuple(batch.shape), batched
    ((1, 2, 5, 5), False)
    >>> unbatch(batch, batched).shape
    torch.Size([2, 5, 5])
    """
    check_ndim(name, value, (batched_ndim - 1, batched_ndim))
    batched = value.ndim == batched_ndim
    batch = value if batched else value.unsqueeze(0)
    if not allow_zero_size:
        check_no_zero_size(name, batch)
    return batch, batched


def unbatch(result: torch.Tensor, batched: bool) -> torch.Tensor:
    """Undo :func:`as_batch` on an operator's result: drop the batch axis it added."""
    return result if batched else result.squeeze(0)


def check_conv_weight(weight: torch.Tensor, bias: torch.Tensor | None, in_channels: int,
                      groups: int, *, layout: str = "OIHW", name: str = "weight") -> int:
    """Check a convolution weight (and bias) against the input's channels; return ``C_out``.

    ``layout="OIHW"``: ``F.conv2d``'s ``(C_out, C_in / groups, kh, kw)``;
    ``layout="IOHW"``: ``F.conv_transpose2d``'s ``(C_in, C_out / groups, kh, kw)``. The bias,
    when given, must hold one number per output channel. No size of the weight may be zero.

    >>> check_conv_weight(torch.zeros(4, 1, 3, 3), torch.zeros(4), 2, groups=2)
    4
    >>> check_conv_weight(torch.zeros(2, 3, 3, 3), torch.zeros(3), 2, groups=1, layout="IOHW")
    3
    >>> check_conv_weight(torch.zeros(4, 2, 3, 3), torch.zeros(5), 2, groups=1)
    Traceback (most recent call last):
        ...
    ValueError: bias must have shape (4,) (one entry per output channel), got (5,)
    """
    check_one_of("layout", layout, ("OIHW", "IOHW"))
    shape = tuple(weight.shape)
    check_no_zero_size(name, weight, first_axis=0)
    spatial = ", ".join(("kh", "kw", "kd")[: len(shape) - 2]) or "k"
    if layout == "OIHW":
        out_channels, group_in = shape[0], shape[1]
        check_channels_divisible("in_channels", in_channels, groups)
        if group_in * groups != in_channels:
            raise ValueError(f"{name} must have shape (C_out, C_in / groups = "
                             f"{in_channels // groups}, {spatial}) for an input with "
                             f"C_in={in_channels} and groups={groups}, got {shape}")
        check_channels_divisible(f"out_channels ({name}.shape[0])", out_channels, groups)
    else:
        if shape[0] != in_channels:
            raise ValueError(f"{name} must have shape (C_in = {in_channels}, C_out / groups, "
                             f"{spatial}) for an input with C_in={in_channels}, got {shape}")
        check_channels_divisible(f"in_channels ({name}.shape[0])", in_channels, groups)
        out_channels = shape[1] * groups
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"bias must have shape ({out_channels},) (one entry per output "
                         f"channel), got {tuple(bias.shape)}")
    return out_channels


def check_window_fits(name: str, kernel: Sequence[int], dilation: Sequence[int],
                      size: Sequence[int], padding: Sequence[int], input_name: str = "x") -> None:
    """Check that a window spanning ``d (k - 1) + 1`` fits in the padded input, per axis.

    ``name`` is what the caller passed the window as (``"weight"`` when the kernel size comes
    from a weight's shape, ``"kernel_size"`` when it was given as a number).

    >>> check_window_fits("weight", (9, 9), (1, 1), (6, 6), (0, 0))
    Traceback (most recent call last):
        ...
    ValueError: weight spans 9x9 (kernel 9x9, dilation (1, 1)), more than the padded input 6x6
    of x (size 6x6, padding (0, 0))
    """
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    padded = [s + 2 * p for s, p in zip(size, padding, strict=True)]
    if any(span > room for span, room in zip(spans, padded, strict=True)):
        def axes(values: Sequence[int]) -> str:
            return "x".join(str(v) for v in values)

        raise ValueError(f"{name} spans {axes(spans)} (kernel {axes(kernel)}, dilation "
                         f"{tuple(dilation)}), more than the padded input {axes(padded)} of "
                         f"{input_name} (size {axes(size)}, padding {tuple(padding)})")


def check_layer_input(value: object, parameter: torch.Tensor, in_channels: int, *,
                      name: str = "x", ndim: int | Sequence[int] = (3, 4),
                      channel_dim: int = -3) -> torch.Tensor:
    """Check the input of an ``nn.Module``'s ``forward`` against the layer it enters.

    A floating-point tensor of ``ndim`` dimensions with ``in_channels`` channels (dimension
    ``channel_dim``: ``-3`` for images, ``-4`` for volumes), on the device and of the dtype of
    the layer's ``parameter`` (e.g. its weight).

    >>> check_layer_input(torch.zeros(1, 2, 4, 4), torch.zeros(3, 2, 1, 1), 3)
    Traceback (most recent call last):
        ...
    ValueError: x must have 3 channels (dimension -3) for this layer, got shape (1, 2, 4, 4)
    """
    tensor = check_float_tensor(name, value, ndim=ndim)
    if tensor.shape[channel_dim] != in_channels:
        raise ValueError(f"{name} must have {in_channels} channels (dimension {channel_dim}) "
                         f"for this layer, got shape {tuple(tensor.shape)}")
    if tensor.dtype != parameter.dtype:
        raise TypeError(f"{name} must have the dtype of the layer's parameters "
                        f"({parameter.dtype}), got {tensor.dtype}")
    if tensor.device != parameter.device:
        raise ValueError(f"{name} must be on the device of the layer's parameters "
                         f"({parameter.device}), got {tensor.device}")
    return tensor


def check_path(name: str, value: object) -> os.PathLike[str] | str:
    """Check that ``value`` names a file or folder (a ``str`` or an ``os.PathLike``).

    >>> check_path("folder", 3)
    Traceback (most recent call last):
        ...
    TypeError: folder must be a path (str or os.PathLike), got int
    """
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    if isinstance(value, str) and not value:
        raise ValueError(f"{name} must name a file or folder, got the empty string ''")
    return value


def check_one_of(name: str, value: str, options: Iterable[str]) -> str:
    """Check that ``value`` is one of ``options`` (e.g. ``mode`` in ``("full", "same")``)."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {options!r}, got {value!r}")
    return value


def check_tensor(name: str, value: object, ndim: int | Sequence[int] | None = None) -> torch.Tensor:
    """Check that ``value`` is a ``torch.Tensor`` (with ``ndim`` dimensions when given)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None:
        check_ndim(name, value, ndim)
    return value


def check_float_tensor(
    name: str, value: object, ndim: int | Sequence[int] | None = None
) -> torch.Tensor:
    """Like :func:`check_tensor`, and the dtype must be floating point."""
    tensor = check_tensor(name, value, ndim)
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {tensor.dtype}")
    return tensor


def check_ndim(name: str, value: np.ndarray | torch.Tensor, ndim: int | Sequence[int]) -> None:
    """Check the number of dimensions of an array or tensor; ``ndim`` may list several."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if value.ndim not in allowed:
        listed = [f"{n}-D" for n in allowed]
        expected = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"
        kind = "tensor" if isinstance(value, torch.Tensor) else "array"
        raise ValueError(
            f"{name} must be {expected}, got a {value.ndim}-D {kind} of shape {tuple(value.shape)}"
        )


def check_shape(name: str, value: np.ndarray | torch.Tensor, expected: Sequence[int]) -> None:
    """Check that an array or tensor has exactly the shape ``expected``."""
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(value.shape)}")


def ensure_array(name: str, value: object, ndim: int | Sequence[int] | None = None) -> np.ndarray:
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
    if value.size == 0 if isinstance(value, np.ndarray) else value.numel() == 0:
        return
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


def check_conv_operands(x: object, weight: object, bias: object = None, *, input_name: str = "x",
                        input_ndim: int | Sequence[int] = (3, 4)) -> None:
    """Check the tensors of a convolution-like layer, as ``F.conv2d`` receives them.

    A floating-point input (called ``input_name``, ``input_ndim`` dimensions), a 4-D weight
    and an optional 1-D bias, all on one device and of one dtype. Shapes that depend on the
    layer (channels, groups) are the caller's to check.

    >>> check_conv_operands(torch.zeros(1, 2, 3, 3), torch.zeros(4, 2, 1, 1), torch.zeros(4))
    >>> check_conv_operands(torch.zeros(1, 2, 3, 3), torch.zeros(4, 2, 1))
    Traceback (most recent call last):
        ...
    ValueError: weight must be 4-D, got a 3-D tensor of shape (4, 2, 1)
    """
    tensor = check_float_tensor(input_name, x, ndim=input_ndim)
    kernel = check_float_tensor("weight", weight, ndim=4)
    offset = None if bias is None else check_float_tensor("bias", bias, ndim=1)
    check_same_device(**{input_name: tensor, "weight": kernel, "bias": offset})
    check_same_dtype(input_name, tensor, weight=kernel, bias=offset)


def check_broadcasts_to(name: str, value: torch.Tensor, shape: Sequence[int],
                        target: str = "") -> None:
    """Check that ``value`` broadcasts to exactly ``shape`` (``target`` names that shape).

    >>> check_broadcasts_to("shift", torch.zeros(3), (2, 3))
    >>> check_broadcasts_to("shift", torch.zeros(4), (2, 3), "clean")
    Traceback (most recent call last):
        ...
    ValueError: shift must broadcast to the shape of clean (2, 3), got shape (4,)
    """
    given, expected = tuple(value.shape), tuple(shape)
    try:  # torch's own broadcasting rule; it must not grow the target shape either
        fits = torch.broadcast_shapes(given, expected) == expected
    except RuntimeError:
        fits = False
    if not fits:
        of = f"of {target} " if target else ""
        raise ValueError(f"{name} must broadcast to the shape {of}{expected}, got shape {given}")


def check_same_device(**tensors: torch.Tensor | None) -> None:
    """Check that all given tensors (``None`` ignored) live on one device.

    convnotes never moves data behind the caller's back, so mixed devices are an error.
    """
    present = {name: t for name, t in tensors.items() if t is not None}
    devices = {t.device for t in present.values()}
    if len(devices) > 1:
        listing = ", ".join(f"{name} on {t.device}" for name, t in present.items())
        raise ValueError(f"all tensors must be on one device, got {listing}")


def check_int_sequence(name: str, value: object, minimum: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of ints (a list or tuple, not a string), each >= ``minimum``.

    ``TypeError`` for something that is not a sequence, ``ValueError`` for an empty one; each
    item is checked by :func:`check_int` under the name ``name[i]``.

    >>> check_int_sequence("dilations", [1, 2, 4], minimum=1)
    (1, 2, 4)
    >>> check_int_sequence("dilations", "124")
    Traceback (most recent call last):
        ...
    TypeError: dilations must be a non-empty sequence of ints, got '124'
    >>> check_int_sequence("rates", [1, 0], minimum=1)
    Traceback (most recent call last):
        ...
    ValueError: rates[1] must be >= 1, got 0
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a non-empty sequence of ints, got {value!r}")
    if len(value) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of ints, got {value!r}")
    return tuple(check_int(f"{name}[{i}]", item, minimum) for i, item in enumerate(value))


def check_module(name: str, value: object) -> torch.nn.Module:
    """Return ``value`` if it is a ``torch.nn.Module`` (a model or a layer).

    >>> check_module("model", lambda x: x)
    Traceback (most recent call last):
        ...
    TypeError: model must be a torch.nn.Module, got function
    """
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


#: What a data split carries: images and labels to train on and to test on.
_SPLIT_TENSORS = ("x_train", "y_train", "x_test", "y_test")


def check_split(name: str, value: object) -> None:
    """``value`` is a data split: tensors ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    >>> check_split("data", None)
    Traceback (most recent call last):
        ...
    TypeError: data must be a data split (tensors x_train, y_train, x_test, y_test), got NoneType
    """
    if not all(isinstance(getattr(value, field, None), torch.Tensor) for field in _SPLIT_TENSORS):
        raise TypeError(f"{name} must be a data split (tensors x_train, y_train, x_test, "
                        f"y_test), got {type(value).__name__}")


def int_tuple(name: str, value: object, length: int, minimum: int = 1) -> tuple[int, ...]:
    """Normalise an int or a sequence of ``length`` ints to a checked tuple (N-D :func:`pair`).

    ``F.conv1d`` and ``F.conv3d`` accept ``stride=2`` or ``stride=(2, 1, 1)`` alike; this is
    that rule for any number of axes. ``minimum`` is 1 for sizes, strides and dilations and 0
    for paddings.

    >>> int_tuple("stride", 2, 3)
    (2, 2, 2)
    >>> int_tuple("padding", (1, 0, 2), 3, minimum=0)
    (1, 0, 2)
    >>> int_tuple("dilation", (1, 2), 3)
    Traceback (most recent call last):
        ...
    ValueError: dilation must be an int or a sequence of 3 ints, got (1, 2) of length 2
    """
    length = check_int("length", length, minimum=1)
    if _is_int(value):
        return (check_int(name, value, minimum),) * length
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(f"{name} must be an int or a sequence of {length} ints, got {value!r}")
    if len(value) != length:
        raise ValueError(f"{name} must be an int or a sequence of {length} ints, "
                         f"got {tuple(value)!r} of length {len(value)}")
    if not all(_is_int(v) for v in value):
        raise TypeError(f"{name} must be an int or a sequence of {length} ints, got {value!r}")
    checked = tuple(int(v) for v in value)
    if min(checked) < minimum:
        raise ValueError(f"{name} must be >= {minimum} in each dimension, got {checked!r}")
    return checked
