"""The in-page convolution explorer (``book/_static/explorer.js``), driven in Chromium.

Two kinds of check. The fast ones load ``explorer.js`` alone into a blank page and compare its
arithmetic API, ``window.convnotesExplorer``, with the library on a few hundred seeded random
configurations: output sizes (and, for invalid configurations, the very error message) with
:mod:`convnotes.arithmetic`, and the cells each output reads with the index map of
:func:`convnotes.correlation.im2col` (for transposed convolution: its transpose). The slow ones
open the landing page of the built book (the session's build, see ``book_html`` in
``conftest.py``) at phone and desktop widths and click through every preset, with the mouse
and with the keyboard, in light and dark mode, with no console error and no request to
another host.

The convention ``reads`` follows (documented in ``explorer.js``): for convolution and pooling
one entry per tap, the input index or -1 on padding, which is im2col of the input
``1, 2, ..., size`` (shifted down by one, so the zero padding reads -1); for transposed
convolution the ascending input indices that write to the output.

Chromium comes from Debian (``make test`` installs it where it can); without it these tests
are skipped with a message that says so.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import Tab, open_tab, visit

from convnotes import arithmetic
from convnotes.correlation import im2col

ROOT = Path(__file__).resolve().parent.parent
EXPLORER_JS = ROOT / "book" / "_static" / "explorer.js"
N_RANDOM = 400
WIDTHS = {"phone": 390, "desktop": 1366}


@pytest.fixture(scope="module")
def api_page(browser):
    """A blank page with nothing but explorer.js loaded."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content("<!DOCTYPE html><html><head></head><body></body></html>")
    page.add_script_tag(content=EXPLORER_JS.read_text(encoding="utf-8"))
    assert page.evaluate("typeof window.convnotesExplorer.outputSize") == "function"
    yield page
    page.close()
    assert not errors, errors


# ------------------------------------------------------------------------------------------
# The library's answers
# ------------------------------------------------------------------------------------------


def _python_size(cfg: dict) -> int | str:
    """What convnotes.arithmetic says for ``cfg``: the output size, or the error message."""
    try:
        if cfg["op"] == "conv":
            return arithmetic.conv_output_size(cfg["size"], cfg["kernel"], cfg["stride"],
                                               cfg["padding"], cfg["dilation"])
        if cfg["op"] == "transposed":
            return arithmetic.conv_transpose_output_size(
                cfg["size"], cfg["kernel"], cfg["stride"], cfg["padding"],
                cfg["outputPadding"], cfg["dilation"])
        return arithmetic.pool_output_size(cfg["size"], cfg["kernel"], cfg.get("stride"),
                                           cfg["padding"], cfg["dilation"], cfg["ceilMode"])
    except (TypeError, ValueError) as error:
        return str(error)


def _index_map(size: int, kernel: int, stride: int, padding: int, dilation: int,
               extra: int = 0) -> torch.Tensor:
    """im2col of the 1-D input 0..size-1 (then ``extra`` more zeros): shape (kernel, L).

    Entry (a, l) is the input index that tap a of window l reads, -1 on padding.
    """
    values = torch.cat([torch.arange(1, size + 1, dtype=torch.float64),
                        torch.zeros(extra, dtype=torch.float64)])
    cols = im2col(values.reshape(1, 1, -1), (1, kernel), stride=(1, stride),
                  padding=(0, padding), dilation=(1, dilation))
    return cols.long() - 1


def _python_reads(cfg: dict, out: int) -> list[list[int]]:
    """For each output index, the input indices it reads, from im2col's index map."""
    stride = cfg.get("stride") or cfg["kernel"]
    if cfg["op"] == "transposed":
        # transposed conv = the adjoint of the conv from `out` cells back to `size` cells
        forward = _index_map(out, cfg["kernel"], stride, cfg["padding"], cfg["dilation"])
        forward = forward[:, : cfg["size"]]
        return [[j for j in range(cfg["size"]) if i in forward[:, j].tolist()]
                for i in range(out)]
    reach = (out - 1) * stride + cfg["dilation"] * (cfg["kernel"] - 1) + 1
    extra = max(0, reach - (cfg["size"] + 2 * cfg["padding"]))  # ceil_mode's overhang
    index = _index_map(cfg["size"], cfg["kernel"], stride, cfg["padding"], cfg["dilation"], extra)
    index[index >= cfg["size"]] = -1  # the overhang reads nothing, like the padding
    return index[:, :out].T.tolist()


