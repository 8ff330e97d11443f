"""Shared test settings: hypothesis profile, float64 gradchecks, the devices to run on, and
the book built once per test session (``book_html``)."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

import pytest

# Before torch loads OpenMP, here and in the notebook kernels (which inherit this environment):
# threads that wait at the end of a parallel region sleep instead of spinning. When the suite
# ran two xdist workers on two cores, with their notebook kernels and Chromium, each kernel and
# worker with torch's default threads, spinning threads burned about a sixth of the CPU (a
# 2-core run took 295 s with spinning, 247 s without). Numbers do not change: only how idle
# threads wait. It still matters where a worker has several threads (more cores than workers);
# below, each worker gets its share of the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from filelock import FileLock
from hypothesis import HealthCheck, settings

from convnotes.runtime import cpu_cores

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _share_the_cores_between_workers() -> None:
    """In an xdist worker: compute with this worker's share of the cores (at least 1 thread),
    here and in the notebook kernels it starts (they inherit ``OMP_NUM_THREADS``), unless
    ``OMP_NUM_THREADS`` is set already.

    torch's default is a thread per core in every process: two workers on two cores ran four
    threads on two cores, and their kernels the same. In one paired comparison, one thread per
    worker took a 2-core run from 415 to 392 CPU-s and from 219 to 202 s. Tests that check that
    a thread count comes back set more than one thread themselves (tests/test_choosing.py).
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = max(cpu_cores() // workers, 1)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


_share_the_cores_between_workers()

# Bounded example counts keep the whole suite within a few minutes on two cores.
settings.register_profile(
    "convnotes",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile("convnotes")

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Run a test on the CPU and, when available, on CUDA."""
    return torch.device(request.param)


ROOT = Path(__file__).resolve().parent.parent


def _build_book(out: Path) -> str:
    """Build the book into ``out`` with warnings as errors; return its warnings ('' if none)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "--all",
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if result.returncode == 0:
        return ""
    lines = (result.stdout + result.stderr).splitlines()
    found = "\n".join(line for line in lines if "WARNING" in line or "ERROR" in line
                      or "Error" in line)
    return (found or "\n".join(lines))[-6000:] or f"exit status {result.returncode}"


@pytest.fixture(scope="session")
def book_html(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built book's ``html`` folder, built once for the whole session (all xdist workers).

    Built with ``jupyter-book build --warningiserror --nitpick`` into a temporary folder that
    the workers share (a file lock makes the first one build and the others wait); set
    ``CONVNOTES_BOOK_HTML`` to the ``html`` folder of an existing build to skip the build.
    """
    given = os.environ.get("CONVNOTES_BOOK_HTML")
    if given:
        return Path(given)
    if not (Path(sys.executable).parent / "jupyter-book").exists():
        pytest.skip("jupyter-book is not installed (the book extra: pip install -e '.[book]')")
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if hasattr(request.config, "workerinput") else base) / "book"
    report = shared / "build-warnings.txt"
    with FileLock(f"{shared}.lock"):
        if not report.exists():
            shared.mkdir(exist_ok=True)
            report.write_text(_build_book(shared), encoding="utf-8")
    warnings = report.read_text(encoding="utf-8")
    assert not warnings, "the book does not build cleanly:\n" + warnings
    return shared / "_build" / "html"


# ------------------------------------------------------------------------------------------
# The browser tests' shared pieces (tests/test_book.py, tests/test_explorer.py)
# ------------------------------------------------------------------------------------------

#: Debian Chromium, headless, with nothing that reaches the network by itself.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_executable() -> str | None:
    """Path of a Chromium executable: $CHROMIUM, Debian's /usr/bin/chromium, or one on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", "chromium",
                      "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (never a browser Playwright downloads)."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's chromium, or set CHROMIUM=/path): "
                    "the browser tests were not run")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def listen(page, host: str) -> tuple[list[str], list[str]]:
    """Collect what a page does wrong: (console errors, page errors and failed responses;
    requests to hosts other than ``host``). Both lists fill as the page runs."""
    errors, foreign = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 else None)

    def on_request(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.netloc != host:
            foreign.append(request.url)

    page.on("request", on_request)
    return errors, foreign


class Tab(NamedTuple):
    """One browser tab and what its listeners collect (see :func:`listen`, :func:`visit`)."""

    page: Page
    errors: list[str]
    foreign: list[str]


@contextmanager
def open_tab(browser, book_server: str, viewport: dict[str, int], *, scheme: str = "light",
             touch: bool = False) -> Iterator[Tab]:
    """A tab in a context of its own: the size, colour scheme and touch screen given (a touch
    screen comes with a phone's 2x pixel density)."""
    context = browser.new_context(viewport=viewport, color_scheme=scheme, has_touch=touch,
                                  is_mobile=touch, device_scale_factor=2 if touch else 1)
    try:
        page = context.new_page()
        yield Tab(page, *listen(page, urlsplit(book_server).netloc))
    finally:
        context.close()


def visit(tab: Tab, url: str) -> Page:
    """Go to ``url`` in ``tab`` as a reader following a link does; from then on ``tab.errors``
    and ``tab.foreign`` hold what this page did (they are emptied first)."""
    tab.errors.clear()
    tab.foreign.clear()
    tab.page.goto(url, wait_until="load")
    return tab.page


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def book_server(book_html: Path) -> Iterator[str]:
    """The built book served on localhost; yields the base URL (ending in ``/``)."""
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


# ------------------------------------------------------------------------------------------
# Order of the test scopes
# ------------------------------------------------------------------------------------------

#: Longest first (the usual rule for scheduling jobs on two machines). ``make test`` runs
#: ``--dist loadscope --no-loadscope-reorder``, which hands out modules and notebooks to the
#: xdist workers in collection order: the two longest scopes (the capstone's trainings, the
#: book build and its browser tests) start at once, one per worker (so the book build starts
#: at once too); then the other notebooks, then the explorer tests (which need that build),
#: and last the many short unit-test modules, which even out the end.
FIRST_SCOPES = ("book/11_choosing.ipynb", "tests/test_book.py")
AFTER_THE_NOTEBOOKS = ("tests/test_explorer.py",)


def _scope_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    if path in FIRST_SCOPES:
        return FIRST_SCOPES.index(path)
    if path.endswith(".ipynb"):
        return len(FIRST_SCOPES)
    return len(FIRST_SCOPES) + 1 + (path not in AFTER_THE_NOTEBOOKS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the scopes as above (a stable sort: a notebook's cells keep their order)."""
    items.sort(key=_scope_rank)
