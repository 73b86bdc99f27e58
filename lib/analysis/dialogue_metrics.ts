/**
 * Text-only measures of a two-agent dialogue: who talks how much, how varied
 * the wording is, how much of it repeats earlier turns, and whether the agents
 * have fallen into a loop or gone stale. Pure functions, so the manager can
 * call {@linkcode detectLoop} and {@linkcode detectStale} live (both are
 * re-exported here from `loop_detector.ts`) and the analyzer can call
 * {@linkcode computeDialogueMetrics} on a finished run.
 *
 * @module
 */
import { z } from "zod";
import type { AgentId } from "../model/dialog_message.ts";
import { detectLoop, detectStale, type DetectStaleOptions, LoopResult } from "./loop_detector.ts";
import { mean, round, stdev } from "./stats.ts";
import { jaccard, ngrams, overlapShare, tokenize } from "./text_similarity.ts";

// The live detectors and the tokenizer keep their historical import path.
export {
  detectLoop,
  type DetectLoopOptions,
  detectStale,
  type DetectStaleOptions,
  LoopResult,
  StaleResult,
} from "./loop_detector.ts";
export { tokenize } from "./text_similarity.ts";

const share = z.number().min(0).max(1);
const count = z.number().int().nonnegative();
const turnNumber = z.number().int().min(1);
const perAgent = <T extends z.ZodType>(schema: T) => z.object({ "1": schema, "2": schema });

/** Unique n-grams divided by all n-grams (0 when there are none). */
export const Distinct = z.object({ distinct_1: share, distinct_2: share });
/** Unique n-grams divided by all n-grams. */
export type Distinct = z.infer<typeof Distinct>;

/**
 * Everything {@linkcode computeDialogueMetrics} reports. Shares are 0..1.
 * Turn numbers are the turns' `seq` when given, else their 1-based position.
 */
export const DialogueMetrics = z.object({
  turns: count,
  words: count,
  turn_taking: z.object({
    /** Each agent's share of all words; null when nothing was said. */
    word_share: perAgent(share).nullable(),
    /** Each agent's share of generated tokens; null when none were reported. */
    token_share: perAgent(share).nullable(),
    /** 1 − |share₁ − share₂|: 1 is perfectly even, 0 is a monologue. */
    word_balance: share.nullable(),
    token_balance: share.nullable(),
    /** Share of messages containing a question mark. */
    question_rate: share,
    question_rate_by_agent: perAgent(share),
    words_per_turn_mean: z.number().nonnegative(),
    words_per_turn_stdev: z.number().nonnegative(),
    /** Generated tokens per turn, over the turns that reported any. */
    tokens_per_turn_mean: z.number().nonnegative(),
    tokens_per_turn_stdev: z.number().nonnegative(),
  }),
  diversity: z.object({ overall: Distinct, agents: perAgent(Distinct) }),
  repetition: z.object({
    /** Share of eligible turns whose distinct trigrams are ≥ 50 % old. */
    rate: share,
    /** Turns with at least 3 distinct word trigrams. */
    eligible_turns: count,
    repeating_turns: z.array(turnNumber),
    exact_repeats: count,
    exact_repeat_turns: z.array(turnNumber),
    /** Includes the exact repeats. */
    near_repeats: count,
    near_repeat_turns: z.array(turnNumber),
  }),
  loop: LoopResult,
  /** See {@linkcode detectStale}. */
  stale: LoopResult,
});
/** Everything {@linkcode computeDialogueMetrics} reports. */
export type DialogueMetrics = z.infer<typeof DialogueMetrics>;

/** One message of the dialogue as the metrics see it. */
export interface DialogueTurn {
  agent: AgentId;
  text: string;
  /** Tokens the model generated for it; omit or 0 when unknown. */
  tokens?: number;
  /** Turn number to report; defaults to the 1-based position. */
  seq?: number;
}

/** Options for {@linkcode computeDialogueMetrics}. */
export interface DialogueMetricsOptions {
  /**
   * Consecutive echoing turns that make a loop (see {@linkcode detectLoop}).
   *
   * @default {4}
   */
  window?: number;
  /** Staleness thresholds (see {@linkcode detectStale}); defaults as there. */
  stale?: Omit<DetectStaleOptions, "turnNumbers">;
}

/** A turn repeats when at least this share of its trigrams are old. */
const REPEAT_SHARE = 0.5;
/** Word-set Jaccard at or above which two turns are near-exact repeats. */
const NEAR_REPEAT_JACCARD = 0.8;

function _shares(a: number, b: number) {
  const total = a + b;
  if (total <= 0) return { share: null, balance: null };
  const share = { "1": round(a / total, 4), "2": round(b / total, 4) };
  return { share, balance: round(1 - Math.abs(a - b) / total, 4) };
}

