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

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
TEXT = BOOK / "text"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
#: Cell metadata that the text twin must carry (tags drive nbval and the page; mystnb captions).
TWIN_METADATA = ("tags", "mystnb")
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


def test_every_text_twin_has_its_notebook():
    orphans = [p.name for p in TEXT.glob("*.md") if not (BOOK / f"{p.stem}.ipynb").exists()]
    assert not orphans, f"text twins without a notebook: {orphans}"


def _repository_url() -> str:
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    match = re.search(r"^repository:\n\s+url:\s*(\S+)", config, flags=re.MULTILINE)
    assert match, "_config.yml names no repository url"
    return match.group(1)


def _cell_essentials(cell: dict) -> tuple[str, str, dict]:
    metadata = cell.get("metadata", {})
    return (cell["cell_type"], _source(cell).strip(),
            {k: metadata[k] for k in TWIN_METADATA if k in metadata})


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

    def test_has_a_text_twin_with_the_same_cells(self, path):
        jupytext = pytest.importorskip("jupytext", reason="jupytext (the dev extra) reads twins")
        twin = TEXT / f"{path.stem}.md"
        assert twin.exists(), f"no text twin {twin.relative_to(ROOT)}: see CONTRIBUTING.md"
        text_cells = jupytext.read(twin, fmt="md:myst")["cells"]
        stored = _cells(path)
        assert len(text_cells) == len(stored), (
            f"{twin.name} has {len(text_cells)} cells, {path.name} {len(stored)}: "
            "run tools/execute_notebooks.py on the twin")
        for index, (text_cell, cell) in enumerate(zip(text_cells, stored, strict=True)):
            assert _cell_essentials(text_cell) == _cell_essentials(cell), (
                f"cell {index} differs between {twin.name} and {path.name}: "
                "edit the text twin, then run tools/execute_notebooks.py on it")

    def test_is_paired_with_its_text_twin(self, path):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        assert notebook["metadata"].get("jupytext", {}).get("formats") == "ipynb,text//md:myst"

    def test_first_cell_installs_the_library_only_in_colab(self, path):
        setup = _source(_code_cells(path)[0])
        assert 'if "google.colab" in sys.modules:' in setup
        assert f'REPOSITORY = "{_repository_url()}"' in setup, (
            "the Colab cell must install from the repository named in _config.yml")
        assert 'f"convnotes[notebook] @ git+{REPOSITORY}"' in setup, (
            "the Colab cell installs the package with its notebook extra")
        assert 'InteractiveTB.set_mode("Minimal")' in setup, "errors must show in one line"
        assert not _code_cells(path)[0].get("outputs"), "the setup cell prints nothing"

    def test_seeds_everything_in_the_second_cell(self, path):
        assert "runtime.seed_everything(" in _source(_code_cells(path)[1])

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


# ------------------------------------------------------------------------------------------
# What a reader of the stored notebooks sees (issue 15): no path of the machine that ran them,
# code that fits the page without scrolling sideways.
# ------------------------------------------------------------------------------------------

#: A path of the machine that executed the notebook: the library's own files, an installed
#: package, or a home/temporary/work folder (POSIX or Windows).
MACHINE_PATH = re.compile(
    r"(?:/[\w.+-]+)+/convnotes/\w+\.py|site-packages|dist-packages"
    r"|(?<![\w.:/])/(?:root|tmp|work|home|Users|private|opt|usr)(?:/|\b)"
    r"|[A-Za-z]:\\\\(?:Users|Windows)\b"
)
#: Output MIME types that carry text a reader sees (images are base64: '/tmp' can occur by chance).
TEXT_MIME = ("text/plain", "text/markdown", "text/latex")
#: Longest code line, in characters: what fits a code block of the book's page without a
#: sideways scrollbar (and ruff's usual limit for notebooks).
CODE_LINE_LIMIT = 88


