"""The rendered book as a reader gets it: built with zero warnings, then opened in Chromium.

The book is built once for this module (``jupyter-book build --warningiserror --nitpick`` into a
temporary folder; set ``CONVNOTES_BOOK_HTML`` to the ``html`` folder of an existing build to
skip that). Every page is served on localhost and opened in Chromium, and the checks are the
ones a reader would make by eye: the page loads without console errors and without asking any
other host for anything (the book must work offline), the math is typeset by MathJax, every
image and animation loads, every internal link and anchor resolves, and the search page finds
a chapter by a term.

Chromium comes from Debian (``make test`` installs it where it can); where there is no browser
the browser tests are skipped with a message that says so. The build test runs regardless.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: The heaviest page (its HTML plus the images it shows) must stay below this many bytes.
PAGE_BUDGET = 3_000_000
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


def _chromium() -> str | None:
    """Path of a Chromium executable: $CHROMIUM, Debian's /usr/bin/chromium, or one on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", "chromium",
                      "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built book's ``html`` folder: built here with warnings as errors, or given."""
    given = os.environ.get("CONVNOTES_BOOK_HTML")
    if given:
        return Path(given)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    if not jupyter_book.exists():
        pytest.skip("jupyter-book is not installed (the book extra: pip install -e '.[book]')")
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "--all",
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, "the book does not build cleanly:\n" + "\n".join(
        line for line in (result.stdout + result.stderr).splitlines()
        if "WARNING" in line or "ERROR" in line or "Error" in line
    )[-6000:]
    return out / "_build" / "html"


def _pages(html_dir: Path) -> list[Path]:
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts)


def test_every_chapter_and_reference_page_is_built(html_dir: Path) -> None:
    built = {p.relative_to(html_dir).as_posix() for p in _pages(html_dir)}
    expected = {f"book/{name}.html" for name in
                [*CHAPTERS, "intro", "glossary", "api", "references", "appendix_performance"]}
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


def test_book_refers_to_no_other_host_for_scripts_or_styles(html_dir: Path) -> None:
    """Offline readers get everything: no <script src> or stylesheet from another host."""
    remote = re.compile(r'<(?:script[^>]+src|link[^>]+href)="(?:https?:)?//[^"]+"')
    offenders = {p.name: remote.findall(p.read_text(encoding="utf-8")) for p in _pages(html_dir)}
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"pages load remote resources: {offenders}"


# ------------------------------------------------------------------------------------------
# In the browser
# ------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(html_dir: Path) -> Iterator[str]:
    """Serve the built book on localhost; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (never a browser Playwright downloads)."""
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's chromium, or set CHROMIUM=/path): "
                    "the browser checks of the rendered book were not run")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


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
  return {
    hrefs: [...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href")),
    brokenImages: images.filter((img, i) => !loaded[i]).map(img => img.getAttribute("src")),
    imageCount: images.length,
    mathCount: maths.length,
    typeset: document.querySelectorAll("mjx-container").length,
    rawMath: raw.slice(0, 3),
    dollarsInText: (text.match(/\\$\\$/g) || []).length,
  };
}"""


def _open(browser, url: str):
    """Open ``url`` in a fresh page; return the page and the lists its listeners fill."""
    page = browser.new_page()
    errors, foreign = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 else None)
    host = urlsplit(url).netloc

    def on_request(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.netloc != host:
            foreign.append(request.url)

    page.on("request", on_request)
    page.goto(url, wait_until="load")
    return page, errors, foreign


def test_every_page_renders(browser, server: str, html_dir: Path) -> None:
    problems = []
    checked_math = 0
    for path in _pages(html_dir):
        relative = path.relative_to(html_dir).as_posix()
        if relative == "search.html":
            continue  # tested below, with a query
        redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"',
                             path.read_text(encoding="utf-8"))
        page, errors, foreign = _open(browser, server + relative)
        if redirect:  # index.html sends the reader to the landing page
            page.wait_for_url(urljoin(server + relative, redirect.group(1)), timeout=10_000)
            page.wait_for_load_state("load")
        report = page.evaluate(_PAGE_REPORT)
        landed = page.url
        page.close()
        if errors:
            problems.append(f"{relative}: console errors {errors[:3]}")
        if foreign:
            problems.append(f"{relative}: requests to other hosts {foreign[:3]}")
        if report["rawMath"] or (report["mathCount"] and not report["typeset"]):
            problems.append(f"{relative}: math not typeset {report['rawMath']}")
        if report["dollarsInText"]:
            problems.append(f"{relative}: raw $$ in the text ({report['dollarsInText']}x)")
        if report["brokenImages"]:
            problems.append(f"{relative}: images that do not load {report['brokenImages'][:3]}")
        broken = _broken_internal_links(html_dir, landed, server, report["hrefs"])
        if broken:
            problems.append(f"{relative}: broken links {broken[:5]}")
        checked_math += report["typeset"]
    assert not problems, "\n".join(problems)
    assert checked_math > 100, f"only {checked_math} formulas were typeset in the whole book"


@pytest.mark.parametrize("chapter", ["01_convolution", "03_transposed"])
def test_chapter_pages_have_figures_math_and_reader_tools(browser, server: str,
                                                          chapter: str) -> None:
    page, _, _ = _open(browser, server + f"book/{chapter}.html")
    report = page.evaluate(_PAGE_REPORT)
    tools = page.evaluate("""() => ({
        copy: document.querySelectorAll("button.copybtn").length,
        download: document.querySelectorAll("a[href$='.ipynb']").length,
        launch: [...document.querySelectorAll("a")]
            .filter(a => /binder|colab/i.test(a.href)).length,
        next: document.querySelectorAll("a.right-next").length,
        prev: document.querySelectorAll("a.left-prev").length,
        module: document.querySelectorAll("a[href*='api.html#module-convnotes']").length,
    })""")
    page.close()
    assert report["imageCount"] >= 3 and not report["brokenImages"]
    assert report["typeset"] >= 10
    assert tools["copy"] > 10, "code cells lack copy buttons"
    assert tools["download"] >= 1, "no download link for the notebook"
    assert tools["launch"] >= 2, "no Binder/Colab launch buttons"
    assert tools["next"] == 1 and tools["prev"] == 1, "no previous/next navigation"
    assert tools["module"] >= 1, "no link to the chapter's convnotes module"


@pytest.mark.parametrize(("term", "chapter"), [("depthwise", "06_separable"),
                                               ("Richardson", "02_deconvolution")])
def test_search_finds_a_chapter_by_a_term(browser, server: str, term: str, chapter: str) -> None:
    page, errors, _ = _open(browser, server + f"search.html?q={term}")
    page.wait_for_selector(f"#search-results a[href*='{chapter}']", timeout=30_000)
    page.close()
    assert not errors
