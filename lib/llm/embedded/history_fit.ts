/**
 * Deciding how a conversation fits the embedded model's context: a history
 * longer than the context is trimmed, never refused, so a long run keeps
 * going. Token counts in, what to keep out; the model host applies it.
 *
 * @module
 */

/** The token counts {@linkcode fitHistory} decides on. */
export interface HistoryFitInput {
  /** Tokens of the system text (0 when there is none). */
  systemTokens: number;
  /** Tokens of each other turn, oldest first; the last is the one answered. */
  turnTokens: readonly number[];
  /**
   * Tokens the chat template adds around the texts (role markers, the
   * reply's opening). Counted for the whole history, so dropping turns only
   * makes the estimate safer.
   */
  overheadTokens: number;
  /** Tokens kept free for the reply (`maxTokens`). */
  replyTokens: number;
  /** The context size of one sequence. */
  contextTokens: number;
}

/** What to keep, from {@linkcode fitHistory}. */
export interface HistoryFit {
  /** Oldest non-system turns to drop. */
  droppedTurns: number;
  /** Tokens of the system text to keep, from its start (all of it when unchanged). */
  systemTokens: number;
  /** Tokens of the last turn to keep, from its end (all of it when unchanged). */
  lastTurnTokens: number;
  /** Tokens left for the reply: `replyTokens`, lowered only when the context is too small for it. */
  replyTokens: number;
  /** Whether anything was cut or dropped. */
  trimmed: boolean;
}

/**
 * Decides what of a history to keep so that prompt plus reply fit the
 * context, in this order: drop the oldest turns (the last one, which is
 * being answered, stays); then cut the system text to what is left (its
 * start: who the model plays); then, when the last turn alone is too long,
 * keep its end. The reply keeps its room unless it would take more than half
 * of a context whose prompt cannot fit otherwise.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { fitHistory } from "./history_fit.ts";
 * const fit = fitHistory({
 *   systemTokens: 50, turnTokens: [100, 100, 100, 20], overheadTokens: 10,
 *   replyTokens: 100, contextTokens: 300,
 * });
 * // 50 + (100 + 20) + 10 + 100 = 280 fits in 300; one more turn of 100 would not
 * strictEqual(fit.droppedTurns, 2);
 * ```
 *
 * @throws {RangeError} when a count is negative or not an integer, or the
 * context is smaller than the template's overhead plus two tokens.
 */
export function fitHistory(input: HistoryFitInput): HistoryFit {
  _check(input);
  const { systemTokens, turnTokens, overheadTokens, contextTokens } = input;
  const available = contextTokens - overheadTokens;
  if (available < 2) {
    throw new RangeError(
      `Cannot fit a history as the context leaves no room beside the template: current value is ${contextTokens} tokens for ${overheadTokens} of template`,
    );
  }
  const last = turnTokens.at(-1) ?? 0;
  let reply = Math.min(input.replyTokens, available - 1);
  // The reply yields room only when even the system start plus the last turn
  // cannot fit; then it keeps half of what the template leaves.
  if (last + reply > available) {
    reply = Math.min(reply, Math.max(Math.floor(available / 2), available - last));
  }
  reply = Math.max(1, reply);
  const budget = available - reply;

  let kept = turnTokens.reduce((sum, n) => sum + n, 0);
  let dropped = 0;
  while (systemTokens + kept > budget && dropped < turnTokens.length - 1) {
    kept -= turnTokens[dropped]!;
    dropped++;
  }
  const system = Math.max(0, Math.min(systemTokens, budget - kept));
  const lastKept = Math.min(last, budget - system);
  return {
    droppedTurns: dropped,
    systemTokens: system,
    lastTurnTokens: lastKept,
    replyTokens: reply,
    trimmed: dropped > 0 || system < systemTokens || lastKept < last ||
      reply < input.replyTokens,
  };
}

function _check(input: HistoryFitInput): void {
  const counts: [string, number][] = [
    ["systemTokens", input.systemTokens],
    ["overheadTokens", input.overheadTokens],
    ["replyTokens", input.replyTokens],
    ["contextTokens", input.contextTokens],
    ...input.turnTokens.map((n, i): [string, number] => [`turnTokens[${i}]`, n]),
  ];
  for (const [name, value] of counts) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot fit a history as ${name} must be a non-negative integer: current value is ${value}`,
      );
    }
  }
}
