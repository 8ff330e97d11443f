"""The book's own Sphinx extension (registered in ``_config.yml`` under ``local_extensions``).

1. Draws the landing page's sliding-window animations at build time: the GIFs go to
   ``book/_generated/`` (ignored by git) before Sphinx reads any page, so ``book/intro.md``
   shows them as ordinary images. They are made by
   :func:`convnotes.plotting.write_arithmetic_animations`, the code the chapters use.
2. Keeps each page free of console errors, which the browser test (``tests/test_book.py``)
   checks. sphinx-thebe and sphinx-togglebutton register inline scripts once the HTML builder
   has started, and with Sphinx 7.4 under Jupyter Book 1.0 each such script reaches the page
   twice (once with filename ``None``, once with ``""``); sphinx-thebe's
   ``const THEBE_JS_URL`` declared twice is a ``SyntaxError`` in the console. Identical
   scripts are dropped from each page.
3. Writes the site's ``index.html``, a redirect to the landing page that, unlike the bare one
   sphinx-external-toc would write, names the book's icon (without it the browser asks for
   ``/favicon.ico`` and logs a 404).
4. Adds the reader's script and stylesheet (``book/_static/convnotes-reader.js`` and
   ``.css``): sidebar buttons that work on phones, tablets and desktops (the installed theme
   pair binds them to hidden copies), one search box, scrollable wide equations, figures on
   white in dark mode.
5. Marks Chinese text (the glossary's terms, a chapter's quoted names) as ``lang="zh"`` so
   that screen readers and fonts treat it as Chinese.
6. Adds the convolution explorer (``book/_static/explorer.js`` and ``explorer.css``): a page
   embeds it with a raw-HTML ``<div class="convnotes-explorer" data-preset="...">``.
7. Ranks search results by topic: ``book/_static/convnotes-search.js`` (loaded on the search
   page only) reads ``_static/convnotes-search-weights.js``, written here after the build: the
   kind of each page (chapter, prose, API) and, per stemmed word, how often each prose page
   uses it relative to the page that uses it most.
8. Draws the performance appendix's charts before Sphinx reads any page: measured against
   predicted speed-up for every benchmark row that has a prediction, read from the tables the
   benchmarks wrote (``book/benchmark_results*.md``), into ``book/_generated/``.
9. The ``{bench}`` role puts a measured figure from those tables into the prose, so the
   appendix quotes exactly what the committed tables hold (the markdown counterpart of a
   notebook's ``glue``): ``{bench}`main | transposed | <case> | speed-up``` is the speed-up
   column of that row of ``benchmark_results.md`` (rows on the CPU; name the device as a
   fourth field, ``... | <case> | cuda | speed-up``, for the GPU table). Columns: ``ms``,
   ``twin ms`` (the medians, without their IQR), ``speed-up``, ``predicted`` and ``spread``
   (the middle half of the per-round ratios). A key that matches no row fails the build.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

from convnotes.plotting import write_arithmetic_animations

STATIC = Path(__file__).resolve().parent.parent / "_static"
#: Runs of CJK ideographs (and the CJK punctuation between them).
_CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")


def _add_reader_assets(app: Sphinx, config: Config) -> None:
    if str(STATIC) not in map(str, config.html_static_path):
        config.html_static_path.append(str(STATIC))
    app.add_css_file("convnotes-reader.css")
    app.add_js_file("convnotes-reader.js", loading_method="defer")
    for script in SEARCH_SCRIPTS:  # in this order: the weights, then the scorer that reads them
        app.add_js_file(script, loading_method="defer")


def _add_explorer_assets(app: Sphinx, config: Config) -> None:
    """The convolution explorer: ``explorer.js`` fills each ``<div class="convnotes-explorer">``."""
    if str(STATIC) not in map(str, config.html_static_path):
        config.html_static_path.append(str(STATIC))
    app.add_css_file("explorer.css")
    app.add_js_file("explorer.js", loading_method="defer")


def _mark_chinese(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Wrap each run of Chinese characters in a span with ``lang="zh"``.

    docutils' HTML writer turns the class ``language-zh`` into the ``lang`` attribute.
    """
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or isinstance(parent, (nodes.literal, nodes.literal_block,
                                                  nodes.raw, nodes.math, nodes.math_block)):
            continue
        pieces, position, source = [], 0, str(text)
        for match in _CHINESE.finditer(source):
            if match.start() > position:
                pieces.append(nodes.Text(source[position:match.start()]))
            pieces.append(nodes.inline(match.group(), match.group(), classes=["language-zh"]))
            position = match.end()
        if not pieces or (len(pieces) == 1 and isinstance(parent, nodes.inline)
                          and "language-zh" in parent["classes"]):
            continue
        if position < len(source):
            pieces.append(nodes.Text(source[position:]))
        parent.replace(text, pieces)


#: Scripts that only the search page loads.
SEARCH_SCRIPTS = ("convnotes-search-weights.js", "convnotes-search.js")
#: The most a prose page's word counts add to a search result's score (Sphinx's own scores:
#: 15 for a title word, 5 for a body word, 11 to 26 for an API object).
MENTION_BONUS = 20


