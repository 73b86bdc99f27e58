/**
 * A batch comparison as one self-contained HTML page: per figure, an
 * interval chart (each cell's mean as a dot, its 95% interval as a bar),
 * the tables by cell and by factor, and the differences larger than their
 * intervals. Inline SVG, no script; every text HTML-escaped.
 *
 * @module
 */
import type { BatchComparison, BatchFigure } from "../batch_comparison.ts";
import { BATCH_FIGURES } from "../batch_comparison.ts";
import { escapeHtml } from "./svg_chart.ts";
import { REPORT_CSP } from "./html_report.ts";
import { sanitizeText } from "../../base/sanitize.ts";
import { differenceLines, FIGURE_LABELS, formatFigure, groupRows } from "./batch_report.ts";
import { DASH } from "../../view/text_table.ts";

const CSP = REPORT_CSP;

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2937}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.2rem .7rem;text-align:left;border-bottom:1px solid #f1f5f9}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}
svg .label,svg .tick{font-size:11px;fill:#475569}svg .bar{stroke:#2563eb;stroke-width:3}svg .dot{fill:#1d4ed8}
`;

/**
 * Renders the comparison as a complete HTML document.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("batch.html", formatBatchHtml(comparison));
 * ```
 */
export function formatBatchHtml(c: BatchComparison): string {
  const id = _esc(c.batch_id);
  const cellName = (cell: BatchComparison["cells"][number]) =>
    `${cell.cell} ${c.factors.map((f) => cell.levels[f] ?? DASH).join(" · ")}`.trim();
  const cells = c.cells.map((cell) => ({ ...cell, name: cellName(cell) }));
  const charts = BATCH_FIGURES.map((figure) =>
    intervalChart(
      cells.map((cell) => ({ name: cell.name, ci: cell.figures[figure] ?? null })),
      figure,
    )
  );
  const tables = [
    `<h2>By cell</h2>${_table(groupRows(cells, BATCH_FIGURES, "cell"))}`,
    ...c.by_factor.map((f) =>
      `<h2>By ${_esc(f.factor)}</h2>${
        _table(groupRows(f.levels.map((l) => ({ ...l, name: l.level })), BATCH_FIGURES, f.factor))
      }`
    ),
  ];
  const lines = differenceLines(c);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="DialogueLLM analyze --batch (schema_version ${c.schema_version})">
<title>Batch ${id}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Batch ${id}</h1>
<p>${c.runs} runs in ${c.cells.length} cells. Means with 95% percentile bootstrap intervals (${c.resamples} resamples over the runs of each group).</p>
<h2>Charts</h2>
<div class="charts">
${charts.map((svg) => `<figure>${svg}</figure>`).join("\n")}
</div>
${tables.join("\n")}
<h2>Differences larger than their intervals</h2>
${
    lines.length === 0
      ? "<p>None: every 95% interval of a difference includes 0.</p>"
      : `<ul id="differences">${lines.map((l) => `<li>${_esc(l)}</li>`).join("")}</ul>`
  }
<footer>A difference is larger than its interval when the 95% bootstrap interval of the difference of the means excludes 0. The JSON schema is documented in docs/analysis-schema.md.</footer>
</body>
</html>
`;
}

/**
 * An SVG chart of one figure: a row per group, its mean as a dot and its
 * interval as a bar.
 */
export function intervalChart(
  rows: readonly { name: string; ci: BatchComparison["cells"][number]["figures"][string] }[],
  figure: BatchFigure,
): string {
  const title = FIGURE_LABELS[figure].title;
  const row = 22, left = 200, width = 520, top = 26;
  const height = top + rows.length * row + 24;
  const xs = rows.flatMap((r) =>
    r.ci ? [r.ci.mean, r.ci.low ?? r.ci.mean, r.ci.high ?? r.ci.mean] : []
  );
  const lo = Math.min(0, ...xs), hi = Math.max(lo + 1e-9, ...xs);
  const x = (v: number) => left + ((v - lo) / (hi - lo || 1)) * (width - left - 20);
  const body = rows.map((r, i) => {
    const y = top + i * row + row / 2;
    const label = `<text class="label" x="${left - 8}" y="${y + 4}" text-anchor="end">${
      _esc(r.name.slice(0, 36))
    }</text>`;
    if (!r.ci) return label;
    const tip = `${r.name}: ${formatFigure(figure, r.ci.mean)}${
      r.ci.low === null
        ? ""
        : ` [${formatFigure(figure, r.ci.low)}, ${formatFigure(figure, r.ci.high!)}]`
    } (n=${r.ci.n})`;
    const bar = r.ci.low === null
      ? ""
      : `<line class="bar" x1="${x(r.ci.low).toFixed(1)}" x2="${
        x(r.ci.high!).toFixed(1)
      }" y1="${y}" y2="${y}"/>`;
    return `${label}<g>${bar}<circle class="dot" cx="${
      x(r.ci.mean).toFixed(1)
    }" cy="${y}" r="4"/><title>${_esc(tip)}</title></g>`;
  }).join("");
  const axis = [lo, (lo + hi) / 2, hi].map((v) =>
    `<text class="tick" x="${x(v).toFixed(1)}" y="${height - 6}" text-anchor="middle">${
      formatFigure(figure, v)
    }</text>`
  ).join("");
  const id = `chart-${figure.replaceAll("_", "-")}`;
  return `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
    _esc(title)
  }"><title>${_esc(title)}</title><text class="label" x="${left}" y="16">${
    _esc(title)
  } (mean, 95% interval)</text>${body}${axis}</svg>`;
}

function _table(rows: string[][]): string {
  const [head = [], ...body] = rows;
  return `<table><thead><tr>${head.map((h) => `<th>${_esc(h)}</th>`).join("")}</tr></thead><tbody>${
    body.map((r) =>
      `<tr>${r.map((v, i) => `<td${i > 0 ? ' class="num"' : ""}>${_esc(v)}</td>`).join("")}</tr>`
    ).join("")
  }</tbody></table>`;
}

function _esc(text: string): string {
  return escapeHtml(sanitizeText(text));
}
