/**
 * Elapsed run time with the interruption taken out. A run interrupted
 * (chat's Ctrl-C) and resumed later stores the time it spent interrupted in
 * `meta.paused_ms` and the moment it was last resumed in `meta.resumed_at`;
 * no turn's wall time, no latency and no run duration may count that time.
 *
 * The pause is located as the window `[resumed_at − paused_ms, resumed_at]`:
 * exact for a run interrupted once. A run interrupted several times keeps
 * only the sum and the last resume, so the window then also covers active
 * time just before the last interruption; the run's duration stays exact
 * (it subtracts the sum), the gap-based figures of the turns in that window
 * may come out low.
 *
 * @module
 */
import type { ConversationMeta } from "../model/conversation_meta.ts";

/** When a run was interrupted, in epoch ms (`from` ≤ `to`). */
export interface PauseWindow {
  from: number;
  to: number;
}

/**
 * The window during which the run was interrupted, or undefined when it
 * never was (or has not been resumed yet: an interrupt that is still going
 * on lies after everything the run recorded).
 *
 * @example A run resumed at t = 10 000 after 4 s interrupted
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { pauseWindow } from "./run_clock.ts";
 * deepStrictEqual(pauseWindow({ paused_ms: 4000, resumed_at: 10_000 }), { from: 6000, to: 10_000 });
 * ```
 */
export function pauseWindow(
  meta: Pick<ConversationMeta, "paused_ms" | "resumed_at">,
): PauseWindow | undefined {
  const paused = meta.paused_ms ?? 0;
  if (paused <= 0 || meta.resumed_at === undefined) return undefined;
  return { from: meta.resumed_at - paused, to: meta.resumed_at };
}

/**
 * Milliseconds from `from` to `to` that the run was not interrupted: the
 * span minus its overlap with `pause`. Negative when `to` is before `from`
 * (left for the caller to judge, never hidden).
 *
 * @example A gap of 5 s with a 4 s interruption inside it
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { activeMs } from "./run_clock.ts";
 * strictEqual(activeMs(5000, 10_000, { from: 6000, to: 10_000 }), 1000);
 * strictEqual(activeMs(5000, 10_000), 5000);
 * ```
 */
export function activeMs(from: number, to: number, pause?: PauseWindow): number {
  const span = to - from;
  if (!pause) return span;
  return span - Math.max(0, Math.min(to, pause.to) - Math.max(from, pause.from));
}
