import assert from "node:assert/strict";
import { MISSING, sparkline } from "../../lib/view/sparkline.ts";

Deno.test("sparkline() spans the values' range and marks missing ones", () => {
  assert.equal(sparkline([30, 40, null, 50]), "▁▅·█");
  assert.equal(sparkline([1, Number.NaN]), `▄${MISSING}`);
  assert.equal(sparkline([]), "");
});

Deno.test("sparkline() keeps a fixed range when one is given, clamping outliers", () => {
  assert.equal(sparkline([-1, 0, 1], { lo: -1, hi: 1 }), "▁▅█");
  assert.equal(sparkline([-5, 5], { lo: -1, hi: 1 }), "▁█");
  assert.equal(sparkline([0.2, 0.2], { lo: -1, hi: 1 }), "▅▅");
});
