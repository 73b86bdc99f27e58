/**
 * The progress line of `deno task batch`: runs done, running and failed,
 * and the time left at the pace so far.
 *
 * @module
 */
import { formatDuration } from "../view/format_duration.ts";

/** Where a batch stands. */
export interface BatchCounts {
  /** Runs in the batch. */
  total: number;
  /** Runs ended (completed or failed), this session or before it. */
  done: number;
  /** Of `done`, the failed ones. */
  failed: number;
  /** Runs in flight. */
  running: number;
  /** Runs this session ended, and the time it has run: the pace of the ETA. */
  endedHere: number;
  elapsedMs: number;
}

/**
 * One line: `12/18 done · 4 running · 1 failed · ETA 1:20`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatBatchProgress } from "./batch_progress.ts";
 * strictEqual(
 *   formatBatchProgress({ total: 10, done: 5, failed: 1, running: 2, endedHere: 5, elapsedMs: 50_000 }),
 *   "5/10 done · 2 running · 1 failed · ETA 50.0 s",
 * );
 * ```
 */
export function formatBatchProgress(c: BatchCounts): string {
  const eta = batchEtaMs(c);
  return `${c.done}/${c.total} done · ${c.running} running · ${c.failed} failed · ETA ${
    eta === undefined ? "–" : formatDuration(eta)
  }`;
}

/** Time left at this session's pace; undefined before the first run ended here. */
export function batchEtaMs(c: BatchCounts): number | undefined {
  if (c.done >= c.total) return 0;
  if (c.endedHere === 0) return undefined;
  return (c.elapsedMs / c.endedHere) * (c.total - c.done);
}
