"""The rendered book as a reader gets it: built with zero warnings, then opened in Chromium.

The book is built once per test session, for this module and ``test_explorer.py`` (the
``book_html`` fixture of ``conftest.py``: ``jupyter-book build --warningiserror --nitpick`` into a
temporary folder; set ``CONVNOTES_BOOK_HTML`` to the ``html`` folder of an existing build to
skip that). Every page is served on localhost and opened in Chromium, and the checks are the
ones a reader would make by eye: the page loads without console errors and without asking any
other host for anything (the book must work offline), the math is typeset by MathJax, every
image and animation loads, every internal link and anchor resolves, and no TeX escape is
left visible after typesetting. Then the reader's path (issue 15): at 390 px the visible menu
and contents buttons open their drawers and a link in them works, on a desktop the menu button
hides the sidebar and there is one search box, figures carry >= 1.9 image pixels per CSS
pixel, wide equations scroll inside the column, search ranks a chapter first for its own
topic with snippets free of TeX, dark mode follows the system, Chinese terms are marked
``lang="zh"``, and Binder's light environment covers every import of the chapters.

Chromium comes from Debian (``make test`` installs it where it can); where there is no browser
the browser tests are skipped with a message that says so. The build test runs regardless.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from conftest import Tab, open_tab, visit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
#: The heaviest page (its HTML plus the images it shows) must stay below this many bytes.
PAGE_BUDGET = 3_000_000
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
#: One API page per library module (``_checks`` is documented as ``book/api/checks``).
API_MODULES = sorted(p.stem.lstrip("_") for p in (ROOT / "convnotes").glob("*.py")
                     if p.stem != "__init__")
#: Viewports a reader brings: a phone (below the theme's 992 px breakpoint) and a laptop.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
#: Figures must carry at least this many image pixels per CSS pixel (1.9 x: sharp on 2x screens).
MIN_PIXEL_RATIO = 1.9


@pytest.fixture(scope="module")
def html_dir(book_html: Path) -> Path:
    """The built book's ``html`` folder (built once per session: ``book_html`` in conftest.py)."""
    return book_html


def _pages(html_dir: Path) -> list[Path]:
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts)


def test_every_chapter_and_reference_page_is_built(html_dir: Path) -> None:
    built = {p.relative_to(html_dir).as_posix() for p in _pages(html_dir)}
    expected = {f"book/{name}.html" for name in
                [*CHAPTERS, "intro", "glossary", "references", "appendix_performance"]}
    expected |= {f"book/api/{name}.html" for name in ["index", *API_MODULES]}
    assert expected <= built, f"pages missing from the build: {sorted(expected - built)}"
    assert {"index.html", "search.html", "genindex.html"} <= built


def test_pages_stay_light(html_dir: Path) -> None:
    """Each page with the images it shows (PNG figures, GIF animations) stays under budget."""
    weights = {}
    for page in _pages(html_dir):
        text = page.read_text(encoding="utf-8")
        sources = re.findall(r'<img[^>]+src="([^"]+)"', text)
        images = {urljoin(page.as_uri(), src) for src in sources}
        files = [Path(unquote(urlsplit(uri).path)) for uri in images if uri.startswith("file:")]
        weights[page.relative_to(html_dir).as_posix()] = page.stat().st_size + sum(
            f.stat().st_size for f in files if f.is_file())
    heaviest = max(weights, key=weights.get)
    print(f"{len(weights)} pages; heaviest {heaviest}: {weights[heaviest] / 1e6:.2f} MB")
    assert weights[heaviest] < PAGE_BUDGET, f"{heaviest} weighs {weights[heaviest]:,} bytes"
    # the search ranking's scripts (its word weights alone are about 240 kB) load on the
    # search page only
    carrying = sorted(page.relative_to(html_dir).as_posix() for page in _pages(html_dir)
                      if "convnotes-search" in page.read_text(encoding="utf-8"))
    assert carrying == ["search.html"], carrying


def test_book_refers_to_no_other_host_for_scripts_or_styles(html_dir: Path) -> None:
    """Offline readers get everything: no <script src> or stylesheet from another host."""
    remote = re.compile(r'<(?:script[^>]+src|link[^>]+href)="(?:https?:)?//[^"]+"')
    offenders = {p.name: remote.findall(p.read_text(encoding="utf-8")) for p in _pages(html_dir)}
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"pages load remote resources: {offenders}"


