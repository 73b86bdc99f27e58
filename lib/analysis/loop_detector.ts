/**
 * Detectors for a conversation that has stopped going anywhere, on the plain
 * list of message texts in turn order: {@linkcode detectLoop} (the agents
 * repeat each other) and {@linkcode detectStale} (they keep talking but say
 * nothing new). Pure and cheap, so the manager can call them after every
 * turn and the analyzer on a finished run, with the same answer.
 *
 * @module
 */
import { z } from "zod";
import { contentWords, jaccard, ngrams, overlapShare, tokenize } from "./text_similarity.ts";

/** Outcome of {@linkcode detectLoop} or {@linkcode detectStale}. */
export const LoopResult = z.object({
  detected: z.boolean(),
  /** First turn of the first window that qualified. */
  from_turn: z.number().int().min(1).optional(),
  /** One sentence a person can check against the transcript. */
  evidence: z.string().optional(),
});
/** Outcome of {@linkcode detectLoop} or {@linkcode detectStale}. */
export type LoopResult = z.infer<typeof LoopResult>;

/** Outcome of {@linkcode detectStale}; the same shape as a loop's. */
export const StaleResult = LoopResult;
/** Outcome of {@linkcode detectStale}. */
export type StaleResult = LoopResult;

/** Options for {@linkcode detectLoop}. */
export interface DetectLoopOptions {
  /**
   * How many consecutive echoing turns make a loop. Even values cover both
   * agents equally.
   *
   * @default {4}
   */
  window?: number;
  /**
   * Turn number to report for each message (same length as the messages),
   * e.g. sequence numbers; by default the 1-based position.
   */
  turnNumbers?: readonly number[];
}

/** Options for {@linkcode detectStale}. */
export interface DetectStaleOptions {
  /**
   * How many consecutive turns that bring almost nothing new make a stale
   * conversation.
   *
   * @default {6}
   */
  window?: number;
  /**
   * A turn brings almost nothing new when less than this share of its
   * distinct content words (function words left out) was never said before
   * in the conversation.
   *
   * @default {0.2}
   */
  minNovelty?: number;
  /** As in {@linkcode DetectLoopOptions.turnNumbers}. */
  turnNumbers?: readonly number[];
}

/** A turn echoes an earlier one when this share of its trigrams occur there… */
const ECHO_TRIGRAM_SHARE = 0.5;
/** …or the two turns' word sets have at least this Jaccard similarity. */
const ECHO_JACCARD = 0.6;
/**
 * This many consecutive turns with the same words (case and punctuation
 * aside) are a loop whatever `window` says: the agents are stuck.
 */
export const IDENTICAL_RUN = 3;

/**
 * Detects mutual repetition, such as endless thanks and farewells.
 *
 * Turn i "echoes" when it is a near-repeat of turn i − 2 (the same speaker,
 * as agents alternate) or of turn i − 1 (the other speaker): at least 50 % of
 * its distinct word trigrams occur in that turn, or the Jaccard similarity of
 * the two turns' word sets is at least 0.6. A loop is `window` consecutive
 * echoing turns (default 4, so each agent echoes twice); `from_turn` is the
 * first turn of the first such window. {@linkcode IDENTICAL_RUN} (3)
 * consecutive turns with the same words are a loop too, wherever in the run
 * they happen (a conversation stuck mid-run or at its end, which echoes too
 * few times for the window); `from_turn` is the first of them. Cheap enough
 * to call after every turn with the messages so far.
 *
 * @throws {RangeError} When `window` is not an integer of at least 2, or
 * `turnNumbers` does not match the messages.
 *
 * @example Thanks and farewells
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectLoop } from "./loop_detector.ts";
 * const turns = ["Shall we meet at noon?", "Yes, at the old mill.",
 *   "Thank you!", "You're welcome!", "Thank you!", "You're welcome!",
 *   "Thank you!", "You're welcome!"];
 * strictEqual(detectLoop(turns).from_turn, 5);
 * strictEqual(detectLoop(turns.slice(0, 7)).detected, false);
 * ```
 */
