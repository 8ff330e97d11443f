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
import statistics
import time
import timeit
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch

from ._checks import check_int

__all__ = ["cpu_cores", "device", "seed_everything", "synchronize", "time_call", "verify_close"]


def device() -> torch.device:
    """Return ``cuda`` when a CUDA device is available, else ``cpu``.

    Library functions never call this to move data: they run where their input tensors live.
    Notebooks and benchmarks call it to choose where to put the tensors they make.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_cores() -> int:
    """The number of CPU cores this process may run on (at least 1).

    Its CPU affinity where the operating system reports one (``os.sched_getaffinity``, which
    a container's or a job scheduler's CPU set narrows), else ``os.cpu_count()``.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Parameters
    ----------
    seed : int
        An integer in ``[0, 2**32 - 1]`` (NumPy's legacy generator takes no more); checked
        before anything is reseeded.

    Notes
    -----
    Also sets ``PYTHONHASHSEED`` for subprocesses. Functions that sample (e.g.
    ``stochastic_pool2d``) additionally take an explicit ``torch.Generator``.
    """
    seed = check_int("seed", seed, minimum=0)
    if seed > 2**32 - 1:
        raise ValueError(f"seed must be <= 2**32 - 1 = {2**32 - 1} (NumPy's limit), got {seed}")
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
    fn: Callable[[], object],
    *,
    repeat: int = 5,
    number: int = 1,
    warmup: int = 1,
    where: torch.device | str | None = None,
) -> float:
    """Median wall-clock seconds of one call of ``fn``: ``repeat`` rounds of ``number`` calls.

    Parameters
    ----------
    fn : callable
        Called with no arguments, exactly ``warmup + repeat * number`` times.
    repeat, number : int
        Rounds, and calls per round; each round is timed as a whole (one clock reading
        before its first call and one after its last), with Python's garbage collector off,
        as ``timeit`` does.
    warmup : int
        Untimed calls before the first round (first-call costs such as CUDA context creation
        and FFT planning are not what we want to measure).
    where : torch.device or str, optional
        Device whose queued work is waited for after the warm-up and at both ends of every
        round (so GPU times measure the work, not the launch); defaults to :func:`device`.

    Returns
    -------
    float
        The median over rounds of (round time / ``number``), in seconds.

    Notes
    -----
    The clock is ``time.perf_counter``, the one ``torch.utils.benchmark`` (which the
    benchmarks use) reads through the same standard-library ``timeit.Timer``. Its
    ``Timer.timeit(number)`` is not used here because it makes ``max(number // 100, 2)``
    untimed calls before every round: for a slow ``fn`` timed once per round, three calls
    for each one timed.

    Examples
    --------
    >>> seconds = time_call(lambda: sum(range(100)), repeat=3)
    >>> 0.0 < seconds < 1.0
    True
    """
    repeat = check_int("repeat", repeat, minimum=1)
    number = check_int("number", number, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()

    def clock() -> float:
        synchronize(where)
        return time.perf_counter()

    clock()  # the warm-up's queued work is not part of the first round
    timer = timeit.Timer(fn, timer=clock)
    return float(statistics.median(timer.timeit(number) / number for _ in range(repeat)))


def verify_close(
    label: str,
    actual: npt.ArrayLike | torch.Tensor,
    expected: npt.ArrayLike | torch.Tensor,
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

    def as_cpu_tensor(value: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
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
