"""The one way benchmarks time code and print results.

Each area module defines ``def cases() -> list[Comparison]`` and ends with
``if __name__ == "__main__": print_table(run(cases()))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from convnotes import runtime
from convnotes.runtime import time_call


@dataclass
class Comparison:
    """One side-by-side timing: convnotes ``ours`` against ``twin`` on the same inputs.

    ``check`` (optional) is called once before timing and should raise if the two disagree,
    so a benchmark never reports the speed of a wrong answer. ``predicted`` is the speed-up
    a cost model predicts (e.g. a multiplication ratio), printed beside the measured one.
    """

    area: str
    case: str
    ours: Callable[[], Any]
    twin: Callable[[], Any]
    twin_name: str
    check: Callable[[], None] | None = None
    predicted: float | None = None
    repeat: int = 5
    number: int = 1
    where: str = "cpu"
    result: dict[str, Any] = field(default_factory=dict)


def devices() -> list[torch.device]:
    """Where the benchmarks run: the CPU always, and the GPU too when there is one."""
    gpu = runtime.device()
    return [torch.device("cpu"), *([gpu] if gpu.type == "cuda" else [])]


def on_every_device(cases_on: Callable[[torch.device], list[Comparison]]) -> list[Comparison]:
    """``cases_on(where)`` for every device of :func:`devices`, CPU cases first."""
    return [item for where in devices() for item in cases_on(where)]


@contextmanager
def _full_float32() -> Iterator[None]:
    """Checks compare float32 results at tight tolerances: switch TF32 off while they run.

    On recent NVIDIA GPUs torch computes float32 convolutions and matrix products in TF32 by
    default (10-bit mantissas), so two correct computations differ by about 1e-2; the timed
    runs keep the default, as networks run it.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def run(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Check, then time each comparison (best of ``repeat``), filling ``result``."""
    for item in comparisons:
        if item.check is not None:
            with _full_float32():
                item.check()
        ours = time_call(item.ours, repeat=item.repeat, number=item.number, where=item.where)
        twin = time_call(item.twin, repeat=item.repeat, number=item.number, where=item.where)
        item.result = {"ours_ms": 1e3 * ours, "twin_ms": 1e3 * twin, "twin_over_ours": twin / ours}
    return list(comparisons)


def format_table(comparisons: Sequence[Comparison]) -> str:
    """Markdown: one table per area with case, twin, device, both times and both ratios.

    *speed-up* is twin time / convnotes time (above 1: the case's computation is faster);
    *predicted* is the speed-up the cost model predicts, where there is one.
    """
    blocks = []
    for area in dict.fromkeys(item.area for item in comparisons):
        lines = [
            f"**{area}**",
            "",
            "| case | twin | on | ms | twin ms | speed-up | predicted |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for item in (c for c in comparisons if c.area == area):
            r = item.result
            predicted = "" if item.predicted is None else f"{item.predicted:.2f}"
            lines.append(
                f"| {item.case} | {item.twin_name} | {item.where} | {r['ours_ms']:.2f} "
                f"| {r['twin_ms']:.2f} | {r['twin_over_ours']:.2f} | {predicted} |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def print_table(comparisons: Sequence[Comparison]) -> None:
    """Print :func:`format_table` (a ratio above 1 means convnotes is faster than the twin)."""
    print(format_table(comparisons))