def _page_kind(docname: str) -> str:
    if re.fullmatch(r"book/\d\d_\w+", docname):
        return "chapter"
    if docname.startswith("book/api/"):
        return "api"
    return "prose"


def _search_scripts_only_on_search_page(app: Sphinx, pagename: str, templatename: str,
                                        context: dict[str, Any], doctree: Any) -> None:
    if pagename != "search" and "script_files" in context:
        # the builder has prefixed the names with ``_static/`` by now: compare the file names
        context["script_files"] = [script for script in context["script_files"]
                                   if Path(str(script.filename or "")).name not in SEARCH_SCRIPTS]


def _search_weights(app: Sphinx) -> dict[str, dict]:
    """Per page its kind; per stemmed word each prose page's share of the bonus."""
    lang = app.builder.indexer.lang
    docnames = sorted(app.env.found_docs)
    kinds = {docname: _page_kind(docname) for docname in docnames}
    counts: dict[str, dict[str, int]] = {}
    stems: dict[str, str] = {}  # the stemmer is slow Python: each distinct word once
    for docname in docnames:
        if kinds[docname] == "api":
            continue
        doctree = app.env.get_doctree(docname)
        for node in doctree.findall(nodes.Text):
            if isinstance(node.parent, (nodes.comment, nodes.raw)):
                continue
            for word in lang.split(str(node)):
                stem = stems.get(word)
                if stem is None:
                    stem = stems[word] = lang.stem(word).lower()
                if lang.word_filter(stem):
                    per_page = counts.setdefault(stem, {})
                    per_page[docname] = per_page.get(docname, 0) + 1
    mentions = {}
    for stem, per_page in counts.items():
        most = max(per_page.values())
        shares = {doc: round(MENTION_BONUS * n / most) for doc, n in per_page.items()}
        shares = {doc: share for doc, share in shares.items() if share >= 1}
        if len(shares) > 1:  # a word on one page only: Sphinx finds that page anyway
            mentions[stem] = shares
    return {"kinds": kinds, "mentions": mentions}


def _write_search_weights(app: Sphinx, exception: Exception | None) -> None:
    if (exception is not None or app.builder.format != "html"
            or getattr(app.builder, "indexer", None) is None):
        return
    data = json.dumps(_search_weights(app), separators=(",", ":"), sort_keys=True)
    (Path(app.outdir) / "_static" / SEARCH_SCRIPTS[0]).write_text(
        f"window.convnotesSearchWeights = {data};\n", encoding="utf-8")


#: The performance appendix's charts: file in book/_generated -> (benchmark tables, devices).
BENCHMARK_CHARTS = {
    "benchmark_ratios_cpu.png": (("benchmark_results.md", "benchmark_results_torchvision.md"),
                                 ("cpu",)),
    "benchmark_ratios_gpu.png": (("benchmark_results_gpu.md",), ("cpu", "cuda")),
}
DEVICE_TITLES = {"cpu": "on the CPU", "cuda": "on the GPU (CUDA)"}


#: The tables the ``{bench}`` role reads, by the name its first field gives.
BENCHMARK_TABLES = {"main": "benchmark_results.md",
                    "torchvision": "benchmark_results_torchvision.md",
                    "gpu": "benchmark_results_gpu.md"}


