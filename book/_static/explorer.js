/* The convolution explorer: an interactive drawing of one convolution-family layer.
 *
 * Plain JavaScript and SVG, no dependencies, no network. Loaded on every page by the book's
 * Sphinx extension (book/_ext/convnotes_book.py); it fills each element
 *
 *     <div class="convnotes-explorer" data-preset="strided" data-presets="plain,padded,strided"></div>
 *
 * with controls, the output-size formula and the input / kernel / output grids. `data-preset`
 * is the preset shown first, `data-presets` (optional, comma-separated) the preset buttons
 * offered; without it every preset is offered.
 *
 * The arithmetic is that of `convnotes.arithmetic` (which is torch's), one axis at a time, and
 * is exposed for tests as
 *
 *     window.convnotesExplorer.outputSize(cfg)   -> int
 *     window.convnotesExplorer.reads(cfg, i)     -> int[]
 *     window.convnotesExplorer.readBy(cfg, j)    -> int[]
 *
 * with cfg = {op: "conv" | "transposed" | "pool", size, kernel, stride, padding, dilation,
 * outputPadding, ceilMode}. An invalid configuration throws an Error whose message is the one
 * `convnotes.arithmetic` raises for it (same wording, parameter names as in Python) and whose
 * `params` lists the parameters involved.
 *
 * reads(cfg, i), for output i:
 *   conv, pool:  one entry per kernel tap, in tap order: the input index the tap reads, or -1
 *                when the tap falls on padding (or, for a ceil_mode pooling window, past it).
 *                This is column i of convnotes.correlation.im2col applied to the 1-D input
 *                0, 1, ..., size - 1, with the padding read as -1.
 *   transposed:  the input indices j that write to output i (some tap a has
 *                j * stride + a * dilation - padding = i), ascending; empty for an output
 *                that only output_padding created. This is the transpose of the index map of
 *                the convolution the transposed convolution is the gradient of.
 * readBy(cfg, j) is the inverse: the outputs whose reads contain input j (conv, pool; j may be
 * a padding position, -padding <= j < size + padding), or that input j writes to (transposed),
 * ascending.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------
  // Arithmetic: convnotes.arithmetic, check for check, message for message
  // ---------------------------------------------------------------------------------------

  class ConfigError extends Error {
    constructor(message, params, kind) {
      super(message);
      this.name = kind || "ValueError";
      this.params = params;
    }
  }

  function describe(value) {
    if (value === undefined || value === null || value === "") return "nothing";
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "boolean") return pyBool(value);
    return String(value);
  }

  function pyBool(flag) {
    return flag ? "True" : "False";
  }

  /** _checks.check_int: an integer (not a bool) at least `minimum`. */
  function checkInt(name, value, minimum) {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new ConfigError(`${name} must be an int, got ${describe(value)}`, [name], "TypeError");
    }
    if (minimum !== undefined && value < minimum) {
      throw new ConfigError(`${name} must be >= ${minimum}, got ${value}`, [name]);
    }
    return value;
  }

  function effectiveKernelSize(kernelSize, dilation) {
    checkInt("kernel_size", kernelSize, 1);
    checkInt("dilation", dilation, 1);
    return dilation * (kernelSize - 1) + 1;
  }

  const OPS = ["conv", "transposed", "pool"];
  // Parameters each operation does not have, with the only value they may take.
  const NOT_USED = {
    conv: { outputPadding: ["output_padding", 0], ceilMode: ["ceil_mode", false] },
    transposed: { ceilMode: ["ceil_mode", false] },
    pool: { outputPadding: ["output_padding", 0] },
  };

  /** A checked copy of cfg with the defaults filled in (stride of pooling: the kernel size). */
  function normalise(cfg) {
    if (cfg === null || typeof cfg !== "object") {
      throw new ConfigError(`cfg must be an object, got ${describe(cfg)}`, ["cfg"], "TypeError");
    }
    if (!OPS.includes(cfg.op)) {
      throw new ConfigError(`op must be one of ('conv', 'transposed', 'pool'), got ${describe(cfg.op)}`,
                            ["op"]);
    }
    const pick = (key, fallback) => (cfg[key] === undefined || cfg[key] === null ? fallback : cfg[key]);
    for (const [key, [name, neutral]] of Object.entries(NOT_USED[cfg.op])) {
      if (pick(key, neutral) !== neutral) {
        throw new ConfigError(`${name} does not apply to op '${cfg.op}', got ${name}=${describe(cfg[key])}`,
                              [name]);
      }
    }
    return {
      op: cfg.op,
      size: cfg.size,
      kernel: cfg.kernel,
      stride: pick("stride", cfg.op === "pool" ? cfg.kernel : 1),
      padding: pick("padding", 0),
      dilation: pick("dilation", 1),
      outputPadding: pick("outputPadding", 0),
      ceilMode: pick("ceilMode", false),
    };
  }

  /** conv_output_size(size, kernel_size, stride, padding, dilation). */
  function convOutputSize(c) {
    checkInt("size", c.size, 1);
    checkInt("stride", c.stride, 1);
    checkInt("padding", c.padding, 0);
    const span = effectiveKernelSize(c.kernel, c.dilation);
    const padded = c.size + 2 * c.padding;
    if (span > padded) {
      throw new ConfigError(
        `kernel_size=${c.kernel} with dilation=${c.dilation} spans ${span}, larger than the ` +
        `padded input size ${padded} (size=${c.size}, padding=${c.padding})`,
        ["kernel_size", "dilation", "size", "padding"]);
    }
    return Math.floor((padded - span) / c.stride) + 1;
  }

  /** conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation). */
  function transposeOutputSize(c) {
    checkInt("size", c.size, 1);
    checkInt("stride", c.stride, 1);
    checkInt("padding", c.padding, 0);
    checkInt("output_padding", c.outputPadding, 0);
    const span = effectiveKernelSize(c.kernel, c.dilation);
    if (c.outputPadding >= Math.max(c.stride, c.dilation)) {
      throw new ConfigError(
        `output_padding must be smaller than stride or dilation, got output_padding=` +
        `${c.outputPadding} with stride=${c.stride}, dilation=${c.dilation}`,
        ["output_padding", "stride", "dilation"]);
    }
    const out = (c.size - 1) * c.stride - 2 * c.padding + span + c.outputPadding;
    if (out < 1) {
      throw new ConfigError(
        `padding=${c.padding} is too large: the output size would be ${out} ` +
        `(size=${c.size}, kernel_size=${c.kernel}, stride=${c.stride})`,
        ["padding"]);
    }
    return out;
  }

  /** pool_output_size(size, kernel_size, stride, padding, dilation, ceil_mode), with the
   * number of windows before ceil_mode's last-window rule (for the formula). */
  function poolGeometry(c) {
    checkInt("kernel_size", c.kernel, 1);
    checkInt("stride", c.stride, 1);
    checkInt("size", c.size, 1);
    checkInt("padding", c.padding, 0);
    if (typeof c.ceilMode !== "boolean") {
      throw new ConfigError(`ceil_mode must be a bool, got ${describe(c.ceilMode)}`, ["ceil_mode"],
                            "TypeError");
    }
    if (c.padding > Math.floor(c.kernel / 2)) {
      throw new ConfigError(
        `padding must be at most half of kernel_size=${c.kernel}, got padding=${c.padding}`,
        ["padding", "kernel_size"]);
    }
    const span = effectiveKernelSize(c.kernel, c.dilation);
    const padded = c.size + 2 * c.padding;
    const slack = padded - span; // may be negative with ceil_mode: a window may hang over the edge
    const rounded = (c.ceilMode ? Math.ceil(slack / c.stride) : Math.floor(slack / c.stride)) + 1;
    let out = rounded;
    if (c.ceilMode && (out - 1) * c.stride >= c.size + c.padding) out -= 1;
    if (out < 1) {
      throw new ConfigError(
        `kernel_size=${c.kernel} with dilation=${c.dilation} spans ${span}, larger than the ` +
        `padded input size ${padded} (size=${c.size}, padding=${c.padding}, ` +
        `ceil_mode=${pyBool(c.ceilMode)})`,
        ["kernel_size", "dilation", "size", "padding"]);
    }
    return { out, rounded, slack, span, padded };
  }

  function checkedSize(c) {
    if (c.op === "conv") return convOutputSize(c);
    if (c.op === "transposed") return transposeOutputSize(c);
    return poolGeometry(c).out;
  }

  function outputSize(cfg) {
    return checkedSize(normalise(cfg));
  }

  function checkIndex(name, value, lo, hi) {
    checkInt(name, value);
    if (value < lo || value >= hi) {
      throw new ConfigError(`${name} must be in [${lo}, ${hi}), got ${value}`, [name], "RangeError");
    }
  }

  /** Taps of output i of a convolution or pooling: [{tap, pos}], pos in input coordinates
   * (negative or >= size on padding). */
  function windowTaps(c, i) {
    const taps = [];
    for (let a = 0; a < c.kernel; a++) taps.push({ tap: a, pos: i * c.stride + a * c.dilation - c.padding });
    return taps;
  }

  /** Contributions to position u of a transposed convolution's output *before* the padding
   * is cropped (u = output index + padding): [{tap, input}]. */
  function writersFull(c, u) {
    const found = [];
    for (let j = 0; j < c.size; j++) {
      const t = u - j * c.stride;
      if (t >= 0 && t % c.dilation === 0 && t / c.dilation < c.kernel) found.push({ tap: t / c.dilation, input: j });
    }
    return found;
  }

  function reads(cfg, i) {
    const c = normalise(cfg);
    const o = checkedSize(c);
    checkIndex("outputIndex", i, 0, o);
    if (c.op === "transposed") return writersFull(c, i + c.padding).map((w) => w.input);
    return windowTaps(c, i).map((t) => (t.pos >= 0 && t.pos < c.size ? t.pos : -1));
  }

  function readBy(cfg, j) {
    const c = normalise(cfg);
    const o = checkedSize(c);
    const found = [];
    if (c.op === "transposed") {
      checkIndex("inputIndex", j, 0, c.size);
      for (let i = 0; i < o; i++) {
        if (writersFull(c, i + c.padding).some((w) => w.input === j)) found.push(i);
      }
    } else {
      checkIndex("inputIndex", j, -c.padding, c.size + c.padding);
      for (let i = 0; i < o; i++) {
        if (windowTaps(c, i).some((t) => t.pos === j)) found.push(i);
      }
    }
    return found;
  }

  // ---------------------------------------------------------------------------------------
  // Presets: the book's examples
  // ---------------------------------------------------------------------------------------

  const PRESETS = {
    plain: { name: "Plain", state: { op: "conv", size: 4, kernel: 3 } },
    padded: { name: "Padded (same)", state: { op: "conv", size: 5, kernel: 3, padding: 1 } },
    strided: { name: "Strided", state: { op: "conv", size: 5, kernel: 3, padding: 1, stride: 2 } },
    "dilated-1": { name: "Dilated, rate 1", state: { op: "conv", size: 7, kernel: 3, padding: 1, dilation: 1 } },
    "dilated-2": { name: "Dilated, rate 2", state: { op: "conv", size: 7, kernel: 3, padding: 2, dilation: 2 } },
    "dilated-4": { name: "Dilated, rate 4", state: { op: "conv", size: 7, kernel: 3, padding: 4, dilation: 4 } },
    transposed: { name: "Transposed, stride 2", state: { op: "transposed", size: 3, kernel: 3, stride: 2 } },
    "transposed-padded": {
      name: "Transposed, padding 1, output_padding 1",
      state: { op: "transposed", size: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
    },
    pool: { name: "Max pool 2x2", state: { op: "max", size: 4, kernel: 2, stride: 2 } },
    "pool-ceil": {
      name: "Max pool, ceil_mode",
      state: { op: "max", size: 5, kernel: 2, stride: 2, padding: 1, ceilMode: true },
    },
  };
  const DEFAULT_STATE = { op: "conv", size: 5, kernel: 3, stride: 1, padding: 0, dilation: 1, outputPadding: 0, ceilMode: false };

  const OPERATIONS = {
    conv: { label: "convolution", api: "conv", fixed: { outputPadding: 0, ceilMode: false } },
    transposed: { label: "transposed convolution", api: "transposed", fixed: { ceilMode: false } },
    max: { label: "max pooling", api: "pool", fixed: { outputPadding: 0 } },
    avg: { label: "average pooling", api: "pool", fixed: { outputPadding: 0, dilation: 1 } },
  };

  const FIELDS = [
    { key: "size", name: "size", label: "input size", symbol: "i", min: 1, max: 12 },
    { key: "kernel", name: "kernel_size", label: "kernel size", symbol: "k", min: 1, max: 7 },
    { key: "stride", name: "stride", label: "stride", symbol: "s", min: 1, max: 4 },
    { key: "padding", name: "padding", label: "padding", symbol: "p", min: 0, max: 4 },
    { key: "dilation", name: "dilation", label: "dilation", symbol: "d", min: 1, max: 4 },
    { key: "outputPadding", name: "output_padding", label: "output padding", symbol: "", min: 0, max: 3 },
  ];

  /** The API configuration (one axis) for an explorer state. */
  function apiConfig(state) {
    const op = OPERATIONS[state.op];
    const cfg = { op: op.api, size: state.size, kernel: state.kernel, stride: state.stride,
                  padding: state.padding, dilation: state.dilation };
    if (op.api === "transposed") cfg.outputPadding = state.outputPadding;
    if (op.api === "pool") cfg.ceilMode = state.ceilMode;
    return cfg;
  }

  // ---------------------------------------------------------------------------------------
  // The formula with the values substituted
  // ---------------------------------------------------------------------------------------

  const minus = (n) => (n < 0 ? "\u2212" + -n : String(n));
  const v = (name) => `<var>${name}</var>`;

  function formulaHTML(c, error) {
    const lines = [];
    if (c.op === "transposed") {
      lines.push(`${v("o")} = (${v("i")} \u2212 1)${v("s")} \u2212 2${v("p")} + ${v("d")}(${v("k")} \u2212 1) + output_padding + 1`);
      if (!error) {
        const o = transposeOutputSize(c);
        lines.push(`= (${c.size} \u2212 1)\u00b7${c.stride} \u2212 2\u00b7${c.padding} + ${c.dilation}\u00b7(${c.kernel} \u2212 1) + ${c.outputPadding} + 1 = <strong>${o}</strong>`);
      }
      return lines;
    }
    const ceil = c.op === "pool" && c.ceilMode;
    const [lo, hi] = ceil ? ["\u2308", "\u2309"] : ["\u230a", "\u230b"];
    lines.push(`${v("o")} = ${lo}(${v("i")} + 2${v("p")} \u2212 ${v("d")}(${v("k")} \u2212 1) \u2212 1) / ${v("s")}${hi} + 1`);
    if (error) return lines;
    const numerator = c.size + 2 * c.padding - c.dilation * (c.kernel - 1) - 1;
    const substituted = `= ${lo}(${c.size} + 2\u00b7${c.padding} \u2212 ${c.dilation}\u00b7(${c.kernel} \u2212 1) \u2212 1) / ${c.stride}${hi} + 1 = ${lo}${minus(numerator)} / ${c.stride}${hi} + 1`;
    if (c.op === "conv") {
      lines.push(`${substituted} = <strong>${convOutputSize(c)}</strong>`);
      return lines;
    }
    const g = poolGeometry(c);
    if (g.rounded === g.out) {
      lines.push(`${substituted} = <strong>${g.out}</strong>`);
      if (ceil) lines.push(`the last window starts at ${v("s")}(${v("o")} \u2212 1) = ${c.stride * (g.out - 1)} < ${v("i")} + ${v("p")} = ${c.size + c.padding}, before the right padding, so ceil_mode keeps it`);
    } else {
      lines.push(`${substituted} = ${g.rounded}`);
      lines.push(`but the last of these windows would start at ${g.rounded - 1}\u00b7${v("s")} = ${c.stride * (g.rounded - 1)} \u2265 ${v("i")} + ${v("p")} = ${c.size + c.padding}, in the right padding, so ceil_mode drops it: ${v("o")} = <strong>${g.out}</strong>`);
    }
    return lines;
  }

  // ---------------------------------------------------------------------------------------
  // Drawing
  // ---------------------------------------------------------------------------------------

  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_CELLS = 64; // per side; larger valid configurations get a message instead
  const PANEL_MIN = 120; // px: room for a panel's caption

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "html") node.innerHTML = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  /** One axis of the drawing: which display positions exist and what they are. */
  function axes(c, o) {
    if (c.op === "transposed") {
      const full = (c.size - 1) * c.stride + c.dilation * (c.kernel - 1) + 1;
      const shown = Math.max(full, c.padding + o);
      const kind = (u) => (u < c.padding || u >= c.padding + o ? "crop" : writersFull(c, u).length ? "out" : "bias");
      return {
        input: { count: c.size, offset: 0, kind: () => "in" },
        output: { count: shown, offset: c.padding, kind }, // output index = u - padding
      };
    }
    const padded = c.size + 2 * c.padding;
    const reach = (o - 1) * c.stride + c.dilation * (c.kernel - 1) + 1;
    const shown = Math.max(padded, reach);
    const kind = (u) => (u >= padded ? "beyond" : u < c.padding || u >= c.padding + c.size ? "pad" : "in");
    return {
      input: { count: shown, offset: c.padding, kind }, // input index = u - padding
      output: { count: o, offset: 0, kind: () => "out" },
    };
  }

  const KIND_RANK = { in: 0, out: 0, pad: 1, crop: 1, bias: 2, beyond: 2 };
  const worse = (a, b) => (KIND_RANK[a] >= KIND_RANK[b] ? a : b);

  /** What the selected cell relates to: sets of "row,col" keys per grid, and kernel taps. */
  function relations(c, o, sel) {
    const result = { input: new Set(), output: new Set(), taps: new Set(), window: null };
    if (!sel) return result;
    const key = (r, q) => `${r},${q}`;
    if (c.op === "transposed") {
      if (sel.grid === "output") {
        const rows = writersFull(c, sel.r), cols = writersFull(c, sel.q);
        for (const a of rows) for (const b of cols) {
          result.input.add(key(a.input, b.input));
          result.taps.add(key(a.tap, b.tap));
        }
      } else {
        for (let a = 0; a < c.kernel; a++) for (let b = 0; b < c.kernel; b++) {
          result.output.add(key(sel.r * c.stride + a * c.dilation, sel.q * c.stride + b * c.dilation));
          result.taps.add(key(a, b));
        }
      }
      return result;
    }
    if (sel.grid === "output") {
      for (let a = 0; a < c.kernel; a++) for (let b = 0; b < c.kernel; b++) {
        result.input.add(key(sel.r * c.stride + a * c.dilation, sel.q * c.stride + b * c.dilation));
        result.taps.add(key(a, b));
      }
      result.window = { r: sel.r * c.stride, q: sel.q * c.stride };
    } else {
      const hits = (u) => {
        const found = [];
        for (let i = 0; i < o; i++) {
          const t = u - i * c.stride;
          if (t >= 0 && t % c.dilation === 0 && t / c.dilation < c.kernel) found.push({ out: i, tap: t / c.dilation });
        }
        return found;
      };
      for (const a of hits(sel.r)) for (const b of hits(sel.q)) {
        result.output.add(key(a.out, b.out));
        result.taps.add(key(a.tap, b.tap));
      }
    }
    return result;
  }

  function listIndices(values, c) {
    const where = (x) => (x >= c.size + c.padding ? " (past the padding)" : x < 0 || x >= c.size ? " (padding)" : "");
    return values.map((x) => minus(x) + where(x)).join(", ");
  }

  /** The sentence that says, in words, what the selection shows. */
  function statusText(state, c, o, sel) {
    if (!sel) return "Hover over, tap or focus a cell: an output cell shows the input cells it reads, an input cell the output cells that read it.";
    const op = state.op;
    if (c.op === "transposed") {
      if (sel.grid === "input") {
        return `Input (${sel.r}, ${sel.q}) is multiplied by each of the ${c.kernel * c.kernel} kernel taps and added into a ${c.dilation * (c.kernel - 1) + 1}\u00d7${c.dilation * (c.kernel - 1) + 1} block of the output, starting at row ${minus(sel.r * c.stride - c.padding)}, column ${minus(sel.q * c.stride - c.padding)} (stride ${c.stride}).`;
      }
      const r = sel.r - c.padding, q = sel.q - c.padding;
      const rows = writersFull(c, sel.r).map((w) => w.input), cols = writersFull(c, sel.q).map((w) => w.input);
      const products = rows.length * cols.length;
      const full = (c.size - 1) * c.stride + c.dilation * (c.kernel - 1) + 1;
      const why = sel.r >= full || sel.q >= full ? "output_padding added it" : "the stride and dilation skip it";
      const sum = products
        ? `the sum of ${products} product${products === 1 ? "" : "s"}: the inputs in rows ${rows.join(", ")} \u00d7 columns ${cols.join(", ")} write to it.`
        : `only the bias (zero without one): no input writes to it (${why}).`;
      if (r < 0 || r >= o || q < 0 || q >= o) {
        return `Position (${minus(r)}, ${minus(q)}) is cropped away by padding = ${c.padding}; before the crop it is ${sum}`;
      }
      return `Output (${r}, ${q}) is ${sum}`;
    }
    if (sel.grid === "output") {
      const rows = windowTaps(c, sel.r).map((t) => t.pos), cols = windowTaps(c, sel.q).map((t) => t.pos);
      const inside = (x) => x >= 0 && x < c.size;
      const padTaps = c.kernel * c.kernel - rows.filter(inside).length * cols.filter(inside).length;
      const verb = op === "max" ? "the maximum" : op === "avg" ? "the mean" : "the weighted sum";
      let text = `Output (${sel.r}, ${sel.q}) is ${verb} of ${c.kernel * c.kernel} taps: input rows ${listIndices(rows, c)} \u00d7 columns ${listIndices(cols, c)}`;
      text += padTaps ? `; ${padTaps} of the taps fall on padding${op === "max" ? ", which max pooling ignores" : ""}.` : ".";
      if (op === "avg") {
        const within = (x) => x < c.size + c.padding;
        const divisor = rows.filter(within).length * cols.filter(within).length;
        text += ` It divides by ${divisor}: zeros of the padding count (count_include_pad=True), taps past the padding do not.`;
      }
      return text;
    }
    const r = sel.r - c.padding, q = sel.q - c.padding;
    const readers = relations(c, o, sel).output.size;
    const outside = r >= c.size + c.padding || q >= c.size + c.padding ? "past the padding" : "padding";
    const what = r < 0 || q < 0 || r >= c.size || q >= c.size ? `Position (${minus(r)}, ${minus(q)}) is ${outside}; it` : `Input (${r}, ${q})`;
    return `${what} is read by ${readers} output cell${readers === 1 ? "" : "s"}.`;
  }

  // ---------------------------------------------------------------------------------------
  // One explorer
  // ---------------------------------------------------------------------------------------

  let explorerCount = 0;

  class Explorer {
    constructor(root) {
      this.root = root;
      this.id = `cnx${explorerCount++}`;
      const wanted = (root.dataset.presets || "").split(/[\s,]+/).filter(Boolean);
      const unknown = [...wanted, root.dataset.preset].filter((name) => name && !(name in PRESETS));
      if (unknown.length) {
        const message = `convnotes explorer: unknown preset ${unknown.map((u) => `"${u}"`).join(", ")}; the presets are ${Object.keys(PRESETS).join(", ")}`;
        root.replaceChildren(el("p", { class: "cnx-error", role: "alert", text: message }));
        console.error(message);
        return;
      }
      this.presetNames = wanted.length ? wanted : Object.keys(PRESETS);
      this.selection = null; // the pinned selection (click, tap, Enter)
      this.hover = null;     // the transient one (pointer, focus)
      this.focusAt = { input: [0, 0], output: [0, 0], kernel: [0, 0] };
      this.build();
      this.applyPreset(root.dataset.preset || this.presetNames[0]);
      this.lastWidth = 0;
      if (typeof ResizeObserver === "function") {
        const observer = new ResizeObserver(() => {
          if (this.pending) return;
          this.pending = requestAnimationFrame(() => {
            this.pending = 0;
            if (this.figure.clientWidth !== this.lastWidth) this.draw();
          });
        });
        observer.observe(this.figure);
      }
    }

    build() {
      const root = this.root;
      root.classList.add("cnx");
      root.setAttribute("role", "group");
      root.setAttribute("aria-label", "Convolution explorer");
      this.presetBar = el("div", { class: "cnx-presets", role: "group", "aria-label": "Presets" });
      this.presetButtons = {};
      for (const name of this.presetNames) {
        const preset = PRESETS[name];
        const button = el("button", { type: "button", class: "cnx-preset", "data-preset": name, "aria-pressed": "false" });
        const cfg = apiConfig({ ...DEFAULT_STATE, ...preset.state });
        button.textContent = `${preset.name}: ${cfg.size}\u2192${outputSize(cfg)}`;
        button.addEventListener("click", () => this.applyPreset(name));
        this.presetButtons[name] = button;
        this.presetBar.append(button);
      }

      this.inputs = {};
      const controls = el("div", { class: "cnx-controls" });
      const opSelect = el("select", { id: `${this.id}-op` });
      for (const [key, op] of Object.entries(OPERATIONS)) opSelect.append(el("option", { value: key, text: op.label }));
      opSelect.addEventListener("change", () => this.update({ op: opSelect.value }));
      this.inputs.op = opSelect;
      controls.append(el("label", { class: "cnx-field cnx-op", for: opSelect.id }, [el("span", { text: "operation" }), opSelect]));
      for (const field of FIELDS) {
        const input = el("input", { type: "number", id: `${this.id}-${field.key}`, min: field.min, max: field.max, step: 1, inputmode: "numeric" });
        input.addEventListener("input", () => {
          const text = input.value.trim();
          this.update({ [field.key]: text === "" ? null : Number(text) });
        });
        this.inputs[field.key] = input;
        const name = el("span", { html: `<code>${field.name}</code>${field.symbol ? ` ${v(field.symbol)}` : ""}`, title: field.label });
        controls.append(el("label", { class: "cnx-field", for: input.id }, [name, input]));
      }
      const ceil = el("input", { type: "checkbox", id: `${this.id}-ceil` });
      ceil.addEventListener("change", () => this.update({ ceilMode: ceil.checked }));
      this.inputs.ceilMode = ceil;
      controls.append(el("label", { class: "cnx-field cnx-check", for: ceil.id }, [ceil, el("span", { html: "<code>ceil_mode</code>", title: "ceil mode" })]));

      this.formula = el("div", { class: "cnx-formula", "aria-live": "polite" });
      this.message = el("p", { class: "cnx-error", role: "alert", hidden: "" });
      this.figure = el("div", { class: "cnx-figure" });
      this.status = el("p", { class: "cnx-status", "aria-live": "polite" });
      const note = el("p", { class: "cnx-note", text: "Both axes use the same settings. Arrow keys move between cells; Enter pins a cell, Escape clears it." });
      root.replaceChildren(this.presetBar, controls, this.formula, this.message, this.figure, this.status, note);
    }

    applyPreset(name) {
      this.state = { ...DEFAULT_STATE, ...PRESETS[name].state };
      this.preset = name;
      this.selection = null;
      this.hover = null;
      this.syncControls();
      this.render();
    }

    update(change) {
      this.state = { ...this.state, ...change };
      if ("op" in change) Object.assign(this.state, OPERATIONS[this.state.op].fixed);
      this.preset = null;
      this.selection = null;
      this.hover = null;
      if ("op" in change) this.syncControls();
      this.render();
    }

    syncControls() {
      const fixed = OPERATIONS[this.state.op].fixed;
      this.inputs.op.value = this.state.op;
      for (const field of FIELDS) {
        const input = this.inputs[field.key];
        input.value = this.state[field.key] === null ? "" : this.state[field.key];
        input.disabled = field.key in fixed;
      }
      this.inputs.ceilMode.checked = this.state.ceilMode;
      this.inputs.ceilMode.disabled = "ceilMode" in fixed;
      for (const [name, button] of Object.entries(this.presetButtons)) button.setAttribute("aria-pressed", String(name === this.preset));
    }

    render() {
      for (const [name, button] of Object.entries(this.presetButtons)) button.setAttribute("aria-pressed", String(name === this.preset));
      const cfg = apiConfig(this.state);
      let c = null, o = null, error = null;
      try {
        c = normalise(cfg);
        o = checkedSize(c);
      } catch (caught) {
        if (!(caught instanceof ConfigError)) throw caught;
        error = caught;
      }
      const involved = new Set(error ? error.params : []);
      for (const field of FIELDS) this.inputs[field.key].setAttribute("aria-invalid", String(involved.has(field.name)));
      this.inputs.ceilMode.setAttribute("aria-invalid", String(involved.has("ceil_mode")));
      this.formula.innerHTML = formulaHTML(c || cfg, error).map((line) => `<div>${line}</div>`).join("");
      if (error) {
        this.message.hidden = false;
        this.message.textContent = `Not a valid ${OPERATIONS[this.state.op].label}: ${error.message}.`;
        this.c = null;
        this.figure.replaceChildren();
        this.status.textContent = "";
        return;
      }
      this.message.hidden = true;
      this.c = c;
      this.o = o;
      this.draw();
    }

    /** Cell size in px: all three panels in one row when they fit, else the widest one fits. */
    layout(counts) {
      const width = Math.max(this.figure.clientWidth, 240);
      const gap = 28;
      const total = counts.reduce((a, b) => a + b, 0);
      const least = counts.reduce((sum, n) => sum + Math.max(n * 16 + 4, PANEL_MIN), 0);
      if (least + 2 * gap <= width) return Math.min(30, Math.floor((width - 2 * gap - 12) / total));
      return Math.max(10, Math.min(30, Math.floor((width - 4) / Math.max(...counts))));
    }

    draw() {
      const c = this.c;
      this.lastWidth = this.figure.clientWidth;
      if (!c) return;
      const o = this.o;
      const ax = axes(c, o);
      const span = c.dilation * (c.kernel - 1) + 1;
      if (Math.max(ax.input.count, ax.output.count) > MAX_CELLS) {
        this.figure.replaceChildren(el("p", { class: "cnx-note", text: `Valid: o = ${o}. The drawing would need ${Math.max(ax.input.count, ax.output.count)} cells per side; it is drawn up to ${MAX_CELLS}.` }));
        this.status.textContent = "";
        return;
      }
      const cell = this.layout([ax.input.count, span, ax.output.count]);
      this.cell = cell;
      const op = this.state.op;
      const pool = c.op === "pool";
      const inputCaption = c.op === "transposed"
        ? `Input ${c.size}\u00d7${c.size}`
        : `Input ${c.size}\u00d7${c.size}` + (c.padding ? `, padding ${c.padding} (dashed${op === "max" ? ", \u2212\u221e" : ", zeros"})` : "") +
          (ax.input.count > c.size + 2 * c.padding ? ", dotted: past the padding" : "");
      const kernelCaption = `${pool ? "Window" : "Kernel"} ${c.kernel}\u00d7${c.kernel}` + (c.dilation > 1 ? `, dilation ${c.dilation}: holes` : "");
      const unwritten = [...Array(o).keys()].some((i) => !writersFull(c, i + c.padding).length);
      const outputCaption = c.op === "transposed"
        ? `Output ${o}\u00d7${o}` + (c.padding ? `; dashed: computed, then cropped by padding ${c.padding}` : "") +
          (unwritten ? "; grey: no input writes there (only the bias)" : "")
        : `Output ${o}\u00d7${o}`;
      this.panels = {};
      const panels = [
        this.panel("input", inputCaption, ax.input.count, ax.input.kind, cell),
        this.panel("kernel", kernelCaption, span, (u) => (u % c.dilation === 0 ? "tap" : "hole"), cell),
        this.panel("output", outputCaption, ax.output.count, ax.output.kind, cell),
      ];
      this.figure.replaceChildren(...panels);
      this.paint();
    }

    /** A captioned SVG grid of n x n cells whose kinds come from kind(u) per axis. */
    panel(name, caption, n, kind, cell) {
      const size = n * cell;
      const svg = svgEl("svg", { width: size + 4, height: size + 4, viewBox: `-2 -2 ${size + 4} ${size + 4}`, class: `cnx-grid cnx-${name}`, role: "group", "aria-label": caption });
      svg.setAttribute("tabindex", "-1"); // Tab goes to the one cell that holds the grid's stop
      const cells = [];
      const label = this.cellLabel(name);
      const [fr, fq] = this.focusAt[name].map((x) => Math.min(x, n - 1));
      this.focusAt[name] = [fr, fq];
      for (let r = 0; r < n; r++) {
        for (let q = 0; q < n; q++) {
          const k = name === "kernel" ? (kind(r) === "tap" && kind(q) === "tap" ? "tap" : "hole") : worse(kind(r), kind(q));
          const rect = svgEl("rect", { x: q * cell + 1, y: r * cell + 1, width: cell - 2, height: cell - 2, rx: 2, class: `cnx-cell ${k}`, "data-r": r, "data-q": q, "data-grid": name });
          if (name !== "kernel") {
            rect.setAttribute("tabindex", r === fr && q === fq ? "0" : "-1");
            rect.setAttribute("role", "button");
            rect.setAttribute("aria-label", label(r, q, k));
          }
          cells.push(rect);
          svg.append(rect);
        }
      }
      if (name === "input" && this.c.op !== "transposed") {
        this.windowBox = svgEl("rect", { class: "cnx-window", "pointer-events": "none", rx: 3 });
        svg.append(this.windowBox);
      }
      const ring = svgEl("rect", { class: "cnx-focus-ring", "pointer-events": "none", width: cell + 2, height: cell + 2, rx: 4, visibility: "hidden" });
      svg.append(ring);
      this.panels[name] = { svg, cells, n, ring };
      if (name !== "kernel") this.wire(svg, name, n, ring);
      const box = el("div", { class: "cnx-panel", style: `--cnx-panel-width: ${Math.max(size + 4, PANEL_MIN)}px` }, [el("div", { class: "cnx-caption", text: caption }), el("div", { class: "cnx-scroll" }, [svg])]);
      return box;
    }

    cellLabel(name) {
      const c = this.c;
      return (r, q, kind) => {
        if (name === "input") {
          const off = c.op === "transposed" ? 0 : c.padding;
          const what = kind === "in" ? "input" : kind === "pad" ? "padding" : "past the padding";
          return `${what} row ${minus(r - off)}, column ${minus(q - off)}`;
        }
        const off = c.op === "transposed" ? c.padding : 0;
        const what = kind === "crop" ? "cropped position" : kind === "bias" ? "output (bias only)" : "output";
        return `${what} row ${minus(r - off)}, column ${minus(q - off)}`;
      };
    }

    wire(svg, name, n, ring) {
      const cellOf = (target) => (target && target.dataset && target.dataset.grid === name ? target : null);
      svg.addEventListener("pointerover", (event) => {
        const rect = cellOf(event.target);
        if (rect && event.pointerType === "mouse") this.setHover({ grid: name, r: +rect.dataset.r, q: +rect.dataset.q });
      });
      svg.addEventListener("pointerleave", () => this.setHover(null));
      svg.addEventListener("click", (event) => {
        const rect = cellOf(event.target);
        if (!rect) return;
        const sel = { grid: name, r: +rect.dataset.r, q: +rect.dataset.q };
        const same = this.selection && this.selection.grid === name && this.selection.r === sel.r && this.selection.q === sel.q;
        this.selection = same ? null : sel;
        this.focusAt[name] = [sel.r, sel.q];
        this.paint();
      });
      svg.addEventListener("focusin", (event) => {
        const rect = cellOf(event.target);
        if (!rect) return;
        const r = +rect.dataset.r, q = +rect.dataset.q;
        this.focusAt[name] = [r, q];
        for (const other of this.panels[name].cells) other.setAttribute("tabindex", other === rect ? "0" : "-1");
        // a keyboard focus shows a ring and what the cell relates to; a click or tap pins instead
        if (!rect.matches(":focus-visible")) return;
        ring.setAttribute("x", q * this.cell - 1);
        ring.setAttribute("y", r * this.cell - 1);
        ring.setAttribute("visibility", "visible");
        this.setHover({ grid: name, r, q });
      });
      svg.addEventListener("focusout", () => {
        ring.setAttribute("visibility", "hidden");
        this.setHover(null);
      });
      svg.addEventListener("keydown", (event) => {
        const rect = cellOf(event.target);
        if (!rect) return;
        let r = +rect.dataset.r, q = +rect.dataset.q;
        const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
        if (event.key in moves) {
          r = Math.max(0, Math.min(n - 1, r + moves[event.key][0]));
          q = Math.max(0, Math.min(n - 1, q + moves[event.key][1]));
        } else if (event.key === "Home") {
          q = 0;
        } else if (event.key === "End") {
          q = n - 1;
        } else if (event.key === "Enter" || event.key === " ") {
          rect.dispatchEvent(new MouseEvent("click", { bubbles: true }));
          event.preventDefault();
          return;
        } else if (event.key === "Escape") {
          this.selection = null;
          this.paint();
          return;
        } else {
          return;
        }
        event.preventDefault();
        this.panels[name].cells[r * n + q].focus();
      });
    }

    setHover(sel) {
      this.hover = sel;
      this.paint();
    }

    /** Colour the cells that the current (hovered, else pinned) selection relates to. */
    paint() {
      if (!this.c || !this.panels) return;
      const sel = this.hover || this.selection;
      const rel = relations(this.c, this.o, sel);
      const sets = { input: rel.input, output: rel.output, kernel: rel.taps };
      for (const [name, panel] of Object.entries(this.panels)) {
        const d = name === "kernel" ? this.c.dilation : 1;
        for (const rect of panel.cells) {
          const r = +rect.dataset.r, q = +rect.dataset.q;
          const key = name === "kernel" ? (r % d === 0 && q % d === 0 ? `${r / d},${q / d}` : "") : `${r},${q}`;
          rect.classList.toggle("hit", Boolean(sel) && sets[name].has(key));
          const isSel = Boolean(sel) && sel.grid === name && sel.r === r && sel.q === q;
          rect.classList.toggle("selected", isSel);
          if (name !== "kernel") {
            const pinned = Boolean(this.selection) && this.selection.grid === name && this.selection.r === r && this.selection.q === q;
            rect.setAttribute("aria-pressed", String(pinned));
          }
        }
      }
      if (this.windowBox) {
        if (rel.window) {
          const span = this.c.dilation * (this.c.kernel - 1) + 1;
          this.windowBox.setAttribute("x", rel.window.q * this.cell);
          this.windowBox.setAttribute("y", rel.window.r * this.cell);
          this.windowBox.setAttribute("width", span * this.cell);
          this.windowBox.setAttribute("height", span * this.cell);
          this.windowBox.setAttribute("visibility", "visible");
        } else {
          this.windowBox.setAttribute("visibility", "hidden");
        }
      }
      this.status.textContent = statusText(this.state, this.c, this.o, sel);
    }
  }

  function start() {
    for (const root of document.querySelectorAll(".convnotes-explorer")) {
      if (!root.cnxExplorer) root.cnxExplorer = new Explorer(root);
    }
  }

  window.convnotesExplorer = {
    outputSize,
    reads,
    readBy,
    presets: Object.fromEntries(Object.entries(PRESETS).map(([name, p]) => [name, apiConfig({ ...DEFAULT_STATE, ...p.state })])),
    start,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