# ------------------------------------------------------------------------------------------
# In the browser
# ------------------------------------------------------------------------------------------


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def _broken_internal_links(html_dir: Path, page_url: str, base: str, hrefs: list[str]) -> list[str]:
    """Links into the book whose file or #anchor does not exist."""
    broken = []
    for href in hrefs:
        url = urljoin(page_url, href)
        if not url.startswith(base):
            continue  # another host: not checked (the reader's network, not the book)
        parts = urlsplit(url)
        target = html_dir / unquote(parts.path[len(urlsplit(base).path):])
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(href)
        elif (parts.fragment and target.suffix == ".html"
              and unquote(parts.fragment) not in _anchors(target)):
            broken.append(href)
    return broken


_PAGE_REPORT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const images = [...document.images];
  for (const img of images) { img.loading = "eager"; }
  const loaded = await Promise.all(images.map(img =>
      img.decode().then(() => img.naturalWidth > 0).catch(() => false)));
  const maths = [...document.querySelectorAll(".math")];
  const raw = maths.filter(el => !el.querySelector("mjx-container")).map(el => el.textContent);
  const text = document.querySelector("main") ? document.querySelector("main").innerText : "";
  // TeX a reader would see after typesetting: a backslash inside typeset math (MathJax shows
  // an escaped underscore inside text{} literally; its assistive MathML holds what is shown),
  // or a TeX command left in the prose outside code.
  const shownMath = [...document.querySelectorAll("mjx-assistive-mml")]
      .map(el => el.textContent).filter(t => t.includes("\\\\"));
  const main = document.querySelector("main");
  let prose = "";
  if (main) {
    const copy = main.cloneNode(true);
    copy.querySelectorAll("pre, code, .highlight, .cell_output, mjx-container, script, style")
        .forEach(el => el.remove());
    prose = copy.textContent;
  }
  const proseTeX = prose.match(/\\\\(?:[A-Za-z]{2,}|[_{}()\\[\\]])/g) || [];
  return {
    texEscapes: [...shownMath.slice(0, 3), ...proseTeX.slice(0, 3)],
    hrefs: [...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href")),
    brokenImages: images.filter((img, i) => !loaded[i]).map(img => img.getAttribute("src")),
    imageCount: images.length,
    mathCount: maths.length,
    typeset: document.querySelectorAll("mjx-container").length,
    rawMath: raw.slice(0, 3),
    dollarsInText: (text.match(/\\$\\$/g) || []).length,
    // the page's contents (right sidebar): an entry wider than it runs past its edge
    tocOverflow: (() => {
      const toc = document.querySelector(".bd-sidebar-secondary");
      return !!toc && toc.offsetWidth > 0 && toc.scrollWidth > toc.clientWidth + 1;
    })(),
  };
}"""


# The tests below share one tab per kind of screen, as a reader's browser does: a fresh tab per
# test would compile the theme's scripts and MathJax again each time (about 2 s of CPU).
@pytest.fixture(scope="module")
def desktop_tab(browser, book_server: str) -> Iterator[Tab]:
    """A tab at laptop size, light colours."""
    with open_tab(browser, book_server, DESKTOP) as tab:
        yield tab


@pytest.fixture(scope="module")
def phone_tab(browser, book_server: str) -> Iterator[Tab]:
    """A tab on a 390 px touch screen at 2x density, light colours."""
    with open_tab(browser, book_server, PHONE, touch=True) as tab:
        yield tab


#: What a chapter page offers its reader besides the text (counted in the rendered page).
_READER_TOOLS = """() => ({
    copy: document.querySelectorAll("button.copybtn").length,
    download: document.querySelectorAll("a[href$='.ipynb']").length,
    launch: [...document.querySelectorAll("a")]
        .filter(a => /binder|colab/i.test(a.href)).length,
    next: document.querySelectorAll("a.right-next").length,
    prev: document.querySelectorAll("a.left-prev").length,
    module: document.querySelectorAll(
        "a[href*='api/'][href*='.html#module-convnotes.']").length,
})"""

_FIGURES = """async () => {
  const figures = [...document.querySelectorAll("main img")]  // figures, not the theme's icons
      .filter(img => /\\/_images\\/[^/]+\\.png$/i.test(new URL(img.src).pathname));
  for (const img of figures) { img.loading = "eager"; img.scrollIntoView(); }
  await Promise.all(figures.map(img => img.decode().catch(() => null)));
  return figures.map(img => ({src: img.getAttribute("src"), natural: img.naturalWidth,
                              shown: img.getBoundingClientRect().width,
                              alt: img.getAttribute("alt") || ""}));
}"""

@pytest.fixture(scope="module")
def rendered_pages(browser, book_server: str, html_dir: Path) -> dict[str, dict]:
    """Every page of the book opened once, at desktop width: what a reader would check.

    One tab for all pages, which goes from one page to the next as a reader's does (it keeps
    the theme's scripts and MathJax compiled between pages; a fresh tab per page costs about
    twice the CPU). For each page: its console errors and requests to other hosts while it
    loads and is inspected, the ``_PAGE_REPORT`` (math, images, links), the URL it landed on;
    for the chapters and the performance appendix also its PNG figures at desktop width and,
    after the window is narrowed to a phone's, at phone width (``figures``: {width: [...]}).
    """
    with_figures = {f"book/{name}.html" for name in [*CHAPTERS, "appendix_performance"]}
    reports = {}
    with open_tab(browser, book_server, DESKTOP) as tab:
        page = tab.page
        for path in _pages(html_dir):
            relative = path.relative_to(html_dir).as_posix()
            if relative == "search.html":
                continue  # tested below, with a query
            page.set_viewport_size(DESKTOP)
            visit(tab, book_server + relative)
            redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"',
                                 path.read_text(encoding="utf-8"))
            if redirect:  # index.html sends the reader to the landing page
                page.wait_for_url(urljoin(book_server + relative, redirect.group(1)),
                                  timeout=10_000)
                page.wait_for_load_state("load")
            report = page.evaluate(_PAGE_REPORT)
            if relative.startswith("book/") and Path(relative).stem in CHAPTERS:
                report["tools"] = page.evaluate(_READER_TOOLS)
            if relative in with_figures:
                report["figures"] = {DESKTOP["width"]: page.evaluate(_FIGURES)}
                page.set_viewport_size(PHONE)
                report["figures"][PHONE["width"]] = page.evaluate(_FIGURES)
            report.update(errors=list(tab.errors), foreign=list(tab.foreign), landed=page.url)
            reports[relative] = report
    return reports


def test_every_page_renders(rendered_pages: dict[str, dict], book_server: str,
                            html_dir: Path) -> None:
    problems = []
    checked_math = 0
    for relative, report in rendered_pages.items():
        if report["errors"]:
            problems.append(f"{relative}: console errors {report['errors'][:3]}")
        if report["foreign"]:
            problems.append(f"{relative}: requests to other hosts {report['foreign'][:3]}")
        if report["rawMath"] or (report["mathCount"] and not report["typeset"]):
            problems.append(f"{relative}: math not typeset {report['rawMath']}")
        if report["texEscapes"]:
            problems.append(f"{relative}: TeX shown to the reader {report['texEscapes']}")
        if report["dollarsInText"]:
            problems.append(f"{relative}: raw $$ in the text ({report['dollarsInText']}x)")
        if report["tocOverflow"]:
            problems.append(f"{relative}: an entry of the page's contents overflows its sidebar")
        if report["brokenImages"]:
            problems.append(f"{relative}: images that do not load {report['brokenImages'][:3]}")
        broken = _broken_internal_links(html_dir, report["landed"], book_server,
                                        report["hrefs"])
        if broken:
            problems.append(f"{relative}: broken links {broken[:5]}")
        checked_math += report["typeset"]
    assert len(rendered_pages) > 30, f"only {len(rendered_pages)} pages were opened"
    assert not problems, "\n".join(problems)
    assert checked_math > 100, f"only {checked_math} formulas were typeset in the whole book"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_pages_have_figures_math_and_reader_tools(rendered_pages: dict[str, dict],
                                                          chapter: str) -> None:
    report = rendered_pages[f"book/{chapter}.html"]
    tools = report["tools"]
    assert report["imageCount"] >= 3 and not report["brokenImages"]
    assert report["typeset"] >= 10
    assert tools["copy"] > 10, "code cells lack copy buttons"
    assert tools["download"] >= 1, "no download link for the notebook"
    assert tools["launch"] >= 2, "no Binder/Colab launch buttons"
    assert tools["next"] == 1 and tools["prev"] == 1, "no previous/next navigation"
    assert tools["module"] >= 1, "no link to the chapter's convnotes module"


# ------------------------------------------------------------------------------------------
# The reader's path (issue 15): phones and desktops, sharp figures, search by topic
# ------------------------------------------------------------------------------------------


_VISIBLE_BUTTON = """selector => {
  const shown = [...document.querySelectorAll(selector)].filter(el => {
    const box = el.getBoundingClientRect();
    return el.checkVisibility({visibilityProperty: true}) && box.width > 0 && box.height > 0
        && box.top >= 0 && box.top < window.innerHeight;
  });
  shown.forEach((el, i) => el.dataset.visibleToggle = String(i));
  return shown.length;
}"""

_IN_VIEW = """el => {
  const box = el.getBoundingClientRect();
  return el.checkVisibility({visibilityProperty: true, opacityProperty: true})
      && box.width > 0 && box.right > 0 && box.left < window.innerWidth
      && box.bottom > 0 && box.top < window.innerHeight;
}"""


@pytest.mark.parametrize("chapter", ["01_convolution", "06_separable"])
def test_phone_menu_button_opens_the_chapter_list(phone_tab: Tab, book_server: str,
                                                  chapter: str) -> None:
    """At 390 px, tapping the visible menu button shows the chapter list; a chapter link in it
    takes the reader to that chapter."""
    page = visit(phone_tab, book_server + f"book/{chapter}.html")
    assert page.evaluate(_VISIBLE_BUTTON, ".primary-toggle") == 1, (
        "expected exactly one visible menu button at 390 px")
    target = "03_transposed"
    link = page.locator(f"#pst-primary-sidebar-modal nav a[href*='{target}']").first
    page.locator(".primary-toggle[data-visible-toggle='0']").tap()
    page.wait_for_timeout(400)  # the drawer's opening transition
    assert page.evaluate("() => document.querySelector('#pst-primary-sidebar-modal').open"), (
        "tapping the menu button did not open the drawer")
    assert link.evaluate(_IN_VIEW), "the chapter list is not visible in the drawer"
    link.tap()
    page.wait_for_url(f"**/book/{target}.html*", timeout=10_000)
    assert not phone_tab.errors, phone_tab.errors


def test_phone_contents_button_opens_the_page_contents(phone_tab: Tab, book_server: str) -> None:
    page = visit(phone_tab, book_server + "book/03_transposed.html")
    assert page.evaluate(_VISIBLE_BUTTON, ".secondary-toggle") == 1, (
        "expected exactly one visible contents button at 390 px")
    page.locator(".secondary-toggle[data-visible-toggle='0']").tap()
    page.wait_for_timeout(400)
    assert page.evaluate(
        "() => document.querySelector('#pst-secondary-sidebar-modal').open"), (
        "tapping the contents button did not open the page contents")
    link = page.locator("#pst-secondary-sidebar-modal a[href='#check']").first
    assert link.evaluate(_IN_VIEW), "the page contents are not visible"
    link.tap()
    page.wait_for_timeout(600)
    assert page.url.endswith("#check")
    assert not page.evaluate(
        "() => document.querySelector('#pst-secondary-sidebar-modal').open"), (
        "the contents drawer stays open over the section the reader chose")
    heading = page.locator("#check h2").first
    assert heading.evaluate(_IN_VIEW), "the chosen section is not on screen"
    assert not phone_tab.errors, phone_tab.errors


def test_desktop_menu_button_hides_and_shows_the_sidebar(desktop_tab: Tab,
                                                         book_server: str) -> None:
    page = visit(desktop_tab, book_server + "book/01_convolution.html")
    sidebar = page.locator("#pst-primary-sidebar")
    assert sidebar.evaluate(_IN_VIEW)
    assert page.evaluate(_VISIBLE_BUTTON, ".primary-toggle") == 1
    button = page.locator(".primary-toggle[data-visible-toggle='0']")
    button.click()
    page.wait_for_timeout(600)
    assert not sidebar.evaluate(_IN_VIEW), "the sidebar did not hide"
    assert not page.evaluate("() => document.querySelector('#pst-primary-sidebar-modal')"
                             ".open"), "a modal opened instead of the sidebar hiding"
    button.click()
    page.wait_for_timeout(600)
    assert sidebar.evaluate(_IN_VIEW), "the sidebar did not come back"
    searches = page.evaluate("""() => [...document.querySelectorAll(
        ".search-button-field, form.bd-search")].filter(el => el.checkVisibility()
        && el.getBoundingClientRect().width > 0).length""")
    assert searches == 1, f"{searches} search boxes on the desktop page"
    assert not desktop_tab.errors, desktop_tab.errors


def test_figures_are_sharp_on_high_density_screens(rendered_pages: dict[str, dict]) -> None:
    """Every PNG figure of every chapter and of the performance appendix has >= 1.9 image
    pixels per CSS pixel, on a phone and on a desktop (>= 144 dpi effective resolution at the
    figure's size in the page)."""
    worst, blurry = None, []
    for chapter in [*CHAPTERS, "appendix_performance"]:
        for width, figures in rendered_pages[f"book/{chapter}.html"]["figures"].items():
            assert figures, f"{chapter} shows no PNG figure"
            for figure in figures:
                ratio = figure["natural"] / max(figure["shown"], 1)
                if worst is None or ratio < worst[0]:
                    worst = (ratio, chapter, figure["src"], width)
                if ratio < MIN_PIXEL_RATIO:
                    blurry.append(f"{chapter} at {width} px: {figure['src']} "
                                  f"{figure['natural']} px shown at {figure['shown']:.0f}")
    print(f"lowest pixel ratio {worst[0]:.2f} ({worst[1]}, {worst[2]}, {worst[3]} px)")
    assert not blurry, "figures below 1.9 pixels per CSS pixel:\n" + "\n".join(blurry[:10])


def test_wide_equations_scroll_inside_the_column_on_a_phone(phone_tab: Tab,
                                                            book_server: str) -> None:
    page = visit(phone_tab, book_server + "book/01_convolution.html")
    page.evaluate("() => MathJax.startup.promise")
    page.wait_for_timeout(300)
    report = page.evaluate("""() => ({
        pageWidth: document.scrollingElement.scrollWidth,
        equations: [...document.querySelectorAll("mjx-container[display='true']")]
            .map(el => ({
            overflow: getComputedStyle(el).overflowX,
            wide: el.scrollWidth > el.clientWidth + 1,
            marked: el.classList.contains("convnotes-scrolls"),
        })),
    })""")
    assert report["pageWidth"] <= PHONE["width"], "the page itself scrolls sideways"
    assert report["equations"], "no display equations found"
    assert all(eq["overflow"] == "auto" for eq in report["equations"])
    wide = [eq for eq in report["equations"] if eq["wide"]]
    assert wide, "no equation is wider than a phone: this test would check nothing"
    assert all(eq["marked"] for eq in wide), "wide equations carry no scroll shadow"


@pytest.mark.parametrize(("term", "chapter"), [("depthwise", "06_separable"),
                                               ("checkerboard", "03_transposed"),
                                               ("Richardson", "02_deconvolution"),
                                               ("dilated", "04_dilated")])
def test_search_ranks_the_chapter_of_a_topic_first(desktop_tab: Tab, book_server: str, term: str,
                                                   chapter: str) -> None:
    page = visit(desktop_tab, book_server + f"search.html?q={term}")
    page.wait_for_selector("#search-results .search-summary", timeout=30_000)
    page.wait_for_function(
        "() => /found/.test(document.querySelector('#search-results .search-summary')"
        ".textContent)", timeout=30_000)
    page.wait_for_timeout(1500)  # snippets are fetched page by page
    results = page.evaluate("""() => [...document.querySelectorAll(
        "#search-results ul.search > li")].map(li => ({
            href: li.querySelector("a").getAttribute("href"),
            snippet: (li.querySelector("p.context") || {}).textContent || ""}))""")
    assert results, f"no results for {term!r}"
    assert chapter in results[0]["href"], (
        f"{term!r}: first result {results[0]['href']}, expected {chapter}; order: "
        f"{[r['href'] for r in results[:6]]}")
    tex = [r["snippet"] for r in results if re.search(r"\\[A-Za-z]{2,}|\\[()\[\]]", r["snippet"])]
    assert not tex, f"snippets show raw TeX: {tex[:2]}"
    assert not desktop_tab.errors, desktop_tab.errors


def test_dark_mode_follows_the_system(browser, book_server: str) -> None:
    with open_tab(browser, book_server, DESKTOP, scheme="dark") as tab:
        page = visit(tab, book_server + "book/02_deconvolution.html")
        theme = page.evaluate("() => document.documentElement.dataset.theme")
        card = page.evaluate("""() => {
            const img = document.querySelector("main .cell_output img");
            return img ? getComputedStyle(img).backgroundColor : null; }""")
    assert theme == "dark", f"a reader whose system is dark gets the {theme} theme"
    assert card == "rgb(255, 255, 255)", f"figures are not on white in dark mode ({card})"


def test_chinese_terms_are_marked_as_chinese(html_dir: Path) -> None:
    glossary = (html_dir / "book" / "glossary.html").read_text(encoding="utf-8")
    span = r'<span[^>]*\blang="zh"[^>]*>([^<]+)</span>'
    marked = re.findall(span, glossary)
    assert len(marked) >= 10, "the glossary's Chinese terms are not marked lang=zh"
    unmarked = re.sub(span, "", glossary)
    body = unmarked.split('<main', 1)[1]
    stray = re.findall(r"[\u4e00-\u9fff]+", re.sub(r"<[^>]+>", " ", body))
    assert not stray, f"Chinese text without lang=zh: {stray[:5]}"


# ------------------------------------------------------------------------------------------
# Binder: its own light environment (binder/), enough to run every chapter
# ------------------------------------------------------------------------------------------

#: Import name -> the distribution that provides it, where the two differ.
DISTRIBUTION_OF = {"skimage": "scikit-image", "sklearn": "scikit-learn", "PIL": "pillow",
                   "myst_nb": "myst-nb", "IPython": "ipykernel", "yaml": "pyyaml",
                   "matplotlib_inline": "ipykernel"}  # ipykernel requires matplotlib-inline


def _requirement_name(line: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0]).lower()


