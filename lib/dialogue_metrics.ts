/**
 * Text-only measures of a two-agent dialogue: who talks how much, how varied
 * the wording is, how much of it repeats earlier turns, and whether the agents
 * have fallen into a loop. Pure functions, so the manager can call
 * {@linkcode detectLoop} live and the analyzer can call
 * {@linkcode computeDialogueMetrics} on a finished run.
 *
 * @module
 */
import { z } from "zod";
import { AgentId } from "./dialog_message.ts";
import { mean, round, stdev } from "./stats.ts";

const share = z.number().min(0).max(1);
const count = z.number().int().nonnegative();
const turnNumber = z.number().int().min(1);
const perAgent = <T extends z.ZodType>(schema: T) => z.object({ "1": schema, "2": schema });

/** Unique n-grams divided by all n-grams (0 when there are none). */
export const Distinct = z.object({ distinct_1: share, distinct_2: share });
/** Unique n-grams divided by all n-grams. */
export type Distinct = z.infer<typeof Distinct>;

/** Outcome of {@linkcode detectLoop}. */
export const LoopResult = z.object({
  detected: z.boolean(),
  /** First turn (1-based) of the first looping window. */
  from_turn: turnNumber.optional(),
  /** One sentence a person can check against the transcript. */
  evidence: z.string().optional(),
});
/** Outcome of {@linkcode detectLoop}. */
export type LoopResult = z.infer<typeof LoopResult>;

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

/** Options for {@linkcode detectLoop}. */
export interface DetectLoopOptions {
  /**
   * How many consecutive echoing turns make a loop. Even values cover both
   * agents equally.
   *
   * @default {4}
   */
  window?: number;
}

/** A turn repeats when at least this share of its trigrams are old. */
const REPEAT_SHARE = 0.5;
/** Word-set Jaccard at or above which two turns are near-exact repeats. */
const NEAR_REPEAT_JACCARD = 0.8;
/** Looser thresholds for the loop detector's "echo" test. */
const ECHO_TRIGRAM_SHARE = 0.5;
const ECHO_JACCARD = 0.6;

const WORD = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;

/**
 * Lower-cased words: runs of Unicode letters and digits, keeping apostrophes
 * inside words ("you're") and treating the typographic ’ as '.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { tokenize } from "./dialogue_metrics.ts";
 * deepStrictEqual(tokenize("You’re welcome — 'thank' you!"), ["you're", "welcome", "thank", "you"]);
 * ```
 */
export function tokenize(text: string): string[] {
  return text.toLowerCase().replace(/[\u2018\u2019\u02bc]/g, "'").match(WORD) ??
    [];
}

function _ngrams(words: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= words.length; i++) {
    out.push(words.slice(i, i + n).join(" "));
  }
  return out;
}

/** Share of `items` already in `seen`; 0 when `items` is empty. */
function _overlap(items: ReadonlySet<string>, seen: ReadonlySet<string>) {
  if (items.size === 0) return 0;
  let hits = 0;
  for (const item of items) if (seen.has(item)) hits++;
  return hits / items.size;
}

/** Jaccard similarity; 0 when both sets are empty (silence is no repeat). */
function _jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>) {
  let both = 0;
  for (const item of a) if (b.has(item)) both++;
  const union = a.size + b.size - both;
  return union === 0 ? 0 : both / union;
}

function _quote(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(flat.length > 60 ? `${flat.slice(0, 57)}...` : flat);
}

/**
 * Detects mutual repetition, such as endless thanks and farewells.
 *
 * Turn i "echoes" when it is a near-repeat of turn i − 2 (the same speaker,
 * as agents alternate) or of turn i − 1 (the other speaker): at least 50 % of
 * its distinct word trigrams occur in that turn, or the Jaccard similarity of
 * the two turns' word sets is at least 0.6. A loop is `window` consecutive
 * echoing turns (default 4, so each agent echoes twice); `from_turn` is the
 * first turn of the first such window, counted from 1. Cheap enough to call
 * after every turn with the messages so far.
 *
 * @throws {RangeError} When `window` is not an integer of at least 2.
 *
 * @example Thanks and farewells
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectLoop } from "./dialogue_metrics.ts";
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
  return _findLoop(messages, _window(options), (i) => i + 1);
}

function _window({ window = 4 }: DetectLoopOptions): number {
  if (!Number.isInteger(window) || window < 2) {
    throw new RangeError(
      `Cannot detect loops as the window must be an integer of at least 2: current value is ${window}`,
    );
  }
  return window;
}

/** {@linkcode detectLoop}, reporting turn `i` (0-based) as `label(i)`. */
function _findLoop(
  messages: readonly string[],
  window: number,
  label: (i: number) => number,
): LoopResult {
  const words = messages.map(tokenize);
  const sets = words.map((w) => new Set(w));
  const trigrams = words.map((w) => new Set(_ngrams(w, 3)));
  const echoes = (i: number, j: number): boolean => {
    const [ti, tj, si, sj] = [trigrams[i], trigrams[j], sets[i], sets[j]];
    if (!ti || !tj || !si || !sj) return false;
    return (ti.size > 0 && _overlap(ti, tj) >= ECHO_TRIGRAM_SHARE) ||
      _jaccard(si, sj) >= ECHO_JACCARD;
  };
  const sourceOf = (i: number) => [i - 2, i - 1].find((j) => j >= 0 && echoes(i, j));
  let run = 0;
  for (let i = 1; i < messages.length; i++) {
    run = sourceOf(i) === undefined ? 0 : run + 1;
    if (run < window) continue;
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

function _shares(a: number, b: number) {
  const total = a + b;
  if (total <= 0) return { share: null, balance: null };
  const share = { "1": round(a / total, 4), "2": round(b / total, 4) };
  return { share, balance: round(1 - Math.abs(a - b) / total, 4) };
}

function _distinct(turnWords: readonly string[][]): Distinct {
  const ratio = (n: number) => {
    const grams = turnWords.flatMap((w) => _ngrams(w, n));
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
    const trigrams = new Set(_ngrams(w, 3));
    if (trigrams.size >= 3) {
      eligible++;
      if (_overlap(trigrams, seenTrigrams) >= REPEAT_SHARE) {
        repeating.push(number(i));
      }
    }
    for (const t of trigrams) seenTrigrams.add(t);
    const text = w.join(" ");
    if (text !== "" && seenTexts.has(text)) exact.push(number(i));
    seenTexts.add(text);
    const set = sets[i] ?? new Set<string>();
    if (sets.slice(0, i).some((s) => _jaccard(set, s) >= NEAR_REPEAT_JACCARD)) {
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
  options: DetectLoopOptions = {},
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
  const loop = _findLoop(turns.map((t) => t.text), _window(options), number);
  const lengths = words.map((w) => w.length);
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
    },
    diversity: {
      overall: _distinct(words),
      agents: { "1": _distinct(wordsOf(one)), "2": _distinct(wordsOf(two)) },
    },
    repetition,
    loop,
  };
}
