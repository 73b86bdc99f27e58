import assert from "node:assert/strict";
import {
  max,
  mean,
  min,
  percentile,
  round,
  slope,
  stdev,
  sum,
  summarize,
} from "../../lib/analysis/stats.ts";

Deno.test("sum(), mean(), min() and max() give known values", () => {
  assert.equal(sum([1, 2, 3, 4]), 10);
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  assert.equal(min([3, -1, 2]), -1);
  assert.equal(max([3, -1, 2]), 3);
});

Deno.test("stdev() is the population standard deviation", () => {
  assert.equal(stdev([2, 4, 4, 4, 5, 5, 7, 9]), 2);
  assert.equal(stdev([5]), 0);
});

Deno.test("percentile() interpolates linearly between ranks", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(round(percentile([1, 2, 3, 4], 95), 6), 3.85);
  assert.equal(percentile([4, 1, 3, 2], 0), 1);
  assert.equal(percentile([4, 1, 3, 2], 100), 4);
  assert.equal(percentile([10, 20, 30, 40, 50], 50), 30);
  assert.equal(percentile([7], 95), 7);
});

Deno.test("percentile() rejects p outside 0..100", () => {
  assert.throws(() => percentile([1], 120), RangeError);
  assert.throws(() => percentile([1], Number.NaN), RangeError);
});

Deno.test("every helper answers 0 for an empty list and ignores non-finite values", () => {
  for (const f of [sum, mean, min, max, stdev]) assert.equal(f([]), 0);
  assert.equal(percentile([], 50), 0);
  assert.deepEqual(summarize([]), {
    n: 0,
    mean: 0,
    p50: 0,
    p95: 0,
    min: 0,
    max: 0,
    stdev: 0,
  });
  assert.deepEqual(summarize([Number.NaN, 2, Infinity, 4]), summarize([2, 4]));
});

Deno.test("summarize() reports count, centre, spread and extremes", () => {
  const s = summarize([10, 20, 30, 40]);
  assert.equal(s.n, 4);
  assert.equal(s.mean, 25);
  assert.equal(s.p50, 25);
  assert.equal(round(s.p95), 38.5);
  assert.equal(s.min, 10);
  assert.equal(s.max, 40);
  assert.equal(round(s.stdev, 6), round(Math.sqrt(125), 6));
});

Deno.test("round() keeps JSON figures short and finite", () => {
  assert.equal(round(2 / 3), 0.667);
  assert.equal(round(2 / 3, 1), 0.7);
  assert.equal(round(Number.NaN), 0);
  assert.equal(round(-0.0001), 0);
  assert.ok(Object.is(round(-0.0001), 0));
});

Deno.test("slope() is the least-squares growth per step", () => {
  assert.equal(slope([100, 150, 200]), 50);
  assert.equal(slope([1, 3], [10, 20]), 0.2);
  // Noisy growth: the fitted line through (0,1) (1,3) (2,2) (3,6) rises 1.4.
  assert.equal(round(slope([1, 3, 2, 6]), 4), 1.4);
  assert.equal(slope([5]), 0);
  assert.equal(slope([]), 0);
  assert.equal(slope([1, 2], [3, 3]), 0);
  assert.equal(slope([1, NaN, 3]), 1);
  assert.throws(() => slope([1, 2], [1]), RangeError);
});
