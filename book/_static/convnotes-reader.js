/*
 * convnotes-reader.js: the reader's navigation on phones, tablets and desktops.
 * Loaded on every page by the book's extension (book/_ext/convnotes_book.py).
 *
 * 1. Sidebar toggles. sphinx-book-theme 1.3 draws its own primary/secondary sidebar buttons in
 *    the article header, while pydata-sphinx-theme 0.17 draws a second, hidden pair in its top
 *    bar. Both themes attach their click handlers with document.querySelector(), i.e. to the
 *    FIRST button of each class: the hidden one (pydata-sphinx-theme issue #2451). A tap on the
 *    visible button then only shows a tooltip. Here every other button of the class forwards its
 *    click to the button the themes listen to, so the themes' own behaviour runs: below 992 px
 *    the drawer (a <dialog>) opens, at 992 px and above the primary sidebar collapses.
 * 2. A link tapped inside an open drawer closes the drawer (an in-page contents link would
 *    otherwise scroll the page behind a drawer that stays open).
 * 3. Display equations wider than the column get the class "convnotes-scrolls", which the
 *    stylesheet marks with an edge shadow and a visible scrollbar.
 */
(() => {
  "use strict";

  const forwardToggle = (selector) => {
    const bound = document.querySelector(selector); // the copy the themes listen to
    if (!bound) return;
    document.querySelectorAll(selector).forEach((button) => {
      if (button === bound) return;
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        const tooltip = window.bootstrap && window.bootstrap.Tooltip
          ? window.bootstrap.Tooltip.getInstance(button) : null;
        if (tooltip) tooltip.hide();
        button.blur();
        bound.click();
        const dialog = document.querySelector(
          selector === ".primary-toggle" ? "#pst-primary-sidebar-modal"
            : "#pst-secondary-sidebar-modal");
        const expanded = dialog && dialog.open ? "true" : "false";
        button.setAttribute("aria-expanded", expanded);
      });
    });
  };

  const closeDrawerOnLinkTap = () => {
    document.querySelectorAll("#pst-primary-sidebar-modal, #pst-secondary-sidebar-modal")
      .forEach((dialog) => {
        dialog.addEventListener("click", (event) => {
          const link = event.target.closest("a[href]");
          if (link && dialog.open) dialog.close();
        });
      });
  };

  const markScrollingEquations = () => {
    document.querySelectorAll("mjx-container[display='true']").forEach((el) => {
      el.classList.toggle("convnotes-scrolls", el.scrollWidth > el.clientWidth + 1);
    });
  };

  const start = () => {
    forwardToggle(".primary-toggle");
    forwardToggle(".secondary-toggle");
    closeDrawerOnLinkTap();
    markScrollingEquations();
    window.addEventListener("load", () => {
      // MathJax typesets after loading: measure the equations again once it has
      if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        MathJax.startup.promise.then(markScrollingEquations);
      } else {
        markScrollingEquations();
      }
    });
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(markScrollingEquations, 200);
    });
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