def _output_texts(output: dict) -> list[str]:
    texts = ["".join(output.get("text", ""))]
    texts += ["".join(output.get("data", {}).get(kind, "")) for kind in TEXT_MIME]
    if output["output_type"] == "error":
        texts += [output.get("ename", ""), output.get("evalue", ""),
                  "\n".join(output.get("traceback", []))]
    return [re.sub(r"\x1b\[[0-9;]*m", "", text) for text in texts if text]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_stored_output_carries_a_machine_path(path):
    found = []
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                found += [f"cell {index}: {m.group()!r} in "
                          f"{text[max(0, m.start() - 40):m.end() + 40]!r}"
                          for m in MACHINE_PATH.finditer(text)]
    assert not found, "stored outputs show paths of the machine that ran them:\n" + "\n".join(
        found[:10])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_cell_shows_the_bare_value_of_a_check(path):
    # a check cell ending in `runtime.verify_close(...)` also displays its return value, a
    # stray `True` under the printed claim: such a line is written `assert runtime.verify_close`
    bare = [index for index, cell in enumerate(_cells(path))
            for output in cell.get("outputs", [])
            if output.get("output_type") == "execute_result"
            and "".join(output.get("data", {}).get("text/plain", "")) in ("True", "False")]
    assert not bare, f"code cells {bare} display a bare True/False"


def _glued_values(path: Path) -> list[tuple[int, dict, str, str]]:
    """What a notebook glues: (cell index, cell, key, the value's text/plain) per glue."""
    found = []
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            key = output.get("metadata", {}).get("scrapbook", {}).get("name")
            text = output.get("data", {}).get("application/papermill.record/text/plain", "")
            if key:
                found.append((index, cell, key, text))
    return found


def _glued_numbers(path: Path) -> dict[str, float]:
    """The values a notebook glues that are plain numbers: {key: value}."""
    numbers = {}
    for _, _, key, text in _glued_values(path):
        try:
            numbers[key] = float(text)
        except ValueError:
            continue
    return numbers


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_glued_counts_of_thousands_have_separators(path):
    # the prose writes 5,018 parameters; a glued 5018 without a format would read differently
    numbers = _glued_numbers(path)
    text = (TEXT / f"{path.stem}.md").read_text(encoding="utf-8")
    bare = [key for key, spec in re.findall(r"\{glue:text\}`([a-z0-9_]+)(:[^`]*)?`", text)
            if abs(numbers.get(key, 0.0)) >= 1000 and "," not in spec]
    assert not bare, f"glued numbers of 1,000 or more shown without a separator: {bare}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_glued_numbers_carry_only_robust_digits(path):
    # nbval compares a glued value's text like any output: 0.43844515334397455 from an SVD
    # came out ...466 under another numpy; cells round what they glue (timings excepted)
    long = []
    for index, cell, key, text in _glued_values(path):
        if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []):
            continue
        if re.fullmatch(r"-?\d+\.\d+", text):
            significant = text.lstrip("-").replace(".", "").lstrip("0")
            if len(significant) > 8:
                long.append(f"cell {index}: {key} = {text}")
    assert not long, "glued values with more digits than a rerun keeps: " + "; ".join(long)


def test_machine_path_pattern_catches_what_it_must():
    traceback = 'File /work/main/convnotes/_checks.py:41, in check_int(name, value)'
    assert MACHINE_PATH.search(traceback)
    assert MACHINE_PATH.search("/usr/lib/python3/dist-packages/torch/nn/functional.py")
    assert MACHINE_PATH.search("saved to /tmp/tmpab12/out.png")
    assert MACHINE_PATH.search(r"C:\\Users\\reader\\convnotes")
    for clean in ("ValueError: stride must be >= 1, got 0", "ratio 9/16 and 1/tmp",
                  "tensor([[0.5000, 0.2500]])", "https://github.com/convnotes/convnotes"):
        assert not MACHINE_PATH.search(clean), clean


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(path):
    long_lines = [f"cell {index}, {len(line)} chars: {line[:60]}..."
                  for index, cell in enumerate(_cells(path)) if cell["cell_type"] == "code"
                  for line in _source(cell).splitlines() if len(line) > CODE_LINE_LIMIT]
    assert not long_lines, (
        f"{len(long_lines)} code lines longer than {CODE_LINE_LIMIT} characters (the book "
        "shows them with a sideways scrollbar); wrap them in the text twin:\n"
        + "\n".join(long_lines[:8]))


