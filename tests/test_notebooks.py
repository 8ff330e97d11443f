"""Every chapter keeps the book's one notebook arc and the rules that make nbval meaningful.

nbval re-executes the notebooks and compares their outputs; these tests check what nbval
cannot: that each notebook was stored from one clean top-to-bottom run, that it follows the
chapter template (DESIGN.md), that it excuses few cells from comparison, that it links its
library module, and that its outputs are the kinds nbval compares reliably.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
TEMPLATE = ["Idea", "Definition", "From scratch", "Check", "Cost", "In a network", "Exercises"]
LONG_OUTPUT_LINES = 40


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _code_cells(path: Path) -> list[dict]:
    return [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_chapters():
    assert len(CHAPTERS) >= 3


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
class TestChapter:
    def test_stored_from_one_clean_run_top_to_bottom(self, path):
        counts = [c.get("execution_count") for c in _code_cells(path)]
        assert counts == list(range(1, len(counts) + 1)), (
            f"execution counts {counts}: re-run the notebook top to bottom (make notebooks)")

    def test_standard_kernel_and_no_volatile_metadata(self, path):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        assert notebook["metadata"].get("kernelspec", {}).get("name") == "python3"
        timed = [c for c in _code_cells(path) if "execution" in c.get("metadata", {})]
        assert not timed, "cell timing metadata stored: run tools/execute_notebooks.py"

    def test_no_stored_errors(self, path):
        for cell in _code_cells(path):
            errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
            if errors:
                assert "raises-exception" in _tags(cell), _source(cell)[:200]

    def test_follows_the_chapter_template(self, path):
        markdown = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
        titles = re.findall(r"^# (.+)$", markdown, flags=re.MULTILINE)
        sections = re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)
        assert len(titles) == 1, f"one '#' title expected, got {titles}"
        assert sections == TEMPLATE, f"'##' headings must be exactly {TEMPLATE}, got {sections}"

    def test_links_its_library_module(self, path):
        first_text = _source(_cells(path)[0])
        assert re.search(r"Code for this chapter: \{mod\}`convnotes\.\w+`", first_text), (
            "the title cell must say: Code for this chapter: {mod}`convnotes.<module>`")

    def test_starts_by_seeding_everything(self, path):
        first_code = _source(_code_cells(path)[0])
        assert "runtime.seed_everything(" in first_code

    def test_few_cells_are_excused_from_comparison(self, path):
        cells = _code_cells(path)
        ignored = [c for c in cells if "nbval-ignore-output" in _tags(c)]
        assert len(ignored) <= max(1, 0.15 * len(cells)), (
            f"{len(ignored)} of {len(cells)} code cells are tagged nbval-ignore-output")

    def test_has_a_gpu_check_and_a_timing_cell_in_the_cost_section(self, path):
        cells = _cells(path)
        start = next(i for i, c in enumerate(cells)
                     if c["cell_type"] == "markdown" and "## Cost" in _source(c))
        end = next(i for i, c in enumerate(cells)
                   if c["cell_type"] == "markdown" and "## In a network" in _source(c))
        section = [c for c in cells[start:end] if c["cell_type"] == "code"]
        assert any("runtime.device()" in _source(c) and "nbval-ignore-output" not in _tags(c)
                   for c in section), "no compared cell runs on runtime.device()"
        assert any("time_call" in _source(c) for c in section), "nothing timed with time_call"
        assert any("nbval-ignore-output" in _tags(c) for c in section), (
            "the timing cell must be tagged nbval-ignore-output")

    def test_outputs_are_kinds_nbval_compares_reliably(self, path):
        for cell in _code_cells(path):
            for output in cell.get("outputs", []):
                kinds = set(output.get("data", {}))
                assert not kinds & {"text/html", "image/svg+xml", "application/javascript"}, (
                    f"{sorted(kinds)} in: {_source(cell)[:120]}")
                text = "".join(output.get("text", "")) + "".join(
                    output.get("data", {}).get("text/plain", ""))
                assert not re.search(r" at 0x[0-9a-f]{6,}", text), (
                    f"a memory address is stored (it changes every run): {_source(cell)[:120]}")

    def test_long_outputs_are_collapsible(self, path):
        for cell in _code_cells(path):
            lines = sum("".join(o.get("text", "")).count("\n")
                        for o in cell.get("outputs", []))
            if lines > LONG_OUTPUT_LINES:
                assert {"hide-output", "scroll-output", "output_scroll"} & set(_tags(cell)), (
                    f"{lines} lines of output; tag the cell hide-output: {_source(cell)[:120]}")

    def test_exercises_have_hidden_answers(self, path):
        markdown = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
        exercises = markdown[markdown.index("## Exercises"):]
        assert re.search(r":::\{admonition\}.*\n:class: dropdown", exercises), (
            "answers belong in a dropdown admonition")
