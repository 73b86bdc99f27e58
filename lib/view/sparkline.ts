/**
 * One-line charts of block characters for terminal and Markdown reports.
 *
 * @module
 */

const BLOCKS = "▁▂▃▄▅▆▇█";
/** Drawn for a value that was not measured. */
export const MISSING = "·";

/** Options of {@linkcode sparkline}. */
export interface SparklineOptions {
  /**
   * Bottom of the scale. By default the smallest value, so the line shows
   * the variation; give a fixed range (e.g. −1..1 for sentiment) to make
   * lines comparable.
   */
  lo?: number;
  /** Top of the scale; by default the largest value. */
  hi?: number;
}

/**
 * A sparkline with one block per value, `·` for a null or non-finite one.
 * When all values are equal (and no range is given) every block is a
 * middle one.
 *
 * @example Speeds with one turn unreported
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sparkline } from "./sparkline.ts";
 * strictEqual(sparkline([30, 40, null, 50]), "▁▅·█");
 * strictEqual(sparkline([-1, 0, 1], { lo: -1, hi: 1 }), "▁▅█");
 * ```
 */
export function sparkline(
  values: readonly (number | null)[],
  options: SparklineOptions = {},
): string {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = options.lo ?? Math.min(...known);
  const hi = options.hi ?? Math.max(...known);
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return MISSING;
    const t = hi === lo ? 3 / 7 : (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo);
    return BLOCKS[Math.round(t * 7)] ?? "▄";
  }).join("");
}
