/**
 * A batch comparison as terminal text and as Markdown: tables by cell and
 * by factor, each figure a mean with its 95% interval, then the
 * differences larger than their intervals.
 *
 * @module
 */
import type { BatchComparison, BatchFigure } from "../batch_comparison.ts";
import { sanitizeText } from "../../base/sanitize.ts";
import { DASH, escapeMarkdown, markdownTable, textTable } from "../../view/text_table.ts";

/** Column title and number format of each figure. */
export const FIGURE_LABELS: Record<BatchFigure, { title: string; digits: number; percent?: true }> =
  {
    tokens_per_second: { title: "tok/s", digits: 1 },
    ttft_ms: { title: "TTFT ms", digits: 1 },
    turns: { title: "turns", digits: 1 },
    completion_rate: { title: "completed", digits: 0, percent: true },
    loop_rate: { title: "loop", digits: 0, percent: true },
    stale_rate: { title: "stale", digits: 0, percent: true },
    distinct_2: { title: "distinct-2", digits: 2 },
    repetition: { title: "repetition", digits: 2 },
    sentiment: { title: "sentiment", digits: 2 },
    drift: { title: "drift", digits: 2 },
  };

/** Figures of the first table (speed and outcome) and the second (the dialogue). */
const TABLES: BatchFigure[][] = [
  ["tokens_per_second", "ttft_ms", "turns", "completion_rate", "loop_rate", "stale_rate"],
  ["distinct_2", "repetition", "sentiment", "drift"],
];

type Ci = BatchComparison["cells"][number]["figures"][string];

/**
 * A number of a figure: `42.1`, `67%`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatFigure } from "./batch_report.ts";
 * strictEqual(formatFigure("completion_rate", 0.666), "67%");
 * ```
 */
export function formatFigure(figure: BatchFigure, value: number): string {
  const f = FIGURE_LABELS[figure];
  return f.percent ? `${_fixed(value * 100, 0)}%` : _fixed(value, f.digits);
}

/**
 * A mean and its interval: `42.1 [39.0, 45.3]`; the mean alone for one run.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatInterval } from "./batch_report.ts";
 * strictEqual(formatInterval("turns", { n: 3, mean: 4, low: 3.5, high: 4.5 }), "4.0 [3.5, 4.5]");
 * ```
 */
export function formatInterval(figure: BatchFigure, ci: Ci): string {
  if (!ci) return DASH;
  const mean = formatFigure(figure, ci.mean);
  if (ci.low === null || ci.high === null) return mean;
  return `${mean} [${formatFigure(figure, ci.low)}, ${formatFigure(figure, ci.high)}]`;
}

/** The comparison for a terminal. */
export function formatBatchText(c: BatchComparison): string {
  return _format(c, (rows, right) => textTable(rows, right), (s) => sanitizeText(s), false);
}

/** The comparison as Markdown. */
export function formatBatchMarkdown(c: BatchComparison): string {
  return _format(
    c,
    (rows, right) => markdownTable(rows, right),
    (s) => escapeMarkdown(sanitizeText(s)),
    true,
  );
}

/** The rows of one group table: header, then a row per group. */
export function groupRows(
  groups: readonly { name: string; runs: number; figures: Record<string, Ci> }[],
  figures: readonly BatchFigure[],
  first: string,
): string[][] {
  return [
    [first, "runs", ...figures.map((f) => FIGURE_LABELS[f].title)],
    ...groups.map((g) => [
      g.name,
      String(g.runs),
      ...figures.map((f) => formatInterval(f, g.figures[f] ?? null)),
    ]),
  ];
}

/** One line per difference larger than its interval. */
export function differenceLines(c: BatchComparison): string[] {
  return c.differences.filter((d) => d.larger_than_interval).map((d) => {
    const figure = d.figure as BatchFigure;
    const ci = d.difference;
    const sign = ci.mean > 0 ? "+" : "";
    const pp = FIGURE_LABELS[figure].percent ? " pts" : "";
    const scale = (v: number) =>
      FIGURE_LABELS[figure].percent ? _fixed(v * 100, 0) : _fixed(v, FIGURE_LABELS[figure].digits);
    return `${d.factor}: ${d.b} vs ${d.a}: ${FIGURE_LABELS[figure].title} ${sign}${
      scale(ci.mean)
    }${pp} [${scale(ci.low!)}, ${scale(ci.high!)}]${
      d.intervals_overlap === false ? " (the groups' intervals do not overlap either)" : ""
    }`;
  });
}

function _format(
  c: BatchComparison,
  table: (rows: string[][], right: boolean[]) => string[],
  esc: (s: string) => string,
  markdown: boolean,
): string {
  const h = (text: string) => markdown ? `## ${text}` : text;
  const out: string[] = [
    markdown ? `# Batch ${esc(c.batch_id)}` : `Batch ${c.batch_id}`,
    "",
    `${c.runs} runs in ${c.cells.length} cells; means with 95% percentile bootstrap intervals (${
      c.resamples.toLocaleString("en-US")
    } resamples over the runs of each group).`,
    "",
  ];
  const right = (n: number) => [false, true, ...Array(n).fill(true)];
  const cellName = (cell: BatchComparison["cells"][number]) =>
    `${cell.cell} ${
      c.factors.map((f) => cell.levels[f] ?? DASH).join(" · ") ||
      Object.values(cell.levels).filter((v) => v !== null).join(" · ")
    }`;
  out.push(h("By cell"), "");
  for (const figures of TABLES) {
    const groups = c.cells.map((cell) => ({ ...cell, name: esc(cellName(cell)) }));
    out.push(...table(groupRows(groups, figures, "cell"), right(figures.length)), "");
  }
  for (const factor of c.by_factor) {
    out.push(h(`By ${factor.factor}`), "");
    for (const figures of TABLES) {
      const groups = factor.levels.map((l) => ({ ...l, name: esc(l.level) }));
      out.push(...table(groupRows(groups, figures, factor.factor), right(figures.length)), "");
    }
  }
  out.push(h("Differences larger than their intervals"), "");
  const lines = differenceLines(c);
  if (lines.length === 0) {
    out.push(
      c.differences.length === 0
        ? "Nothing to compare: one group, or fewer than two runs per group."
        : `None of the ${c.differences.length} differences: every 95% interval of a difference includes 0.`,
    );
  } else {
    out.push(
      "The 95% bootstrap interval of the difference (b − a) excludes 0:",
      ...lines.map((l) => (markdown ? `- ${esc(l)}` : `  ${l}`)),
    );
  }
  return out.join("\n") + "\n";
}

/** `toFixed` without a minus sign on a value that rounds to 0. */
function _fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}