function _distinct(turnWords: readonly string[][]): Distinct {
  const ratio = (n: number) => {
    const grams = turnWords.flatMap((w) => ngrams(w, n));
    return grams.length === 0 ? 0 : round(new Set(grams).size / grams.length, 4);
  };
  return { distinct_1: ratio(1), distinct_2: ratio(2) };
}

function _rate(flags: readonly boolean[]): number {
  return flags.length === 0 ? 0 : round(flags.filter(Boolean).length / flags.length, 4);
}

function _repetition(
  words: readonly string[][],
  number: (i: number) => number,
): DialogueMetrics["repetition"] {
  const seenTrigrams = new Set<string>();
  const seenTexts = new Set<string>();
  const sets = words.map((w) => new Set(w));
  const repeating: number[] = [];
  const exact: number[] = [];
  const near: number[] = [];
  let eligible = 0;
  words.forEach((w, i) => {
    const trigrams = new Set(ngrams(w, 3));
    if (trigrams.size >= 3) {
      eligible++;
      if (overlapShare(trigrams, seenTrigrams) >= REPEAT_SHARE) {
        repeating.push(number(i));
      }
    }
    for (const t of trigrams) seenTrigrams.add(t);
    const text = w.join(" ");
    if (text !== "" && seenTexts.has(text)) exact.push(number(i));
    seenTexts.add(text);
    const set = sets[i] ?? new Set<string>();
    if (sets.slice(0, i).some((s) => jaccard(set, s) >= NEAR_REPEAT_JACCARD)) {
      near.push(number(i));
    }
  });
  return {
    rate: eligible === 0 ? 0 : round(repeating.length / eligible, 4),
    eligible_turns: eligible,
    repeating_turns: repeating,
    exact_repeats: exact.length,
    exact_repeat_turns: exact,
    near_repeats: near.length,
    near_repeat_turns: near,
  };
}

/**
 * Turn-taking, diversity, repetition and loop measures of a dialogue.
 * Distinct-n pools the n-grams of each turn without crossing turn boundaries.
 * Repetition compares each turn with all earlier turns of either speaker.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { computeDialogueMetrics } from "./dialogue_metrics.ts";
 * const m = computeDialogueMetrics([
 *   { agent: 1, text: "Where is the key?" },
 *   { agent: 2, text: "Under the mat, as always." },
 * ]);
 * strictEqual(m.turn_taking.question_rate, 0.5);
 * ```
 */
export function computeDialogueMetrics(
  turns: readonly DialogueTurn[],
  options: DialogueMetricsOptions = {},
): DialogueMetrics {
  const words = turns.map((t) => tokenize(t.text));
  const number = (i: number) => turns[i]?.seq ?? i + 1;
  const byAgent = (agent: AgentId) => turns.flatMap((t, i) => t.agent === agent ? [i] : []);
  const [one, two] = [byAgent(1), byAgent(2)];
  const wordsOf = (idx: number[]) => idx.map((i) => words[i] ?? []);
  const totalWords = (idx: number[]) => idx.reduce((s, i) => s + (words[i]?.length ?? 0), 0);
  const totalTokens = (idx: number[]) =>
    idx.reduce((s, i) => s + Math.max(0, turns[i]?.tokens ?? 0), 0);
  const asks = turns.map((t) => /[?\uff1f]/.test(t.text));
  const wordShares = _shares(totalWords(one), totalWords(two));
  const tokenShares = _shares(totalTokens(one), totalTokens(two));

  const repetition = _repetition(words, number);
  const texts = turns.map((t) => t.text);
  const turnNumbers = turns.map((_, i) => number(i));
  const loop = detectLoop(texts, {
    turnNumbers,
    ...(options.window === undefined ? {} : { window: options.window }),
  });
  const stale = detectStale(texts, { ...options.stale, turnNumbers });
  const lengths = words.map((w) => w.length);
  const tokens = turns.map((t) => t.tokens ?? 0).filter((n) => n > 0);
  return {
    turns: turns.length,
    words: lengths.reduce((a, b) => a + b, 0),
    turn_taking: {
      word_share: wordShares.share,
      token_share: tokenShares.share,
      word_balance: wordShares.balance,
      token_balance: tokenShares.balance,
      question_rate: _rate(asks),
      question_rate_by_agent: {
        "1": _rate(one.map((i) => asks[i] ?? false)),
        "2": _rate(two.map((i) => asks[i] ?? false)),
      },
      words_per_turn_mean: round(mean(lengths), 4),
      words_per_turn_stdev: round(stdev(lengths), 4),
      tokens_per_turn_mean: round(mean(tokens), 4),
      tokens_per_turn_stdev: round(stdev(tokens), 4),
    },
    diversity: {
      overall: _distinct(words),
      agents: { "1": _distinct(wordsOf(one)), "2": _distinct(wordsOf(two)) },
    },
    repetition,
    loop,
    stale,
  };
}
