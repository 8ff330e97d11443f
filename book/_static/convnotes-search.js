/*
 * convnotes-search.js: the book's search ranking and readable result snippets.
 * Loaded (deferred) on search.html only, by the book's extension, after Sphinx's
 * searchtools.js and before the query runs (Search.init waits for DOMContentLoaded).
 *
 * Sphinx scores a page only by WHERE a word occurs (15 for a title word, 5 for body text, 11-26
 * for an API object), never by how often, so "depthwise" ranked the separable chapter below
 * every API entry that contains the word. Here
 *   - a chapter's page gets CHAPTER_BONUS: the chapter that teaches a topic ranks above the API
 *     entries and the reference pages that name it;
 *   - a prose page (chapter, glossary, appendix, landing page) gets up to MENTION_BONUS more in
 *     proportion to how often it uses the query's words, relative to the page that uses them
 *     most (counted when the book is built: window.convnotesSearchWeights, written into
 *     _static/convnotes-search-weights.js by the extension), so the chapter about a topic comes
 *     before the chapters that mention it in passing;
 *   - a glossary term weighs as much as a heading (Sphinx gives an index entry up to 100);
 *   - API pages keep Sphinx's scores.
 * Snippets are cut from the page's text with the formulas written as plain symbols (MathJax has
 * not typeset a page fetched for a snippet, so its text holds raw TeX).
 */
(() => {
  "use strict";
  if (typeof Scorer === "undefined" || typeof Search === "undefined") return;

  const CHAPTER_BONUS = 10;
  const weights = window.convnotesSearchWeights || { kinds: {}, mentions: {} };

  let queryStems = null;
  const stemsOfQuery = () => {
    if (queryStems !== null) return queryStems;
    const query = new URLSearchParams(window.location.search).get("q") || "";
    const stemmer = new Stemmer();
    queryStems = splitQuery(query.toLowerCase().trim())
      .filter((word) => stopwords.indexOf(word) === -1 && !/^\d+$/.test(word))
      .map((word) => stemmer.stemWord(word));
    return queryStems;
  };

  Scorer.score = (result) => {
    const [docname, , anchor, descr, score] = result;
    if (descr !== null && descr !== undefined) return score; // an API object: Sphinx's score
    // A glossary term (an index entry: Sphinx scores it up to 100) weighs like a heading.
    if (/^#term-/.test(anchor || "")) return Math.round(score * Scorer.title / 100);
    const kind = weights.kinds[docname];
    if (kind !== "chapter" && kind !== "prose") return score;
    const mentions = stemsOfQuery().reduce(
      (sum, stem) => sum + ((weights.mentions[stem] || {})[docname] || 0), 0);
    return score + mentions + (kind === "chapter" ? CHAPTER_BONUS : 0);
  };

  // TeX commands a snippet may show, as the symbol a reader sees; other commands lose "\".
  const SYMBOLS = {
    times: "×", cdot: "·", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
    approx: "≈", sum: "Σ", prod: "Π", infty: "∞", lfloor: "⌊", rfloor: "⌋", lceil: "⌈",
    rceil: "⌉", star: "⋆", ast: "∗", to: "→", rightarrow: "→", leftarrow: "←", in: "∈",
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", lambda: "λ", mu: "μ",
    sigma: "σ", theta: "θ", pi: "π", omega: "ω", Delta: "Δ", Sigma: "Σ", ell: "ℓ",
    quad: " ", qquad: " ", ldots: "…", dots: "…", cdots: "⋯", pm: "±", partial: "∂",
    nabla: "∇", sqrt: "√", top: "ᵀ", mid: "|", lvert: "|", rvert: "|",
  };
  const plainTeX = (tex) => tex
    .replace(/^\s*(\\\(|\\\[|\$\$?)/, "").replace(/(\\\)|\\\]|\$\$?)\s*$/, "")
    .replace(/\\(?:begin|end)\{[^}]*\}/g, " ")
    .replace(/\\(?:text|mathrm|mathbf|mathit|operatorname|textrm|mathcal)\s*\{([^}]*)\}/g, "$1")
    .replace(/\\frac\s*\{([^}]*)\}\s*\{([^}]*)\}/g, "($1)/($2)")
    .replace(/\\(left|right|big|Big|bigg|Bigg)\b/g, "")
    .replace(/\\([A-Za-z]+)/g, (match, name) => (name in SYMBOLS ? SYMBOLS[name] : name))
    .replace(/\\([_{}%&#$,;!: ])/g, (match, char) => (",;!: ".includes(char) ? " " : char))
    .replace(/\\\\/g, " ")
    .replace(/[{}]/g, "")
    .replace(/\s*&\s*/g, " ")
    .replace(/\s+/g, " ")
    .trim();

  const originalHtmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".math, span.math, div.math").forEach((el) => {
      el.textContent = ` ${plainTeX(el.textContent)} `;
    });
    // code cells and their outputs are code, not prose, and the page's navigation (in-page
    // contents, buttons, previous/next) is not its text: leave them out of snippets
    page.querySelectorAll([".cell_input", ".cell_output", ".highlight", ".headerlink", "script",
      "style", "nav", ".bd-sidebar-secondary", ".bd-header-article", ".prev-next-area",
      ".bd-footer-article"].join(", "))
      .forEach((el) => el.remove());
    return originalHtmlToText(page.documentElement.outerHTML, anchor);
  };
  window.convnotesPlainTeX = plainTeX; // for the browser test
})();
