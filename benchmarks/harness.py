"""The one way benchmarks time code and print results (on ``torch.utils.benchmark``).

Each area module defines ``def cases() -> list[Comparison]`` and ends with
``if __name__ == "__main__": print_table(run(cases()))``.

How a comparison is timed: ``convnotes`` and its twin each get a
``torch.utils.benchmark.Timer`` (which synchronises CUDA and runs with this process's thread
count), and the two are measured *alternately*, ``rounds`` times each, every round one
``Timer.blocked_autorange`` (blocks of calls until ``MIN_RUN_TIME`` seconds have run). On a
shared machine absolute times drift by a factor of 2 within minutes; alternating puts both
sides under the same drift, so the ratio of the two medians of one round is steadier than
either time. The table reports, per side, the median time over all blocks with its
interquartile range (IQR), and the speed-up as the median of the per-round ratios with
their IQR.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.utils.benchmark as benchmark

from convnotes import runtime

MIN_RUN_TIME = 0.1  # seconds per round and side: long enough for several blocks of calls
ROUNDS = 7  # alternations of convnotes and twin per comparison
#: ``CONVNOTES_BENCH_CPU_TIME=1``: on a machine shared with other jobs, time the CPU work of
#: this process on one thread (``time.process_time``) instead of the wall clock, which other
#: processes stretch by whatever they take. CPU rows only; the table says which was used.
CPU_TIME = os.environ.get("CONVNOTES_BENCH_CPU_TIME", "") == "1"


@dataclass
class Comparison:
    """One side-by-side timing: convnotes ``ours`` against ``twin`` on the same inputs.

    ``check`` (optional) is called once before timing and should raise if the two disagree,
    so a benchmark never reports the speed of a wrong answer. ``predicted`` is the speed-up
    a cost model predicts (e.g. a multiplication ratio), printed beside the measured one.
    ``repeat`` is the number of alternating rounds (each one ``blocked_autorange`` per side).
    """

    area: str
    case: str
    ours: Callable[[], Any]
    twin: Callable[[], Any]
    twin_name: str
    check: Callable[[], None] | None = None
    predicted: float | None = None
    repeat: int = ROUNDS
    where: str = "cpu"
    result: dict[str, Any] = field(default_factory=dict)
    measurements: list[benchmark.Measurement] = field(default_factory=list)


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

    On recent NVIDIA GPUs torch computes float32 convolutions in TF32 by default (10-bit
    mantissas; ``torch.backends.cudnn.allow_tf32``), so two correct computations differ by
    about 1e-2; the timed runs keep the default, as networks run it.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile (the median alone for one value)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def _timer(item: Comparison, fn: Callable[[], Any], side: str) -> benchmark.Timer:
    clock = {"timer": time.process_time, "num_threads": 1} if CPU_TIME else {
        "num_threads": torch.get_num_threads()}
    return benchmark.Timer(stmt="fn()", globals={"fn": fn}, label=item.area,
                           sub_label=f"{item.case} [{item.where}]", description=side,
                           **clock)


def measure(item: Comparison) -> dict[str, Any]:
    """Time ``item.ours`` and ``item.twin`` alternately; medians, IQRs and the ratio."""
    timers = {"ours": _timer(item, item.ours, "convnotes"),
              "twin": _timer(item, item.twin, item.twin_name)}
    rounds: dict[str, list[benchmark.Measurement]] = {"ours": [], "twin": []}
    for _ in range(item.repeat):
        for side, timer in timers.items():
            rounds[side].append(timer.blocked_autorange(min_run_time=MIN_RUN_TIME))
    ratios = [t.median / o.median for o, t in zip(rounds["ours"], rounds["twin"], strict=True)]
    item.measurements = [benchmark.Measurement.merge(rounds[side])[0] for side in timers]
    result: dict[str, Any] = {}
    for side in timers:
        q1, median, q3 = _quartiles([t for m in rounds[side] for t in m.times])
        result[f"{side}_ms"], result[f"{side}_iqr_ms"] = 1e3 * median, 1e3 * (q3 - q1)
    q1, median, q3 = _quartiles(ratios)
    result.update(twin_over_ours=median, ratio_q1=q1, ratio_q3=q3)
    return result


def run(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Check, then time each comparison (:func:`measure`), filling ``result``."""
    for item in comparisons:
        if item.check is not None:
            with _full_float32():
                item.check()
        item.ours(), item.twin()  # first calls (allocations, kernel selection) are not timed
        runtime.synchronize(item.where)
        item.result = measure(item)
    return list(comparisons)


def format_table(comparisons: Sequence[Comparison]) -> str:
    """Markdown: per area, a table of times and ratios, then the spread of each ratio.

    *ms* and *twin ms* are medians over all timed blocks, written ``median (IQR)``;
    *speed-up* is twin time / convnotes time (above 1: the case's computation is faster),
    the median of the alternating rounds' ratios; *predicted* is the speed-up the cost model
    predicts, where there is one. (The main table keeps exactly these seven columns, with
    plain numbers in the last two: the book's charts read them.) The second table gives the
    interquartile range of the per-round ratios.
    """
    blocks = []
    for area in dict.fromkeys(item.area for item in comparisons):
        items = [c for c in comparisons if c.area == area]
        lines = [
            f"**{area}**",
            "",
            "| case | twin | on | ms (IQR) | twin ms (IQR) | speed-up | predicted |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for item in items:
            r = item.result
            predicted = "" if item.predicted is None else f"{item.predicted:.2f}"
            lines.append(
                f"| {item.case} | {item.twin_name} | {item.where} "
                f"| {r['ours_ms']:.2f} ({r['ours_iqr_ms']:.2f}) "
                f"| {r['twin_ms']:.2f} ({r['twin_iqr_ms']:.2f}) "
                f"| {r['twin_over_ours']:.2f} | {predicted} |"
            )
        lines += [
            "",
            f"*{area}: spread of the speed-up over the {items[0].repeat} alternating rounds*",
            "",
            "| case | on | speed-up | middle half of the rounds |",
            "|---|---|---:|---:|",
        ]
        for item in items:
            r = item.result
            lines.append(f"| {item.case} | {item.where} | {r['twin_over_ours']:.2f} "
                         f"| {r['ratio_q1']:.2f} to {r['ratio_q3']:.2f} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def print_compare(comparisons: Sequence[Comparison]) -> None:
    """``torch.utils.benchmark.Compare`` of every measurement, on stderr (times only)."""
    measurements = [m for item in comparisons for m in item.measurements]
    if measurements:
        compare = benchmark.Compare(measurements)
        compare.trim_significant_figures()
        print(str(compare), file=sys.stderr)


def print_table(comparisons: Sequence[Comparison]) -> None:
    """Print :func:`format_table` (a ratio above 1 means convnotes is faster than the twin)."""
    print_compare(comparisons)
    print(format_table(comparisons))
