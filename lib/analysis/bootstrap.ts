/**
 * Percentile bootstrap confidence intervals: of a mean, and of the
 * difference of two independent groups' means. Seeded (a small PRNG, so the
 * same data and seed give the same interval on every machine) and pure.
 *
 * The percentile method makes no assumption about the distribution of the
 * runs (tokens/s, distinct-2, a 0/1 completion flag), which suits a handful
 * of runs per cell; with very few runs it is too narrow, as every interval
 * is, and with one run there is no interval at all.
 *
 * @module
 */

/** A mean with its confidence interval; `low`/`high` are null below {@linkcode BOOTSTRAP_MIN_N} values. */
export interface Interval {
  n: number;
  mean: number;
  low: number | null;
  high: number | null;
}

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /** Resamples drawn. @default 2000 */
  resamples?: number;
  /** Coverage of the interval. @default 0.95 */
  level?: number;
  /** Seed of the generator. @default 1 */
  seed?: number;
}

/** Default resamples. */
export const BOOTSTRAP_RESAMPLES = 2000;

/**
 * Fewest values an interval is given for: with two, every resampled mean
 * lies between them and the "interval" is little more than their range.
 */
export const BOOTSTRAP_MIN_N = 3;

/**
 * A seeded uniform generator on [0, 1) (mulberry32: 32-bit state, fast, and
 * good enough for resampling indices).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { seededRandom } from "./bootstrap.ts";
 * const a = seededRandom(7), b = seededRandom(7);
 * strictEqual(a(), b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 32-bit seed from text (FNV-1a), so each figure of each group gets its
 * own stream whatever order they are computed in.
 */
export function seedFromText(text: string, base = 1): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The mean of `values` and its percentile bootstrap interval; null when
 * there are no values.
 *
 * @example
 * ```ts
 * import { ok, strictEqual } from "node:assert/strict";
 * import { bootstrapMean } from "./bootstrap.ts";
 * const ci = bootstrapMean([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])!;
 * strictEqual(ci.mean, 5.5);
 * ok(ci.low! < 5.5 && 5.5 < ci.high!);
 * ```
 */
export function bootstrapMean(
  values: readonly number[],
  options: BootstrapOptions = {},
): Interval | null {
  const n = values.length;
  if (n === 0) return null;
  const mean = _mean(values);
  if (n < BOOTSTRAP_MIN_N) return { n, mean, low: null, high: null };
  const random = seededRandom(options.seed ?? 1);
  const b = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const means = new Float64Array(b);
  for (let i = 0; i < b; i++) means[i] = _resampleMean(values, random);
  return { n, mean, ..._bounds(means, options.level ?? 0.95) };
}

/**
 * The difference `mean(b) − mean(a)` of two independent groups and its
 * percentile bootstrap interval (each group resampled on its own); null
 * when either group is empty. The interval excluding 0 is the sign that the
 * difference is larger than the noise between runs.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { bootstrapDifference } from "./bootstrap.ts";
 * const d = bootstrapDifference([1, 2, 1, 2, 1, 2], [5, 6, 5, 6, 5, 6])!;
 * ok(d.low! > 0); // b is clearly larger
 * ```
 */
export function bootstrapDifference(
  a: readonly number[],
  b: readonly number[],
  options: BootstrapOptions = {},
): Interval | null {
  if (a.length === 0 || b.length === 0) return null;
  const mean = _mean(b) - _mean(a);
  const n = Math.min(a.length, b.length);
  if (n < BOOTSTRAP_MIN_N) return { n, mean, low: null, high: null };
  const random = seededRandom(options.seed ?? 1);
  const count = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const diffs = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    diffs[i] = _resampleMean(b, random) - _resampleMean(a, random);
  }
  return { n, mean, ..._bounds(diffs, options.level ?? 0.95) };
}

/**
 * The `p` quantile of sorted values, interpolated linearly between order
 * statistics (type 7, as R and NumPy default to).
 */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function _resampleMean(values: readonly number[], random: () => number): number {
  let sum = 0;
  for (let j = 0; j < values.length; j++) sum += values[Math.floor(random() * values.length)]!;
  return sum / values.length;
}

function _bounds(draws: Float64Array, level: number): { low: number; high: number } {
  draws.sort();
  const tail = (1 - level) / 2;
  return { low: quantile(draws, tail), high: quantile(draws, 1 - tail) };
}

function _mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