def _random_configs(count: int, seed: int = 0) -> list[dict]:
    """Seeded configurations of all three operations, valid and invalid."""
    rng = random.Random(seed)

    def value(low: int, high: int, wrong: int) -> int:
        return wrong if rng.random() < 0.04 else rng.randint(low, high)

    configs = []
    for n in range(count):
        op = ("conv", "transposed", "pool")[n % 3]
        cfg = {"op": op, "size": value(1, 12, 0), "kernel": value(1, 6, 0),
               "stride": value(1, 4, 0), "padding": value(0, 4, -1),
               "dilation": value(1, 3, 0)}
        if op == "transposed":
            cfg["outputPadding"] = value(0, 3, -1)
        if op == "pool":
            cfg["ceilMode"] = rng.random() < 0.5
            cfg["padding"] = value(0, 2, -1)
            if rng.random() < 0.25:
                cfg["stride"] = None  # defaults to the kernel size
        configs.append(cfg)
    return configs


CONFIGS = _random_configs(N_RANDOM)

_JS_SIZES = """configs => configs.map(cfg => {
  try { return window.convnotesExplorer.outputSize(cfg); }
  catch (error) { return error.message; }
})"""

_JS_READS = """items => items.map(([cfg, out]) => {
  const api = window.convnotesExplorer;
  const reads = [...Array(out).keys()].map(i => api.reads(cfg, i));
  const inputs = [...Array(cfg.size).keys()];
  return {reads, readBy: inputs.map(j => api.readBy(cfg, j))};
})"""


# ------------------------------------------------------------------------------------------
# The arithmetic API against the library
# ------------------------------------------------------------------------------------------


