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
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

from convnotes.plotting import write_arithmetic_animations


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
    app.connect("builder-inited", _write_animations)
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.connect("build-finished", _write_index_redirect, priority=400)  # before etoc's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
