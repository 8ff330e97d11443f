"""Run every benchmark area and print one table: ``python -m benchmarks``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.harness import format_table, run

SKIP = {"harness", "__main__"}


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in SKIP
    )
    results = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        results.extend(run(module.cases()))
    table = format_table(results)
    print(table)
    # The performance appendix of the book includes this file: commit it after a run.
    table_file = Path(__file__).resolve().parent.parent / "book" / "benchmark_results.md"
    table_file.write_text(table + "\n")
    print(f"wrote {table_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
