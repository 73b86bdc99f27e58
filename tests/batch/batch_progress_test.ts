/** The progress line of `deno task batch`. */
import { assertEquals } from "../helpers/assert.ts";
import { batchEtaMs, formatBatchProgress } from "../../lib/batch/batch_progress.ts";

Deno.test("formatBatchProgress() shows done, running, failed and the ETA at this session's pace", () => {
  const counts = { total: 18, done: 6, failed: 1, running: 4, endedHere: 4, elapsedMs: 8000 };
  // 4 runs ended in 8 s here: 2 s a run, 12 left.
  assertEquals(batchEtaMs(counts), 24_000);
  assertEquals(formatBatchProgress(counts), "6/18 done · 4 running · 1 failed · ETA 24.0 s");
});

Deno.test("formatBatchProgress() has no ETA before a run ended, and 0 when all are done", () => {
  assertEquals(
    formatBatchProgress({ total: 4, done: 2, failed: 0, running: 2, endedHere: 0, elapsedMs: 500 }),
    "2/4 done · 2 running · 0 failed · ETA –",
  );
  assertEquals(
    batchEtaMs({ total: 4, done: 4, failed: 0, running: 0, endedHere: 0, elapsedMs: 0 }),
    0,
  );
});