def _benchmark_cells(table: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """``{(area, case, device): {column: text}}`` for every row of a benchmark table.

    Reads both tables ``python -m benchmarks`` writes per area: the timings (``ms (IQR)``
    cells give ``ms`` the median alone) and the spread of the speed-ups (``spread``). A page
    quotes dozens of cells: each version of a file is parsed once.
    """
    return _parse_benchmark_table(table, table.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _parse_benchmark_table(table: Path, version: int
                           ) -> dict[tuple[str, str, str], dict[str, str]]:
    """:func:`_benchmark_cells` of ``table`` as it was at modification time ``version``."""
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    area, header = "", []
    for line in table.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"\*\*(\w+)\*\*", line.strip())
        if heading:
            area = heading.group(1)
            continue
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        row = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if row[0] == "case":
            header = [re.sub(r" \(IQR\)$", "", name) for name in row]
            header = ["spread" if name.startswith("middle half") else name for name in header]
            continue
        values = dict(zip(header, row, strict=True))
        entry = cells.setdefault((area, values["case"], values["on"]), {})
        entry.update({name: re.sub(r" \(.*\)$", "", text) for name, text in values.items()
                      if name not in ("case", "on")})
    return cells


def _benchmark_rows(table: Path) -> list[tuple[str, str, float, float]]:
    """(area, device, measured speed-up, predicted speed-up) of every row with a prediction."""
    number = re.compile(r"[\d.]+")
    return [(area, device, float(cells["speed-up"]), float(cells["predicted"]))
            for (area, _, device), cells in _benchmark_cells(table).items()
            if number.fullmatch(cells.get("speed-up", ""))
            and number.fullmatch(cells.get("predicted", ""))]


def bench_value(book: Path, text: str) -> str:
    """The cell ``table | area | case [| device] | column`` names, from the tables in ``book``.

    Raises ``ValueError`` saying what is wrong when the text is malformed or matches no cell.
    """
    fields = [field.strip() for field in text.split("|")]
    if len(fields) == 4:
        fields.insert(3, "cpu")
    if len(fields) != 5 or fields[0] not in BENCHMARK_TABLES:
        raise ValueError(f"{{bench}} takes 'table | area | case [| device] | column' with table "
                         f"one of {sorted(BENCHMARK_TABLES)}, got {text!r}")
    table, area, case, device, column = fields
    path = book / BENCHMARK_TABLES[table]
    value = _benchmark_cells(path).get((area, case, device), {}).get(column, "")
    if not value:
        raise ValueError(f"{{bench}}: no {column!r} for {area} / {case} / {device} "
                         f"in {path.name}")
    return value


def _bench_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any,
                options: dict | None = None, content: list | None = None):
    """``{bench}`table | area | case [| device] | column``` -> that cell's text."""
    env = inliner.document.settings.env
    book = Path(env.srcdir) / "book"
    for table in BENCHMARK_TABLES.values():
        env.note_dependency(str(book / table))  # a new table rebuilds the pages that quote it
    try:
        value = bench_value(book, text)
    except ValueError as problem:
        message = inliner.reporter.error(str(problem), line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    return [nodes.Text(value)], []


def _draw_benchmark_chart(rows: list[tuple[str, str, float, float]], devices: tuple[str, ...],
                          path: Path) -> None:
    """Log-log scatter of measured against predicted speed-up, one panel per device."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    areas = sorted({area for area, *_ in rows})
    colours = dict(zip(areas, plt.get_cmap("tab10").colors, strict=False))
    markers = dict(zip(areas, "osD^vP*Xh<>", strict=False))
    values = [v for *_, measured, predicted in rows for v in (measured, predicted)]
    low, high = min(values) / 1.6, max(values) * 1.6
    # 7.5 or 9 inches wide at 200 dpi: at least 1500 pixels for the page's 757-pixel column
    # (two pixels per CSS pixel), the legend beside one panel or below two
    one = len(devices) == 1
    fig, axes = plt.subplots(1, len(devices), figsize=(7.5, 4.0) if one else (9.0, 5.3),
                             squeeze=False, layout="constrained")
    for ax, device in zip(axes[0], devices, strict=True):
        ax.fill_between([low, high], [low / 1.2, high / 1.2], [low * 1.2, high * 1.2],
                        color="0.85", lw=0, label="within 20% of the prediction")
        ax.plot([low, high], [low, high], color="0.35", lw=1, ls="--", label="as predicted")
        for area in areas:
            points = [(p, m) for a, d, m, p in rows if a == area and d == device]
            if points:
                ax.scatter(*zip(*points, strict=True), s=42, color=colours[area],
                           marker=markers[area], edgecolor="white", lw=0.6, label=area,
                           zorder=3)
        ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high),
               xlabel="predicted speed-up (from the operation count)",
               ylabel="measured speed-up", title=DEVICE_TITLES.get(device, device))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_aspect("equal")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes[0, 1:]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if one:
        fig.legend(handles, labels, loc="outside right center", frameon=False)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False)
    fig.savefig(path, dpi=200, facecolor="white")
    plt.close(fig)


def _write_benchmark_charts(app: Sphinx) -> None:
    book = Path(app.srcdir) / "book"
    (book / "_generated").mkdir(parents=True, exist_ok=True)
    for name, (tables, devices) in BENCHMARK_CHARTS.items():
        rows = [row for table in tables if (book / table).is_file()
                for row in _benchmark_rows(book / table)]
        if rows:
            _draw_benchmark_chart(rows, devices, book / "_generated" / name)


def _write_animations(app: Sphinx) -> None:
    write_arithmetic_animations(Path(app.srcdir) / "book" / "_generated")


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str,
                            context: dict[str, Any], doctree: Any) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # inline scripts come with filename None or "" depending on who registered them
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _write_index_redirect(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = f"{app.config.root_doc}.html"
    icon = f"_static/{Path(app.config.html_favicon).name}" if app.config.html_favicon else ""
    title = html.escape(app.config.html_title or app.config.project)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        + (f'<link rel="icon" href="{icon}">\n' if icon else "")
        + f'<meta http-equiv="Refresh" content="0; url={target}" />\n</head>\n'
        f'<body><p><a href="{target}">{title}</a></p></body>\n</html>\n'
    )
    (Path(app.outdir) / "index.html").write_text(page, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_role("bench", _bench_role)
    app.connect("config-inited", _add_reader_assets)
    app.connect("config-inited", _add_explorer_assets)
    app.connect("doctree-resolved", _mark_chinese)
    app.connect("builder-inited", _write_animations)
    app.connect("builder-inited", _write_benchmark_charts)
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.connect("html-page-context", _search_scripts_only_on_search_page)
    app.connect("build-finished", _write_search_weights)
    app.connect("build-finished", _write_index_redirect, priority=400)  # before etoc's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
