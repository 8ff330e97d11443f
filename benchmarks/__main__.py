"""Run the benchmark areas and print one table: ``python -m benchmarks [area ...] [--output FILE]``.

Without arguments every area runs and the table is written to ``book/benchmark_results.md``,
which the performance appendix of the book includes (commit it after a run on a quiet
machine). ``--output`` writes elsewhere, e.g. the torchvision rows measured in a side
environment that has torchvision: ``python -m benchmarks deformable --output
book/benchmark_results_torchvision.md``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
from pathlib import Path

import torch

from benchmarks.harness import CPU_TIME, ROUNDS, format_table, print_compare, run

SKIP = {"harness", "__main__"}
HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE.parent / "book" / "benchmark_results.md"


def areas() -> list[str]:
    """Every benchmark module of this package, alphabetically."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in SKIP)


def environment_line() -> str:
    """What the numbers were measured with, printed under the table."""
    threads = torch.get_num_threads()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    clock = ("CPU time of one thread (CONVNOTES_BENCH_CPU_TIME=1)" if CPU_TIME
             else f"wall clock, {threads} CPU threads")
    return (f"Measured with torch {torch.__version__} ({clock}, {gpu}), "
            f"Python {platform.python_version()}, on {platform.machine()}; times are "
            f"medians (IQR) of {ROUNDS} alternating rounds of torch.utils.benchmark's "
            f"blocked_autorange.")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("areas", nargs="*", choices=[[], *areas()], metavar="area",
                        help=f"areas to run (default: all of {', '.join(areas())})")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="Markdown file to write the table to")
    options = parser.parse_args(argv)
    results = []
    for name in options.areas or areas():
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        results.extend(run(module.cases()))
    print_compare(results)
    table = format_table(results) + "\n\n" + environment_line()
    print(table)
    options.output.write_text(table + "\n")
    print(f"wrote {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