#: A sentence that speaks of speed ...
SPEED_WORDS = re.compile(r"\b(faster|slower|speed-?ups?|slow-?downs?|as long|as fast|ms|µs|"
                         r"milliseconds?|microseconds?|seconds)\b", re.IGNORECASE)
#: ... and states a figure: a number with a unit of ratio or time, or a ratio in words.
TYPED_FIGURE = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?\s*(?:×|x\b|times\b|%|ms\b|µs\b|s\b)"
    r"|\b(?:twice|half|a third|a quarter|(?:two|three|four|five|six|seven|eight|nine|ten)"
    r"\s+times)\b", re.IGNORECASE)


def _prose_sentences(markdown: str) -> list[str]:
    """The sentences of a markdown cell, with math, code, citations and link targets removed."""
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"\{cite:\w+\}`[^`]*`|(?<!\})`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return [" ".join(s.split()) for s in re.split(r"(?<=[.!?;:])\s+|\n\s*\n|\n\s*[*-] ", text)]


def hand_typed_speeds(markdown: str) -> list[str]:
    """Sentences stating a measured speed with a typed number instead of a ``{glue}`` role."""
    return [s for s in _prose_sentences(markdown)
            if "{glue" not in s and SPEED_WORDS.search(s) and TYPED_FIGURE.search(s)]


def test_the_speed_detector_catches_typed_figures_and_passes_glued_ones():
    assert hand_typed_speeds("The separable layer is about 4.3x faster here.")
    assert hand_typed_speeds("On the GPU it takes 12 ms, twice as long.")
    assert not hand_typed_speeds("It is {glue:text}`ch06_speedup:.1f` times faster.")
    assert not hand_typed_speeds("The layer needs $9/8$ of the multiplications.")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_measured_speeds_in_the_prose_are_glued(path):
    """Timings vary from run to run and their cells are excused from nbval: typed into the
    prose they drift from the outputs; glued from the cell ({glue:text}) they cannot."""
    typed = [s for c in _cells(path) if c["cell_type"] == "markdown"
             for s in hand_typed_speeds(_source(c))]
    assert not typed, "glue these figures from their cells:\n" + "\n".join(typed)


#: A figure's PNG must hold at least this many pixels per CSS pixel of its displayed width
#: (``convnotes.plotting`` stores "retina" PNGs: twice ``figure.dpi``, metadata width = half).
MIN_FIGURE_PIXEL_RATIO = 1.9


def _png_width(data: str) -> int:
    import base64

    header = base64.b64decode(data[:64])  # the IHDR chunk is in the first 24 bytes
    return int.from_bytes(header[16:20], "big")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_stored_figures_are_retina_pngs(path):
    """Every stored PNG carries its display width, with >= 1.9 pixels per CSS pixel (the
    browser test of the rendered book checks the same at the size each figure is shown)."""
    blurry = []
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if not png:
                continue
            shown = output.get("metadata", {}).get("image/png", {}).get("width")
            pixels = _png_width(png if isinstance(png, str) else "".join(png))
            if not shown or pixels < MIN_FIGURE_PIXEL_RATIO * shown:
                blurry.append(f"cell {index}: {pixels} px shown at {shown or pixels} px")
    assert not blurry, ("figures stored at screen resolution: re-execute the chapter "
                        "(tools/execute_notebooks.py) so convnotes.plotting stores them at "
                        "192 dpi:\n" + "\n".join(blurry[:8]))
