/**
 * Aligned plain-text and Markdown tables, and the number formats the
 * reports share.
 *
 * @module
 */
import { textColumns } from "./char_columns.ts";

/** A dash shown for a figure that was not measured. */
export const DASH = "–";

/**
 * Pads every cell to its column's width (at least `least`), right-aligning
 * the columns flagged in `right`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { alignRows } from "./text_table.ts";
 * deepStrictEqual(alignRows([["a", "1"], ["bb", "22"]], [false, true]), [
 *   ["a ", " 1"],
 *   ["bb", "22"],
 * ]);
 * ```
 */
export function alignRows(rows: string[][], right: boolean[], least = 0): string[][] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? least, displayWidth(cell)));
  }
  return rows.map((row) =>
    row.map((cell, i) => {
      const gap = " ".repeat((widths[i] ?? 0) - displayWidth(cell));
      return right[i] ? gap + cell : cell + gap;
    })
  );
}

/**
 * A plain table: columns two spaces apart, trailing blanks trimmed.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { textTable } from "./text_table.ts";
 * deepStrictEqual(textTable([["k", "v"], ["key", "value"]], [false, false]), ["k    v", "key  value"]);
 * ```
 */
export function textTable(rows: string[][], right: boolean[]): string[] {
  return alignRows(rows, right).map((r) => r.join("  ").trimEnd());
}

/**
 * A Markdown table; the first row is the header. Cells must be escaped
 * already (see {@linkcode escapeMarkdown}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { markdownTable } from "./text_table.ts";
 * deepStrictEqual(markdownTable([["A", "B"], ["x", "1"]], [false, true]), [
 *   "| A   |   B |",
 *   "| :-- | --: |",
 *   "| x   |   1 |",
 * ]);
 * ```
 */
export function markdownTable(rows: string[][], right: boolean[]): string[] {
  // A delimiter cell needs three characters, alignment colon included.
  const [header = [], ...body] = alignRows(rows, right, 3);
  const rule = header.map((cell, i) => {
    const dashes = "-".repeat(displayWidth(cell) - 1);
    return right[i] ? `${dashes}:` : `:${dashes}`;
  });
  return [header, rule, ...body].map((r) => `| ${r.join(" | ")} |`);
}

/**
 * Backslash-escapes the characters that would make Markdown of a text.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { escapeMarkdown } from "./text_table.ts";
 * strictEqual(escapeMarkdown("a|b*"), "a\\|b\\*");
 * ```
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, "\\$&");
}

/** Display width in terminal columns (wide characters count two, combining marks none). */
export function displayWidth(text: string): number {
  return textColumns(text);
}

/**
 * An integer with thousands separators.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatInt } from "./text_table.ts";
 * strictEqual(formatInt(12345.6), "12,346");
 * ```
 */
export function formatInt(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A share as a whole percentage.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatPercent } from "./text_table.ts";
 * strictEqual(formatPercent(0.256), "26%");
 * ```
 */
export function formatPercent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/**
 * A duration for people: `850 ms`, `12.5 s`, `4m 05s`, `2h 10m`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatMs } from "./text_table.ts";
 * strictEqual(formatMs(245_000), "4m 05s");
 * ```
 */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return s < 3600
    ? `${Math.floor(s / 60)}m ${two(s % 60)}s`
    : `${Math.floor(s / 3600)}h ${two(Math.floor(s / 60) % 60)}m`;
}

/**
 * A signed figure: `+0.42`, `-0.10`, `0.00`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatSigned } from "./text_table.ts";
 * strictEqual(formatSigned(0.4219), "+0.42");
 * ```
 */
export function formatSigned(value: number, digits = 2): string {
  const text = value.toFixed(digits);
  return value > 0 && Number(text) !== 0
    ? `+${text}`
    : Number(text) === 0
    ? (0).toFixed(digits)
    : text;
}
