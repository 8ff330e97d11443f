"""Where code runs and how it is made repeatable: device choice, seeding and timing.

Every notebook starts with ``seed_everything`` so that its printed values are the same on each
run (nbval compares them), and every cost section times code with :func:`time_call`, which
synchronises CUDA so GPU timings measure the work rather than the kernel launch.

Examples
--------
>>> seed_everything(0)
>>> device().type in {"cpu", "cuda"}
True
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._checks import check_int

__all__ = ["device", "seed_everything", "synchronize", "time_call", "verify_close"]


def device() -> torch.device:
    """Return ``cuda`` when a CUDA device is available, else ``cpu``.

    Library functions never call this to move data: they run where their input tensors live.
    Notebooks and benchmarks call it to choose where to put the tensors they make.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Notes
    -----
    Also sets ``PYTHONHASHSEED`` for subprocesses. Functions that sample (e.g.
    ``stochastic_pool2d``) additionally take an explicit ``torch.Generator``.
    """
    seed = check_int("seed", seed, minimum=0)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeding the legacy global generator is the point
    torch.manual_seed(seed)  # also seeds every CUDA device


def synchronize(where: torch.device | str | None = None) -> None:
    """Wait for queued CUDA work on ``where`` (no-op on the CPU)."""
    target = torch.device(where) if where is not None else device()
    if target.type == "cuda":
        torch.cuda.synchronize(target)


def time_call(
    fn: Callable[[], Any],
    *,
    repeat: int = 5,
    number: int = 1,
    warmup: int = 1,
    where: torch.device | str | None = None,
) -> float:
    """Best wall-clock seconds of one call of ``fn`` over ``repeat`` rounds of ``number`` calls.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    repeat, number, warmup : int
        Rounds, calls per round, and untimed calls before timing (first-call costs such as
        CUDA context creation and FFT planning are not what we want to measure).
    where : torch.device or str, optional
        Device to synchronise before reading the clock; defaults to :func:`device`.

    Returns
    -------
    float
        The minimum over rounds of (round time / ``number``). The minimum is the least
        disturbed estimate on a shared machine.
    """
    repeat = check_int("repeat", repeat, minimum=1)
    number = check_int("number", number, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    synchronize(where)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        synchronize(where)
        best = min(best, (time.perf_counter() - start) / number)
    return best


def verify_close(
    label: str,
    actual: Any,
    expected: Any,
    *,
    atol: float | None = None,
    rtol: float | None = None,
) -> bool:
    """Assert that two arrays/tensors agree, then print ``"<label>: True"``.

    The notebooks' check cells use this: the cell fails loudly (``AssertionError`` with the
    largest difference) when the claim is false, and prints a line that does not depend on
    the device or BLAS library when it is true, so nbval can compare it on any machine.

    Parameters
    ----------
    label : str
        The claim being checked, e.g. ``"conv2d == F.conv2d"``.
    actual, expected : ndarray or Tensor
        Compared with ``torch.testing.assert_close`` (NumPy arrays are converted; tensors on
        different devices are compared on the CPU). Shapes must match exactly.
    atol, rtol : float, optional
        Tolerances; torch's dtype-dependent defaults when omitted (give both or neither).

    Returns
    -------
    bool
        ``True`` (so a cell can also use the value).

    Examples
    --------
    >>> verify_close("0.1 + 0.2 == 0.3", np.array(0.1 + 0.2), np.array(0.3))
    0.1 + 0.2 == 0.3: True
    True
    """

    def as_cpu_tensor(value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu()
        return torch.as_tensor(np.array(value))  # a copy: reversed views have negative strides

    left, right = as_cpu_tensor(actual), as_cpu_tensor(expected)
    if left.dtype != right.dtype:
        common = torch.promote_types(left.dtype, right.dtype)
        left, right = left.to(common), right.to(common)
    torch.testing.assert_close(left, right, atol=atol, rtol=rtol, msg=lambda m: f"{label}: {m}")
    print(f"{label}: True")
    return True
