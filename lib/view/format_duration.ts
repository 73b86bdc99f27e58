/**
 * Durations for people: the footer, the status line and the conversation
 * list all show time the same way.
 *
 * @module
 */

/**
 * Formats a duration for people: below a second `850 ms`, below a minute
 * `12.3 s`, below an hour `4:12` (m:ss), then `1:02:03` (h:mm:ss).
 * Negative or non-finite input counts as 0.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatDuration } from "./format_duration.ts";
 *
 * strictEqual(formatDuration(850), "850 ms");
 * strictEqual(formatDuration(12_345), "12.3 s");
 * strictEqual(formatDuration(252_000), "4:12");
 * ```
 */
export function formatDuration(ms: number): string {
  const t = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (t < 999.5) return `${Math.round(t)} ms`;
  if (t < 59_950) return `${(t / 1000).toFixed(1)} s`;
  return formatClock(Math.round(t / 1000));
}

/**
 * Whole seconds as a clock, `m:ss` below an hour and `h:mm:ss` above: the
 * form time left is always shown in, so it does not change width as it
 * counts down past a minute.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatClock } from "./format_duration.ts";
 *
 * strictEqual(formatClock(5), "0:05");
 * strictEqual(formatClock(3723), "1:02:03");
 * ```
 */
export function formatClock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
