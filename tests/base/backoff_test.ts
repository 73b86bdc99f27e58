import assert from "node:assert/strict";
import { backoffDelay, MAX_RETRY_AFTER_MS, retryDelay } from "../../lib/base/backoff.ts";

const midpoint = { random: () => 0.5 };

Deno.test("retryDelay() is the backoff when the server gave no Retry-After", () => {
  assert.equal(retryDelay(2, undefined, midpoint), backoffDelay(2, midpoint));
  assert.equal(retryDelay(2, Number.NaN, midpoint), backoffDelay(2, midpoint));
});

Deno.test("retryDelay() waits as long as the server asked when that is longer than the backoff", () => {
  assert.equal(retryDelay(1, 7000, midpoint), 7000);
  // A short Retry-After never shortens the backoff.
  assert.equal(retryDelay(3, 10, midpoint), backoffDelay(3, midpoint));
});

Deno.test("retryDelay() caps a Retry-After so that a hostile header cannot park a turn", () => {
  assert.equal(retryDelay(1, 3_600_000, midpoint), MAX_RETRY_AFTER_MS);
  assert.equal(retryDelay(1, -5, midpoint), backoffDelay(1, midpoint));
});