export function detectLoop(
  messages: readonly string[],
  options: DetectLoopOptions = {},
): LoopResult {
  const window = _window(options.window ?? 4, 2, "detect loops");
  const label = _labels(messages, options.turnNumbers, "detect loops");
  const words = messages.map(tokenize);
  const sets = words.map((w) => new Set(w));
  const trigrams = words.map((w) => new Set(ngrams(w, 3)));
  const echoes = (i: number, j: number): boolean => {
    const [ti, tj, si, sj] = [trigrams[i], trigrams[j], sets[i], sets[j]];
    if (!ti || !tj || !si || !sj) return false;
    return (ti.size > 0 && overlapShare(ti, tj) >= ECHO_TRIGRAM_SHARE) ||
      jaccard(si, sj) >= ECHO_JACCARD;
  };
  const sourceOf = (i: number) => [i - 2, i - 1].find((j) => j >= 0 && echoes(i, j));
  const same = words.map((w) => w.join(" "));
  let run = 0;
  let identical = 1;
  for (let i = 1; i < messages.length; i++) {
    run = sourceOf(i) === undefined ? 0 : run + 1;
    identical = same[i] !== "" && same[i] === same[i - 1] ? identical + 1 : 1;
    if (run < window) {
      if (identical < IDENTICAL_RUN) continue;
      const first = i - IDENTICAL_RUN + 1;
      return {
        detected: true,
        from_turn: label(first),
        evidence: `turns ${label(first)}-${label(i)} say the same ${_quote(messages[i] ?? "")}`,
      };
    }
    const first = i - window + 1;
    const source = sourceOf(first) ?? first - 1;
    return {
      detected: true,
      from_turn: label(first),
      evidence: `turns ${label(first)}-${label(i)} each repeat a recent ` +
        `turn; turn ${label(first)} ${_quote(messages[first] ?? "")} ` +
        `repeats turn ${label(source)} ${_quote(messages[source] ?? "")}`,
    };
  }
  return { detected: false };
}

/**
 * Detects a stale conversation: the agents keep talking but stopped saying
 * anything new. A turn is stale when less than `minNovelty` (default 20 %)
 * of its distinct content words were never said before in the conversation
 * (a turn with no content word at all, such as "Yes.", is stale too); the
 * conversation is stale after `window` (default 6) consecutive stale turns,
 * from the first of them. The first turn is never stale. A loop is usually
 * stale as well; a stale conversation need not be a loop (paraphrases).
 *
 * @throws {RangeError} When `window` is not an integer of at least 2,
 * `minNovelty` is not within 0..1, or `turnNumbers` does not match.
 *
 * @example Agreeing in circles
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectStale } from "./loop_detector.ts";
 * const turns = ["We must fix the lamp before the ship reaches the rocks.",
 *   "Yes, the lamp.", "The lamp, yes.", "Yes, the ship.", "The ship and the lamp.",
 *   "Lamp. Ship. Yes.", "Yes, the rocks."];
 * strictEqual(detectStale(turns).from_turn, 2);
 * strictEqual(detectStale(turns.slice(0, 6)).detected, false);
 * ```
 */
export function detectStale(
  messages: readonly string[],
  options: DetectStaleOptions = {},
): StaleResult {
  const window = _window(options.window ?? 6, 2, "detect staleness");
  const minNovelty = options.minNovelty ?? 0.2;
  if (!(minNovelty >= 0 && minNovelty <= 1)) {
    throw new RangeError(
      `Cannot detect staleness as minNovelty must be from 0 to 1: current value is ${minNovelty}`,
    );
  }
  const label = _labels(messages, options.turnNumbers, "detect staleness");
  const said = new Set<string>();
  const novelty: number[] = [];
  let run = 0;
  for (let i = 0; i < messages.length; i++) {
    const words = new Set(contentWords(messages[i] ?? ""));
    const fresh = words.size === 0 ? 0 : 1 - overlapShare(words, said);
    for (const w of words) said.add(w);
    novelty.push(fresh);
    run = i > 0 && fresh < minNovelty ? run + 1 : 0;
    if (run < window) continue;
    const first = i - window + 1;
    const mean = novelty.slice(first).reduce((a, b) => a + b, 0) / window;
    return {
      detected: true,
      from_turn: label(first),
      evidence: `turns ${label(first)}-${label(i)} each brought less than ` +
        `${Math.round(minNovelty * 100)}% new words (mean ${Math.round(mean * 100)}%)`,
    };
  }
  return { detected: false };
}

function _window(window: number, least: number, action: string): number {
  if (!Number.isInteger(window) || window < least) {
    throw new RangeError(
      `Cannot ${action} as the window must be an integer of at least ${least}: current value is ${window}`,
    );
  }
  return window;
}

function _labels(
  messages: readonly string[],
  numbers: readonly number[] | undefined,
  action: string,
): (i: number) => number {
  if (numbers === undefined) return (i) => i + 1;
  if (numbers.length !== messages.length) {
    throw new RangeError(
      `Cannot ${action} as turnNumbers must match the messages: current lengths are ${numbers.length} and ${messages.length}`,
    );
  }
  return (i) => numbers[i] ?? i + 1;
}

function _quote(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(flat.length > 60 ? `${flat.slice(0, 57)}...` : flat);
}
