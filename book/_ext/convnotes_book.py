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
"""

from __future__ import annotations

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


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("builder-inited", _write_animations)
    app.connect("html-page-context", _drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