def _binder_requirements() -> dict[str, str]:
    """Binder's requirements, {name: line without spaces}; comments and pip options left out."""
    lines = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return {_requirement_name(line): line.replace(" ", "") for line in lines
            if line.strip() and not line.lstrip().startswith(("#", "-"))}


def _imported_top_level_modules(source: str) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_binder_installs_what_the_chapters_and_the_library_import() -> None:
    """binder/requirements.txt holds the library's runtime dependencies and every third-party
    module a chapter or the library imports; binder/postBuild installs the package itself."""
    import json

    binder = _binder_requirements()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(line): line.replace(" ", "")
                for line in [*project["dependencies"],
                             *project.get("optional-dependencies", {}).get("notebook", [])]}
    assert declared.keys() <= binder.keys(), (f"runtime or notebook dependencies missing from "
                                              f"Binder: {declared.keys() - binder.keys()}")
    # and with the same lower bounds: Binder must not install a version the project never tested
    differing = {name: (binder[name], line) for name, line in declared.items()
                 if binder[name] != line}
    assert not differing, f"bounds differ (Binder, pyproject): {differing}"
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "convnotes").glob("*.py")]
    for chapter in CHAPTERS:
        cells = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
        sources += ["\n".join(line for line in "".join(cell["source"]).splitlines()
                              if not line.lstrip().startswith(("%", "!")))
                    for cell in cells["cells"] if cell["cell_type"] == "code"]
    modules = set().union(*map(_imported_top_level_modules, sources))
    third_party = {m for m in modules
                   if m not in sys.stdlib_module_names and m not in ("convnotes", "__future__")}
    needed = {_requirement_name(DISTRIBUTION_OF.get(m, m)) for m in third_party}
    needed -= {"google"}  # google.colab: imported only inside Colab
    assert needed <= binder.keys(), (f"imported but not installed on Binder: "
                                     f"{sorted(needed - binder.keys())}")
    heavy = {"jupyter-book", "playwright", "ruff", "pytest"} & binder.keys()
    assert not heavy, f"Binder stays light: {heavy}"
    post_build = (ROOT / "binder" / "postBuild").read_text(encoding="utf-8")
    assert re.search(r"pip install .*--no-deps \.", post_build), post_build
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK), "postBuild must be executable"


