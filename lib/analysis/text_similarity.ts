/**
 * Words and word-overlap measures shared by the dialogue metrics, the loop
 * and staleness detectors and the lexical topic-drift measure. Pure and
 * dependency-free, so the manager can run them after every turn.
 *
 * @module
 */

const WORD = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;

/**
 * English function words, left out when comparing what turns are *about*
 * (a turn sharing only "the" and "and" with the setting is not on topic).
 */
const STOPWORDS = new Set(
  (
    "a about above after again against all also am an and any are aren't as at be because been " +
    "before being below between both but by can can't cannot could couldn't did didn't do does " +
    "doesn't doing don't down during each even ever few for from further get got had hadn't has " +
    "hasn't have haven't having he he'd he'll he's her here here's hers herself him himself his " +
    "how how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's like me " +
    "might more most much must mustn't my myself no nor not now of off oh ok okay on once only " +
    "or other ought our ours ourselves out over own really same shall shan't she she'd she'll " +
    "she's should shouldn't so some still such than that that's the their theirs them " +
    "themselves then there there's these they they'd they'll they're they've this those " +
    "though through to too under until up upon us very was wasn't we we'd we'll we're we've " +
    "well were weren't what what's when when's where where's which while who who's whom why " +
    "why's will with won't would wouldn't yes yet you you'd you'll you're you've your yours " +
    "yourself yourselves"
  ).split(" "),
);

/**
 * Lower-cased words: runs of Unicode letters and digits, keeping apostrophes
 * inside words ("you're") and treating the typographic ’ as '.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { tokenize } from "./text_similarity.ts";
 * deepStrictEqual(tokenize("You’re welcome — 'thank' you!"), ["you're", "welcome", "thank", "you"]);
 * ```
 */
export function tokenize(text: string): string[] {
  return text.toLowerCase().replace(/[\u2018\u2019\u02bc]/g, "'").match(WORD) ?? [];
}

/**
 * The words that carry meaning: {@linkcode tokenize}, without English
 * function words, with a possessive "'s" and a plural "s" removed so
 * "storms" and "storm's" count as "storm".
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { contentWords } from "./text_similarity.ts";
 * deepStrictEqual(contentWords("The storms hit the keeper's lighthouse"), [
 *   "storm", "hit", "keeper", "lighthouse",
 * ]);
 * ```
 */
export function contentWords(text: string): string[] {
  return tokenize(text).filter((w) => !STOPWORDS.has(w)).map((w) => {
    const stem = w.endsWith("'s") ? w.slice(0, -2) : w;
    return stem.length > 3 && stem.endsWith("s") && !stem.endsWith("ss") ? stem.slice(0, -1) : stem;
  });
}

/**
 * The n-grams of a word list, each joined by a space.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { ngrams } from "./text_similarity.ts";
 * deepStrictEqual(ngrams(["a", "b", "c"], 2), ["a b", "b c"]);
 * ```
 */
export function ngrams(words: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join(" "));
  return out;
}

/**
 * Share of `items` already in `seen`; 0 when `items` is empty.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { overlapShare } from "./text_similarity.ts";
 * strictEqual(overlapShare(new Set(["a", "b"]), new Set(["a"])), 0.5);
 * ```
 */
export function overlapShare(items: ReadonlySet<string>, seen: ReadonlySet<string>): number {
  if (items.size === 0) return 0;
  let hits = 0;
  for (const item of items) if (seen.has(item)) hits++;
  return hits / items.size;
}

/**
 * Jaccard similarity of two sets; 0 when both are empty, since two silent
 * turns are not a repeat of each other.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { jaccard } from "./text_similarity.ts";
 * strictEqual(jaccard(new Set(["a", "b"]), new Set(["b", "c"])), 1 / 3);
 * ```
 */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let both = 0;
  for (const item of a) if (b.has(item)) both++;
  const union = a.size + b.size - both;
  return union === 0 ? 0 : both / union;
}

/**
 * Cosine similarity of two vectors of equal length; 0 when either is all
 * zeros or the lengths differ, and clamped to 0..1, since a negative
 * similarity means "unrelated" for our purposes.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { cosineSimilarity } from "./text_similarity.ts";
 * strictEqual(cosineSimilarity([1, 0], [1, 0]), 1);
 * strictEqual(cosineSimilarity([1, 0], [0, 1]), 0);
 * ```
 */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 0;
  const cos = dot / Math.sqrt(na * nb);
  return Number.isFinite(cos) ? Math.min(1, Math.max(0, cos)) : 0;
}

/**
 * How much two texts talk about the same things: the cosine similarity of
 * their {@linkcode contentWords} counts, 0 (nothing shared) to 1 (the same
 * words in the same proportions).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { lexicalSimilarity } from "./text_similarity.ts";
 * const setting = "A lighthouse on a rocky island in a winter storm";
 * ok(lexicalSimilarity(setting, "The storm batters the lighthouse") >
 *   lexicalSimilarity(setting, "My pizza recipe needs more basil"));
 * ```
 */
export function lexicalSimilarity(a: string, b: string): number {
  const ca = _counts(contentWords(a));
  const cb = _counts(contentWords(b));
  let dot = 0;
  for (const [word, n] of ca) dot += n * (cb.get(word) ?? 0);
  const norm = (c: Map<string, number>) =>
    Math.sqrt([...c.values()].reduce((s, n) => s + n * n, 0));
  const den = norm(ca) * norm(cb);
  return den === 0 ? 0 : Math.min(1, dot / den);
}

function _counts(words: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of words) out.set(w, (out.get(w) ?? 0) + 1);
  return out;
}
