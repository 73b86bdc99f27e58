/**
 * Small inline SVG charts (lines and bars over turns) for the HTML report:
 * no script, no external resource, so the report opens offline and under a
 * strict Content-Security-Policy. Every label is HTML-escaped.
 *
 * @module
 */

/** One line of a line chart; a null value leaves a gap. */
export interface ChartSeries {
  name: string;
  /** A CSS colour. */
  color: string;
  points: readonly { x: number; y: number | null }[];
}

/** What every chart takes. */
export interface ChartOptions {
  /** Element id, e.g. `chart-tokens-per-second`. */
  id: string;
  title: string;
  /** Unit shown in point tooltips, e.g. "tok/s". */
  unit: string;
  /** Fixed range of the y axis; by default 0 (or the minimum, if negative) to the maximum. */
  yMin?: number;
  yMax?: number;
}

/** One bar of a bar chart. */
export interface Bar {
  x: number;
  y: number;
  color: string;
  /** Tooltip text. */
  label: string;
}

const W = 640;
const H = 240;
const PAD = { left: 48, right: 16, top: 28, bottom: 30 };

/**
 * Escapes text for HTML and SVG content and attribute values.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { escapeHtml } from "./svg_chart.ts";
 * strictEqual(escapeHtml(`<b a="1">&'`), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => _ENTITIES[c] ?? c);
}

const _ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * A line chart over turns, one polyline and a dot per point for each series,
 * with a legend. Dots carry a `<title>` tooltip.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { lineChart } from "./svg_chart.ts";
 * const svg = lineChart([{ name: "agent 1", color: "#2563eb", points: [{ x: 1, y: 40 }, { x: 3, y: 45 }] }],
 *   { id: "chart-speed", title: "Tokens/s", unit: "tok/s" });
 * ok(svg.startsWith('<svg id="chart-speed"'));
 * ```
 */
export function lineChart(series: readonly ChartSeries[], options: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const ys = all.flatMap((p) => p.y === null ? [] : [p.y]);
  const frame = _frame(all.map((p) => p.x), ys, options);
  const body = series.map((s) => {
    const segments: string[][] = [[]];
    for (const p of s.points) {
      if (p.y === null) segments.push([]);
      else segments.at(-1)?.push(`${frame.x(p.x).toFixed(1)},${frame.y(p.y).toFixed(1)}`);
    }
    const lines = segments.filter((seg) => seg.length > 1).map((seg) =>
      `<polyline class="series" fill="none" stroke="${s.color}" stroke-width="2" points="${
        seg.join(" ")
      }"/>`
    );
    const dots = s.points.flatMap((p) =>
      p.y === null ? [] : [
        `<circle class="point" cx="${frame.x(p.x).toFixed(1)}" cy="${
          frame.y(p.y).toFixed(1)
        }" r="3" fill="${s.color}"><title>${escapeHtml(s.name)}, turn ${p.x}: ${_num(p.y)} ${
          escapeHtml(options.unit)
        }</title></circle>`,
      ]
    );
    return [...lines, ...dots].join("");
  }).join("");
  const legend = series.map((s, i) =>
    `<g transform="translate(${PAD.left + 8 + i * 150},${
      PAD.top - 14
    })"><rect width="10" height="10" fill="${s.color}"/><text x="14" y="9">${
      escapeHtml(s.name)
    }</text></g>`
  ).join("");
  return _svg(options, frame.axes + body + legend);
}

/**
 * A bar chart over turns, one bar per value, each with a `<title>` tooltip.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { barChart } from "./svg_chart.ts";
 * const svg = barChart([{ x: 1, y: 12, color: "#2563eb", label: "turn 1: 12 words" }],
 *   { id: "chart-lengths", title: "Words per turn", unit: "words" });
 * ok(svg.includes('class="bar"'));
 * ```
 */
export function barChart(bars: readonly Bar[], options: ChartOptions): string {
  const frame = _frame(bars.map((b) => b.x), bars.map((b) => b.y), options);
  const step = bars.length > 1 ? (W - PAD.left - PAD.right) / (bars.length + 1) : 40;
  const width = Math.max(1, Math.min(30, step * 0.7));
  const zero = frame.y(Math.max(frame.lo, 0));
  const body = bars.map((b) => {
    const top = frame.y(b.y);
    return `<rect class="bar" x="${(frame.x(b.x) - width / 2).toFixed(1)}" y="${
      Math.min(top, zero).toFixed(1)
    }" width="${width.toFixed(1)}" height="${
      Math.max(1, Math.abs(zero - top)).toFixed(1)
    }" fill="${b.color}"><title>${escapeHtml(b.label)}</title></rect>`;
  }).join("");
  return _svg(options, frame.axes + body);
}

function _svg(options: ChartOptions, inner: string): string {
  return `<svg id="${escapeHtml(options.id)}" class="chart" xmlns="http://www.w3.org/2000/svg" ` +
    `viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${
      escapeHtml(options.title)
    }"><title>${escapeHtml(options.title)}</title>${inner}</svg>`;
}

/** Scales and axes for values `xs` × `ys`. */
function _frame(xs: readonly number[], ys: readonly number[], options: ChartOptions) {
  const xLo = xs.length === 0 ? 1 : Math.min(...xs);
  const xHi = xs.length === 0 ? 1 : Math.max(...xs);
  const lo = options.yMin ?? Math.min(0, ...ys);
  let hi = options.yMax ?? _niceCeil(Math.max(1, ...ys));
  if (hi <= lo) hi = lo + 1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (v: number) =>
    PAD.left + (xHi === xLo ? plotW / 2 : ((v - xLo) / (xHi - xLo)) * (plotW - 20) + 10);
  const y = (v: number) =>
    PAD.top + plotH - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * plotH;
  const ticks = [lo, (lo + hi) / 2, hi].map((v) =>
    `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${
      y(v).toFixed(1)
    }"/><text class="tick" x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${
      _num(v)
    }</text>`
  );
  const every = Math.max(1, Math.ceil((xHi - xLo + 1) / 12));
  const xTicks: string[] = [];
  for (let v = xLo; v <= xHi && xs.length > 0; v += every) {
    xTicks.push(
      `<text class="tick" x="${x(v).toFixed(1)}" y="${
        H - PAD.bottom + 16
      }" text-anchor="middle">${v}</text>`,
    );
  }
  const zeroLine = lo < 0 && hi > 0
    ? `<line class="zero" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0).toFixed(1)}" y2="${
      y(0).toFixed(1)
    }"/>`
    : "";
  const axes = ticks.join("") + zeroLine + xTicks.join("") +
    `<text class="axis" x="${W - PAD.right}" y="${H - 4}" text-anchor="end">turn</text>`;
  return { x, y, lo, hi, axes };
}

/** The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `v`, so axis labels read well. */
function _niceCeil(v: number): number {
  const scale = 10 ** Math.floor(Math.log10(v));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * scale >= v) ?? 10;
  return step * scale;
}

function _num(v: number): string {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
}
