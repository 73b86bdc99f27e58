/** Percentile bootstrap intervals: known distributions, determinism, coverage. */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  BOOTSTRAP_MIN_N,
  bootstrapDifference,
  bootstrapMean,
  quantile,
  seededRandom,
} from "../../lib/analysis/bootstrap.ts";

/** Normal draws (Box–Muller) from a seeded generator. */
function normals(n: number, mean: number, sd: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const u = 1 - random(), v = random();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  });
}

Deno.test("seededRandom() is uniform on [0, 1) and repeats for a seed", () => {
  const random = seededRandom(42);
  const draws = Array.from({ length: 20_000 }, random);
  assert(draws.every((d) => d >= 0 && d < 1));
  const mean = draws.reduce((s, d) => s + d, 0) / draws.length;
  assert(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  const again = seededRandom(42);
  assertEquals(Array.from({ length: 5 }, again), draws.slice(0, 5));
  assert(seededRandom(43)() !== draws[0]);
});

Deno.test("quantile() interpolates between order statistics (type 7)", () => {
  assertEquals(quantile([1, 2, 3, 4], 0), 1);
  assertEquals(quantile([1, 2, 3, 4], 1), 4);
  assertEquals(quantile([1, 2, 3, 4], 0.5), 2.5);
  assertEquals(quantile([10, 20], 0.25), 12.5);
});

Deno.test("bootstrapMean() of a normal sample has about the textbook interval, mean ± 1.96 sd/√n", () => {
  const sample = normals(400, 10, 2, 7);
  const ci = bootstrapMean(sample, { seed: 3 })!;
  const half = 1.96 * 2 / Math.sqrt(400); // ≈ 0.196
  assert(ci.low! < ci.mean && ci.mean < ci.high!);
  const width = ci.high! - ci.low!;
  assert(Math.abs(width - 2 * half) < 0.06, `width ${width} vs ${2 * half}`);
  assert(Math.abs(ci.mean - 10) < 0.3, `mean ${ci.mean}`);
});

Deno.test("bootstrapMean() is deterministic for a seed and moves with another", () => {
  const sample = normals(20, 0, 1, 1);
  assertEquals(bootstrapMean(sample, { seed: 5 }), bootstrapMean(sample, { seed: 5 }));
  assert(bootstrapMean(sample, { seed: 5 })!.low !== bootstrapMean(sample, { seed: 6 })!.low);
});

Deno.test("bootstrapMean() of a constant is that constant, and gives no interval below the minimum n", () => {
  assertEquals(bootstrapMean([1, 1, 1, 1]), { n: 4, mean: 1, low: 1, high: 1 });
  assertEquals(BOOTSTRAP_MIN_N, 3);
  assertEquals(bootstrapMean([4, 6]), { n: 2, mean: 5, low: null, high: null });
  assertEquals(bootstrapMean([]), null);
});

Deno.test("a 95% bootstrap interval covers the true mean about 95% of the time", () => {
  // 400 samples of 30 normal draws (≈0.935 over 2,000: the percentile method
  // under-covers a little at small n); the bounds are about ±3 standard errors.
  let covered = 0;
  const trials = 400;
  for (let t = 0; t < trials; t++) {
    const sample = normals(30, 5, 3, (t * 7919 + 17) >>> 0);
    const ci = bootstrapMean(sample, { seed: t, resamples: 1000 })!;
    if (ci.low! <= 5 && 5 <= ci.high!) covered++;
  }
  const rate = covered / trials;
  assert(rate > 0.9 && rate < 0.98, `coverage ${rate}`);
});

Deno.test("bootstrapDifference() excludes 0 for a real shift and includes it for none", () => {
  const a = normals(30, 10, 1, 11);
  const shifted = normals(30, 11.5, 1, 12);
  const same = normals(30, 10, 1, 13);
  const d = bootstrapDifference(a, shifted)!;
  assert(d.low! > 0, `interval ${d.low}..${d.high}`);
  assert(Math.abs(d.mean - 1.5) < 0.6);
  const none = bootstrapDifference(a, same)!;
  assert(none.low! < 0 && none.high! > 0, `interval ${none.low}..${none.high}`);
  assertEquals(bootstrapDifference([], a), null);
});
