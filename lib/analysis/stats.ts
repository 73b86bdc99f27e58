/**
 * Small pure statistics helpers for the run analyzer. Every function accepts
 * an empty list and answers 0 rather than `NaN`, because an analysis report
 * must stay printable and JSON-safe when a metric was never measured.
 * Non-finite inputs are ignored for the same reason.
 *
 * @module
 */
import { z } from "zod";

const figure = z.number().finite();

/** Distribution of one metric; every field is 0 when no value was measured. */
export const Summary = z.object({
  /** How many values were measured. */
  n: z.number().int().nonnegative(),
  mean: figure,
  p50: figure,
  p95: figure,
  min: figure,
  max: figure,
  /** Population standard deviation. */
  stdev: figure,
});
/** Distribution of one metric. */
export type Summary = z.infer<typeof Summary>;

function _finite(values: readonly number[]): number[] {
  return values.filter(Number.isFinite);
}

/**
 * Sum of the finite values.
 *
 * @example Adding up token counts
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sum } from "./stats.ts";
 * strictEqual(sum([1, 2, 3]), 6);
 * ```
 */
export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of _finite(values)) total += v;
  return total;
}

/**
 * Arithmetic mean of the finite values; 0 for an empty list.
 *
 * @example Mean speed
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { mean } from "./stats.ts";
 * strictEqual(mean([10, 20]), 15);
 * ```
 */
export function mean(values: readonly number[]): number {
  const xs = _finite(values);
  return xs.length === 0 ? 0 : sum(xs) / xs.length;
}

/**
 * Population standard deviation (divides by n, not n − 1): a run is the whole
 * population we report on, not a sample of a larger one. 0 for an empty list.
 *
 * @example Spread of reply lengths
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { stdev } from "./stats.ts";
 * strictEqual(stdev([2, 4, 4, 4, 5, 5, 7, 9]), 2);
 * ```
 */
export function stdev(values: readonly number[]): number {
  const xs = _finite(values);
  if (xs.length === 0) return 0;
  const m = mean(xs);
  return Math.sqrt(sum(xs.map((x) => (x - m) ** 2)) / xs.length);
}

/**
 * Smallest finite value; 0 for an empty list.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { min } from "./stats.ts";
 * strictEqual(min([3, 1, 2]), 1);
 * ```
 */
export function min(values: readonly number[]): number {
  const xs = _finite(values);
  return xs.length === 0 ? 0 : xs.reduce((a, b) => (b < a ? b : a));
}

/**
 * Largest finite value; 0 for an empty list.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { max } from "./stats.ts";
 * strictEqual(max([3, 1, 2]), 3);
 * ```
 */
export function max(values: readonly number[]): number {
  const xs = _finite(values);
  return xs.length === 0 ? 0 : xs.reduce((a, b) => (b > a ? b : a));
}

/**
 * The `p`-th percentile (0–100) with linear interpolation between the two
 * nearest ranks (the "R-7" rule used by NumPy and spreadsheets), so the
 * median of an even-sized list is the mean of its two middle values.
 * 0 for an empty list.
 *
 * @throws {RangeError} When `p` is not a number from 0 to 100.
 *
 * @example Median and 95th percentile
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { percentile, round } from "./stats.ts";
 * strictEqual(percentile([1, 2, 3, 4], 50), 2.5);
 * // Rank 0.95 × 3 = 2.85: 85 % of the way from 3 to 4.
 * strictEqual(round(percentile([1, 2, 3, 4], 95), 2), 3.85);
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) {
    throw new RangeError(
      `Cannot compute percentile as p must be from 0 to 100: current value is ${p}`,
    );
  }
  const xs = _finite(values).sort((a, b) => a - b);
  if (xs.length === 0) return 0;
  const rank = (p / 100) * (xs.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = xs[lo] ?? 0;
  const b = xs[hi] ?? a;
  return a + (b - a) * (rank - lo);
}

/**
 * Rounds to a fixed number of decimals, mapping non-finite input to 0, so
 * figures in a JSON report stay readable and comparable between runs.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { round } from "./stats.ts";
 * strictEqual(round(2 / 3), 0.667);
 * strictEqual(round(2 / 3, 1), 0.7);
 * ```
 */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return 0;
  const factor = 10 ** digits;
  const rounded = Math.round(value * factor) / factor;
  return Object.is(rounded, -0) ? 0 : rounded;
}

/**
 * Count, mean, median, 95th percentile, extremes and population standard
 * deviation in one pass of the helpers above; all 0 for an empty list.
 * Values are not rounded.
 *
 * @example Summarising speeds
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { summarize } from "./stats.ts";
 * strictEqual(summarize([10, 20, 30]).p50, 20);
 * ```
 */
export function summarize(values: readonly number[]): Summary {
  const xs = _finite(values);
  return {
    n: xs.length,
    mean: mean(xs),
    p50: percentile(xs, 50),
    p95: percentile(xs, 95),
    min: min(xs),
    max: max(xs),
    stdev: stdev(xs),
  };
}

/**
 * Least-squares slope of `ys` against `xs` (default: 0, 1, 2, …): how much a
 * figure grows per step, e.g. prompt tokens per turn. Pairs with a
 * non-finite member are skipped; 0 when fewer than two points remain or all
 * x are equal.
 *
 * @throws {RangeError} When `xs` is given with a different length than `ys`.
 *
 * @example Prompt tokens growing by 50 per turn
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { slope } from "./stats.ts";
 * strictEqual(slope([100, 150, 200]), 50);
 * strictEqual(slope([1, 3], [10, 20]), 0.2);
 * ```
 */
export function slope(ys: readonly number[], xs?: readonly number[]): number {
  if (xs !== undefined && xs.length !== ys.length) {
    throw new RangeError(
      `Cannot compute a slope as xs and ys differ in length: current lengths are ${xs.length} and ${ys.length}`,
    );
  }
  const points = ys.flatMap((y, i) => {
    const x = xs?.[i] ?? i;
    return Number.isFinite(x) && Number.isFinite(y) ? [[x, y] as const] : [];
  });
  if (points.length < 2) return 0;
  const mx = mean(points.map(([x]) => x));
  const my = mean(points.map(([, y]) => y));
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
