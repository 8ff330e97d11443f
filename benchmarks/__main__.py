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
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
