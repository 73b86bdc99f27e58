/**
 * Linguistic coordination, the measure ConvoKit implements after
 * Danescu-Niculescu-Mizil, Lee, Pang and Kleinberg, "Echoes of power:
 * language effects and power differences in social interaction" (WWW 2012):
 * for a function-word category m, how much more likely b is to use m in a
 * reply when a used it in the turn replied to,
 *
 *   C^m(b→a) = P(b's reply contains m | a's turn contains m) − P(b's reply contains m),
 *
 * estimated over the exchanges (a's turn, b's reply). Implemented here from
 * that definition; the categories and word lists are ours (below). Positive:
 * b accommodates to a's style; near 0: b's use of m ignores a's.
 *
 * @module
 */
import { z } from "zod";
import { tokenize } from "./text_similarity.ts";
import { round } from "./stats.ts";
import type { SpokenTurn } from "./echo_detector.ts";

/**
 * The function-word categories, after the eight LIWC-style ones of the
 * paper (our own short lists of common English members): style words a
 * speaker uses without thinking of them, so matching them is accommodation
 * rather than topic.
 */
export const COORDINATION_CATEGORIES: Readonly<Record<string, readonly string[]>> = {
  article: ["a", "an", "the"],
  auxiliary_verb: [
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "do",
    "does",
    "did",
    "will",
    "would",
    "shall",
    "should",
    "can",
    "could",
    "may",
    "might",
    "must",
  ],
  conjunction: ["and", "but", "or", "so", "because", "although", "though", "while", "if", "yet"],
  high_frequency_adverb: [
    "very",
    "really",
    "just",
    "so",
    "too",
    "quite",
    "now",
    "then",
    "here",
    "there",
    "always",
    "never",
    "often",
    "still",
    "again",
  ],
  impersonal_pronoun: [
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "something",
    "anything",
    "nothing",
    "everything",
    "someone",
    "anyone",
    "everyone",
    "what",
    "which",
  ],
  personal_pronoun: [
    "i",
    "me",
    "my",
    "mine",
    "we",
    "us",
    "our",
    "you",
    "your",
    "yours",
    "he",
    "him",
    "his",
    "she",
    "her",
    "they",
    "them",
    "their",
    "i'm",
    "you're",
    "we're",
    "they're",
    "i've",
    "we've",
  ],
  preposition: [
    "in",
    "on",
    "at",
    "to",
    "from",
    "with",
    "by",
    "for",
    "of",
    "about",
    "into",
    "over",
    "under",
    "after",
    "before",
    "through",
    "between",
    "without",
  ],
  quantifier: [
    "all",
    "some",
    "any",
    "many",
    "much",
    "few",
    "more",
    "most",
    "every",
    "each",
    "none",
  ],
};

const _direction = z.object({
  /** C^m per category; null where a never used m (the conditional is undefined). */
  by_category: z.record(z.string(), z.number().finite().nullable()),
  /** Mean over the categories that are defined; null when none is. */
  mean: z.number().finite().nullable(),
  /** Exchanges (a's turn, b's reply) counted. */
  exchanges: z.number().int().nonnegative(),
});

/** Coordination each way and on average. */
export const Coordination = z.object({
  /** Agent 2 coordinating to agent 1 (b = 2 replying to a = 1). */
  "2_to_1": _direction,
  /** Agent 1 coordinating to agent 2. */
  "1_to_2": _direction,
  /** Mean of the two directions' means; null when neither is defined. */
  mean: z.number().finite().nullable(),
});
/** Coordination each way and on average. */
export type Coordination = z.infer<typeof Coordination>;

/**
 * Coordination of each speaker to the other over consecutive exchanges of a
 * run (each turn and the reply after it, when the speakers differ).
 *
 * @example Agent 2 mirrors agent 1's articles only when agent 1 uses them
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { measureCoordination } from "./coordination.ts";
 * const c = measureCoordination([
 *   { agent: 1, text: "Take the lamp." }, { agent: 2, text: "The lamp, then." },
 *   { agent: 1, text: "Go now." }, { agent: 2, text: "Going." },
 * ]);
 * strictEqual(c["2_to_1"].by_category.article, 0.5);
 * ```
 */
export function measureCoordination(turns: readonly SpokenTurn[]): Coordination {
  const cats = turns.map((t) => _categories(t.text));
  const direction = (a: 1 | 2) => {
    const by_category: Record<string, number | null> = {};
    let exchanges = 0;
    const replies: Set<string>[] = [];
    const prompts: Set<string>[] = [];
    for (let i = 1; i < turns.length; i++) {
      if (turns[i - 1]!.agent !== a || turns[i]!.agent === a) continue;
      exchanges++;
      prompts.push(cats[i - 1]!);
      replies.push(cats[i]!);
    }
    for (const m of Object.keys(COORDINATION_CATEGORIES)) {
      const cued = replies.filter((_, k) => prompts[k]!.has(m));
      if (cued.length === 0) {
        by_category[m] = null;
        continue;
      }
      const conditional = cued.filter((r) => r.has(m)).length / cued.length;
      const base = replies.filter((r) => r.has(m)).length / replies.length;
      by_category[m] = round(conditional - base, 4);
    }
    const defined = Object.values(by_category).filter((v): v is number => v !== null);
    const mean = defined.length === 0
      ? null
      : round(defined.reduce((s, v) => s + v, 0) / defined.length, 4);
    return { by_category, mean, exchanges };
  };
  const to1 = direction(1);
  const to2 = direction(2);
  const means = [to1.mean, to2.mean].filter((v): v is number => v !== null);
  return {
    "2_to_1": to1,
    "1_to_2": to2,
    mean: means.length === 0 ? null : round(means.reduce((s, v) => s + v, 0) / means.length, 4),
  };
}

const _LOOKUP = new Map<string, string[]>();
for (const [cat, words] of Object.entries(COORDINATION_CATEGORIES)) {
  for (const w of words) _LOOKUP.set(w, [...(_LOOKUP.get(w) ?? []), cat]);
}

function _categories(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of tokenize(text)) for (const c of _LOOKUP.get(w) ?? []) out.add(c);
  return out;
}