def _ceil_mode_drops_a_window(cfg: dict) -> bool:
    """Whether torch's rule "no window starts in the right padding" removes one here."""
    stride = cfg["stride"] or cfg["kernel"]
    slack = cfg["size"] + 2 * cfg["padding"] - cfg["dilation"] * (cfg["kernel"] - 1) - 1
    windows = -(-slack // stride) + 1
    return (windows - 1) * stride >= cfg["size"] + cfg["padding"]


def test_the_random_configurations_cover_valid_and_invalid_cases_of_every_operation() -> None:
    for op in ("conv", "transposed", "pool"):
        answers = [_python_size(cfg) for cfg in CONFIGS if cfg["op"] == op]
        valid = sum(isinstance(a, int) for a in answers)
        assert valid >= 40 and len(answers) - valid >= 15, (op, valid, len(answers))
    messages = " ".join(a for a in map(_python_size, CONFIGS) if isinstance(a, str))
    for rule in ("output_padding must be smaller", "padding must be at most half",
                 "larger than the padded input", "is too large", "must be >= 1"):
        assert rule in messages, f"no random configuration breaks the rule {rule!r}"
    ceil_drops = [cfg for cfg in CONFIGS if cfg["op"] == "pool" and cfg["ceilMode"]
                  and isinstance(_python_size(cfg), int) and _ceil_mode_drops_a_window(cfg)]
    assert ceil_drops, "no configuration where ceil_mode's last-window rule matters"


def test_output_sizes_and_error_messages_equal_convnotes_arithmetic(api_page) -> None:
    got = api_page.evaluate(_JS_SIZES, CONFIGS)
    expected = [_python_size(cfg) for cfg in CONFIGS]
    mismatches = [(cfg, js, py) for cfg, js, py in zip(CONFIGS, got, expected, strict=True)
                  if js != py]
    assert not mismatches, f"{len(mismatches)} of {len(CONFIGS)} differ, e.g. {mismatches[:3]}"


def test_reads_equal_the_im2col_index_map_and_its_transpose(api_page) -> None:
    valid = [(cfg, size) for cfg in CONFIGS
             if isinstance(size := _python_size(cfg), int)]
    got = api_page.evaluate(_JS_READS, [[cfg, size] for cfg, size in valid])
    checked = 0
    for (cfg, size), answer in zip(valid, got, strict=True):
        expected = _python_reads(cfg, size)
        assert answer["reads"] == expected, cfg
        inverse = [[i for i in range(size) if j in expected[i]] for j in range(cfg["size"])]
        assert answer["readBy"] == inverse, cfg
        checked += size
    assert checked > 1000, f"only {checked} output positions compared"


@pytest.mark.parametrize(("cfg", "index", "expected"), [
    # the book's examples: chapter 1's strided convolution, chapter 3's transposed
    # convolution (output 2 gets tap 2 of input 0 and tap 0 of input 1), chapter 9's
    # ceil_mode pooling (the last window reads inputs 3 and 4; a fourth would start in the
    # right padding and is dropped)
    ({"op": "conv", "size": 5, "kernel": 3, "stride": 2, "padding": 1}, 0, [-1, 0, 1]),
    ({"op": "transposed", "size": 3, "kernel": 3, "stride": 2}, 2, [0, 1]),
    ({"op": "pool", "size": 5, "kernel": 2, "stride": 2, "padding": 1, "ceilMode": True}, 2,
     [3, 4]),
])
def test_reads_of_a_worked_example(api_page, cfg: dict, index: int, expected: list[int]) -> None:
    assert api_page.evaluate("([cfg, i]) => window.convnotesExplorer.reads(cfg, i)",
                             [cfg, index]) == expected


@pytest.mark.parametrize(("cfg", "index", "message"), [
    ({"op": "conv", "size": 5, "kernel": 3}, 3, "outputIndex must be in [0, 3), got 3"),
    ({"op": "conv", "size": 5, "kernel": 3}, 1.5, "outputIndex must be an int, got 1.5"),
    ({"op": "conv", "size": 5, "kernel": 3, "outputPadding": 1}, 0,
     "output_padding does not apply to op 'conv', got output_padding=1"),
    ({"op": "pool", "size": 5, "kernel": 2, "outputPadding": 1}, 0,
     "output_padding does not apply to op 'pool', got output_padding=1"),
    ({"op": "transposed", "size": 5, "kernel": 2, "ceilMode": True}, 0,
     "ceil_mode does not apply to op 'transposed', got ceil_mode=True"),
    ({"op": "deconv", "size": 5, "kernel": 2}, 0,
     "op must be one of ('conv', 'transposed', 'pool'), got \"deconv\""),
    ({"op": "conv", "size": 5.5, "kernel": 2}, 0, "size must be an int, got 5.5"),
    ({"op": "pool", "size": 5, "kernel": 2, "ceilMode": 1}, 0, "ceil_mode must be a bool, got 1"),
])
def test_invalid_calls_throw_a_message_naming_the_value(api_page, cfg: dict, index: float,
                                                        message: str) -> None:
    got = api_page.evaluate("""([cfg, i]) => {
        try { window.convnotesExplorer.reads(cfg, i); return null; }
        catch (error) { return error.message; }
    }""", [cfg, index])
    assert got == message


def test_a_page_chooses_the_presets_it_offers(api_page) -> None:
    """``data-presets`` limits the buttons; an unknown preset name is an error on the page."""
    report = api_page.evaluate("""() => {
        const logged = [];
        const original = console.error;
        console.error = (message) => logged.push(message);
        document.body.innerHTML =
            '<div id="a" class="convnotes-explorer" data-preset="dilated-2"' +
            ' data-presets="dilated-1, dilated-2,dilated-4"></div>' +
            '<div id="b" class="convnotes-explorer" data-preset="dilatd"></div>';
        window.convnotesExplorer.start();
        console.error = original;
        const a = document.getElementById("a");
        return {
            buttons: [...a.querySelectorAll("button.cnx-preset")].map(b => b.dataset.preset),
            pressed: a.querySelector("button[aria-pressed='true']").dataset.preset,
            dilation: a.querySelector("input[id$='-dilation']").value,
            error: document.querySelector("#b .cnx-error").textContent,
            logged,
        };
    }""")
    assert report["buttons"] == ["dilated-1", "dilated-2", "dilated-4"]
    assert report["pressed"] == "dilated-2" and report["dilation"] == "2"
    assert report["error"].startswith('convnotes explorer: unknown preset "dilatd"')
    assert report["logged"] == [report["error"]]


# ------------------------------------------------------------------------------------------
# The explorer on the built book's landing page
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landing_url(book_server: str) -> str:
    """The landing page of the built book, served on localhost."""
    return book_server + "book/intro.html"


@pytest.fixture(scope="module")
def landing_tab(browser, book_server: str, landing_url: str) -> Iterator[Tab]:
    """One tab for the landing-page tests (a fresh tab each would compile the theme's scripts
    again), open at the landing page."""
    with open_tab(browser, book_server, {"width": WIDTHS["desktop"], "height": 900}) as tab:
        visit(tab, landing_url)  # the origin whose localStorage _open sets
        yield tab


def _open(landing_tab: Tab, url: str, width: int, theme: str) -> Tab:
    """Load ``url`` afresh in the shared tab at ``width`` in ``theme``; its ``errors`` and
    ``foreign`` then hold what this load did (they fill as the page runs)."""
    page = landing_tab.page
    page.set_viewport_size({"width": width, "height": 900})
    # the theme reads the reader's choice from localStorage before it paints
    page.evaluate("theme => { localStorage.setItem('mode', theme); "
                  "localStorage.setItem('theme', theme); }", theme)
    visit(landing_tab, url)
    page.wait_for_selector(".convnotes-explorer .cnx-output rect.cnx-cell")
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    return landing_tab


_HIT_COUNTS = """root => ({
  input: root.querySelectorAll('.cnx-input rect.hit').length,
  output: root.querySelectorAll('.cnx-output rect.hit').length,
  status: root.querySelector('.cnx-status').textContent,
})"""


def _expected_hits(cfg: dict, size: int, r: int, q: int) -> int:
    """Input cells (padding included) that output (r, q) reads or that write to it."""
    if cfg["op"] == "transposed":
        rows = _python_reads(cfg, size)
        return len(rows[r]) * len(rows[q])
    return cfg["kernel"] ** 2  # one cell per tap: strides and dilations are >= 1


# Both widths, each theme once: the layout checks depend on the width, and the colours of the
# two themes are compared in test_dark_mode_recolours_the_cells.
@pytest.mark.parametrize(("device", "theme"), [("phone", "light"), ("desktop", "dark")])
def test_every_preset_on_the_landing_page(landing_tab, landing_url: str, device: str,
                                          theme: str) -> None:
    width = WIDTHS[device]
    page, errors, foreign = _open(landing_tab, landing_url, width, theme)
    root = page.locator(".convnotes-explorer").first
    presets = page.evaluate("window.convnotesExplorer.presets")
    buttons = root.locator("button.cnx-preset")
    assert buttons.count() == len(presets) >= 8
    for n in range(buttons.count()):
        button = buttons.nth(n)
        name = button.get_attribute("data-preset")
        cfg = {key: value for key, value in presets[name].items()}
        size = _python_size(cfg)
        assert isinstance(size, int), (name, size)
        button.click()
        assert button.get_attribute("aria-pressed") == "true"
        assert root.locator(".cnx-error").is_hidden()
        assert f"= {size}" in root.locator(".cnx-formula").inner_text(), name
        cells = root.locator(".cnx-output rect.cnx-cell")
        offset = cfg["padding"] if cfg["op"] == "transposed" else 0
        side = round(cells.count() ** 0.5)
        assert side >= size and side * side == cells.count(), name
        # tap (click) an output cell near the middle: it pins, and its inputs light up
        r = q = size // 2
        cells.nth((r + offset) * side + (q + offset)).click()
        hits = root.evaluate(_HIT_COUNTS)
        assert hits["input"] == _expected_hits(cfg, size, r, q), (name, hits)
        assert f"({r}, {q})" in hits["status"], (name, hits)
        box = root.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (name, box)
        for panel in root.locator(".cnx-panel").all():
            panel_box = panel.bounding_box()
            assert panel_box["x"] + panel_box["width"] <= box["x"] + box["width"] + 0.5, name
    assert not errors and not foreign, errors + foreign


def test_keyboard_and_invalid_values_on_the_landing_page(landing_tab, landing_url: str) -> None:
    page, errors, foreign = _open(landing_tab, landing_url, WIDTHS["phone"], "light")
    root = page.locator(".convnotes-explorer").first
    root.locator("button[data-preset='strided']").click()
    # Tab from the last control reaches the output grid through the input grid's one stop
    first = root.locator(".cnx-output rect.cnx-cell").first
    root.locator(".cnx-input rect.cnx-cell[tabindex='0']").focus()
    page.keyboard.press("Tab")
    assert first.evaluate("cell => cell === document.activeElement")
    assert first.evaluate("cell => cell.matches(':focus-visible')")
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "output row 0, column 1"
    hits = root.evaluate(_HIT_COUNTS)
    assert hits["input"] == 9 and "Output (0, 1)" in hits["status"]
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"
    # an input cell shows the outputs that read it: input (1, 1) by the 2x2 corner
    root.locator(".cnx-input rect.cnx-cell").nth(2 * 7 + 2).click()
    assert root.evaluate(_HIT_COUNTS)["output"] == 4

    # invalid values get the library's message and no drawing
    cases = [
        ("stride", "0", "stride must be >= 1, got 0", "stride"),
        ("kernel", "8", "kernel_size=8 with dilation=1 spans 8, larger than the padded input "
                        "size 7 (size=5, padding=1)", "kernel"),
    ]
    for field, typed, message, invalid in cases:
        root.locator("button[data-preset='strided']").click()
        root.locator(f"input[id$='-{field}']").fill(typed)
        error = root.locator(".cnx-error")
        assert error.is_visible() and message in error.inner_text()
        assert root.locator(".cnx-output").count() == 0
        assert root.locator(f"input[id$='-{invalid}']").get_attribute("aria-invalid") == "true"
    root.locator("button[data-preset='pool']").click()
    root.locator("input[id$='-padding']").fill("2")
    assert ("padding must be at most half of kernel_size=2, got padding=2"
            in root.locator(".cnx-error").inner_text())
    root.locator("button[data-preset='transposed']").click()
    root.locator("input[id$='-outputPadding']").fill("2")
    assert ("output_padding must be smaller than stride or dilation, got output_padding=2 "
            "with stride=2, dilation=1" in root.locator(".cnx-error").inner_text())
    assert not errors and not foreign, errors + foreign


def test_dark_mode_recolours_the_cells(landing_tab, landing_url: str) -> None:
    fills = {}
    for theme in ("light", "dark"):
        page, errors, foreign = _open(landing_tab, landing_url, WIDTHS["desktop"], theme)
        fills[theme] = page.evaluate("""() => {
            const cell = document.querySelector('.cnx-input rect.cnx-cell.in');
            const text = document.querySelector('.cnx-status');
            return [getComputedStyle(cell).fill, getComputedStyle(text).color];
        }""")
        assert not errors and not foreign, errors + foreign
    assert fills["light"][0] != fills["dark"][0] and fills["light"][1] != fills["dark"][1], fills
