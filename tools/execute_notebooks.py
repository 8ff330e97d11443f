"""Re-execute the book's notebooks in place, top to bottom, the way they are committed.

``make notebooks`` runs this after a library change. Each notebook runs in a fresh ``python3``
kernel with its own folder as the working directory (as nbval runs it); the stored notebook
gets the standard kernelspec and no per-cell timing metadata, so re-running an unchanged
notebook changes only what truly varies (timings and image bytes).

Usage: ``python tools/execute_notebooks.py [book/NN_topic.ipynb ...]`` (default: every chapter).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parent.parent / "book"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def execute(path: Path) -> float:
    """Execute one notebook in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"] = KERNELSPEC
    start = time.perf_counter()
    NotebookClient(notebook, kernel_name="python3", timeout=900, record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(arguments: list[str]) -> int:
    paths = [Path(a) for a in arguments] or sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
