"""Write the book's notebooks from their text twins, executed top to bottom.

Every chapter has two files: ``book/text/NN_topic.md``, the source authors edit and reviewers
read (jupytext's MyST markdown), and ``book/NN_topic.ipynb``, the same cells with their outputs,
which the book shows and ``pytest --nbval`` re-executes and compares. ``make notebooks`` runs
this script: for each chapter it reads the text, keeps the cell ids (and, with
``--inputs-only``, the outputs) of the stored notebook, executes the cells in a fresh ``python3``
kernel with ``book/`` as the working directory (as nbval runs them), and writes the ``.ipynb``
with the standard kernelspec and no per-cell timing metadata. The text is then rewritten in
jupytext's canonical form, so the two files always hold the same cells
(``tests/test_notebooks.py`` fails when they do not).

Usage::

    python tools/execute_notebooks.py                       # every chapter
    python tools/execute_notebooks.py book/text/03_transposed.md [...]
    python tools/execute_notebooks.py --inputs-only book/text/03_transposed.md

``--inputs-only`` is for a change to markdown cells alone: the outputs stay as stored, and the
script refuses when a code cell's source differs from the stored one (its outputs would be stale).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parent.parent / "book"
TEXT = BOOK / "text"
TEXT_FORMAT = "md:myst"
PAIRING = "ipynb,text//md:myst"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def twin_paths(path: Path) -> tuple[Path, Path]:
    """(text twin, notebook) for a path to either of them."""
    stem = path.stem
    return TEXT / f"{stem}.md", BOOK / f"{stem}.ipynb"


def code_sources(notebook: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in notebook.cells if c.cell_type == "code"]


def notebook_from_text(text: Path, stored: Path) -> nbformat.NotebookNode:
    """The text twin's cells, with the ids and outputs of the stored notebook where they match."""
    notebook = jupytext.read(text, fmt=TEXT_FORMAT)
    if stored.exists():
        notebook = combine_inputs_with_outputs(notebook, nbformat.read(stored, as_version=4))
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata["jupytext"] = {"formats": PAIRING}
    notebook.metadata.pop("language_info", None)
    return notebook


def execute(notebook: nbformat.NotebookNode) -> None:
    """Run every cell in a fresh kernel in ``book/``; drop the timing metadata it records."""
    NotebookClient(notebook, kernel_name="python3", timeout=900, record_timing=False,
                   resources={"metadata": {"path": str(BOOK)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("language_info", None)


def build(text: Path, stored: Path, inputs_only: bool) -> float:
    """Write ``stored`` from ``text`` (executed unless ``inputs_only``); return the seconds."""
    start = time.perf_counter()
    notebook = notebook_from_text(text, stored)
    if inputs_only:
        before = nbformat.read(stored, as_version=4) if stored.exists() else None
        if before is None or code_sources(before) != code_sources(notebook):
            raise SystemExit(f"{text.name}: code cells changed; run without --inputs-only")
    else:
        execute(notebook)
    nbformat.write(notebook, stored)
    jupytext.write(notebook, text, fmt=TEXT_FORMAT)
    return time.perf_counter() - start


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="text twins or notebooks (default: every chapter)")
    parser.add_argument("--inputs-only", action="store_true",
                        help="markdown changes only: keep the stored outputs, do not execute")
    options = parser.parse_args(arguments)
    paths = options.paths or sorted(TEXT.glob("[0-9][0-9]_*.md"))
    for path in paths:
        text, stored = twin_paths(path)
        if not text.exists():
            raise SystemExit(f"{path}: no text twin {text.relative_to(BOOK.parent)}")
        seconds = build(text, stored, options.inputs_only)
        print(f"{stored.name}: {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