# ------------------------------------------------------------------------------------------
# The book's extension: the parts that need no build
# ------------------------------------------------------------------------------------------


def _extension():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import convnotes_book
    finally:
        sys.path.pop(0)
    return convnotes_book


def test_benchmark_charts_read_every_row_with_a_prediction(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    table = tmp_path / "results.md"
    table.write_text(
        "**grouped**\n\n| case | twin | on | ms | twin ms | speed-up | predicted |\n"
        "|---|---|---|---:|---:|---:|---:|\n"
        "| groups=2, C=128 | F.conv2d(groups=1) | cpu | 3.10 | 6.00 | 1.94 | 2.00 |\n"
        "| no prediction | F.conv2d | cpu | 1.00 | 2.00 | 2.00 |  |\n\n"
        "**pooling**\n\n| case | twin | on | ms | twin ms | speed-up | predicted |\n"
        "|---|---|---|---:|---:|---:|---:|\n"
        "| max vs strided conv | F.conv2d | cuda | 0.20 | 0.40 | 2.00 | 72.00 |\n",
        encoding="utf-8")
    rows = _extension()._benchmark_rows(table)
    assert rows == [("grouped", "cpu", 1.94, 2.0), ("pooling", "cuda", 2.0, 72.0)]
    # the tables the appendix shows have rows with predictions on every device they chart
    for tables, devices in _extension().BENCHMARK_CHARTS.values():
        found = [row for name in tables for row in _extension()._benchmark_rows(
            ROOT / "book" / name)]
        assert {device for _, device, *_ in found} == set(devices), tables


def test_bench_role_quotes_cells_of_the_committed_tables(tmp_path: Path) -> None:
    """``{bench}`` reads a cell (median without its IQR, or the spread) or names what is wrong;
    every figure the performance appendix quotes with it is a cell of a committed table."""
    pytest.importorskip("sphinx")
    extension = _extension()
    (tmp_path / "benchmark_results.md").write_text(
        "**transposed**\n\n| case | twin | on | ms (IQR) | twin ms (IQR) | speed-up | predicted |\n"
        "|---|---|---|---:|---:|---:|---:|\n"
        "| k4 s2 | zero insertion | cpu | 17.38 (2.80) | 63.50 (6.25) | 3.70 | 3.76 |\n\n"
        "*transposed: spread of the speed-up over the 7 alternating rounds*\n\n"
        "| case | on | speed-up | middle half of the rounds |\n|---|---|---:|---:|\n"
        "| k4 s2 | cpu | 3.70 | 3.51 to 3.74 |\n", encoding="utf-8")
    value = functools.partial(extension.bench_value, tmp_path)
    assert value("main | transposed | k4 s2 | ms") == "17.38"
    assert value("main | transposed | k4 s2 | cpu | speed-up") == "3.70"
    assert value("main|transposed|k4 s2|spread") == "3.51 to 3.74"
    for wrong, message in (("main | transposed | k4 s2 | cuda | ms", "no 'ms'"),
                           ("main | transposed | k3 s2 | ms", "k3 s2"),
                           ("other | transposed | k4 s2 | ms", "table one of"),
                           ("main | k4 s2", "takes")):
        with pytest.raises(ValueError, match=message):
            value(wrong)
    appendix = (ROOT / "book" / "appendix_performance.md").read_text(encoding="utf-8")
    quoted = re.findall(r"\{bench\}`([^`]+)`", appendix)
    assert len(quoted) > 20, "the appendix quotes few measured figures through {bench}"
    for text in quoted:
        extension.bench_value(ROOT / "book", text)
    # no measured time or ratio typed by hand next to them: the tables print them with two
    # decimals, and such a number in the prose (outside math, code and the role) can drift
    prose = re.sub(r"\{bench\}`[^`]+`|`[^`]*`|\$[^$]+\$|```.*?```", "", appendix, flags=re.S)
    typed = re.findall(r"(?<![\w.])\d+\.\d{2,}(?![\w.])", prose)
    assert not typed, f"figures typed by hand in the appendix: {typed[:10]}"
