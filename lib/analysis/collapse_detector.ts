/**
 * Collapse: a run converging on an attractor — diversity falling over the
 * run while the speakers' vocabularies merge, their turns shrink or the same
 * phrases keep coming back. Measured over a sliding window of turns against
 * the run's opening window. {@linkcode CollapseTracker} checks one turn at a
 * time (constant work per turn apart from a set of the run's trigrams, for
 * the manager's live check); {@linkcode detectCollapse} runs it over a
 * finished run, so both give the same answer.
 *
 * @module
 */
import { z } from "zod";
import { contentWords, jaccard, ngrams, tokenize } from "./text_similarity.ts";
import { round, slope } from "./stats.ts";
import type { TrackerStep } from "./tracker_step.ts";
import type { SpokenTurn } from "./echo_detector.ts";

/**
 * Turns per window: two per speaker, the fewest that hold both voices
 * twice; with a later window required not to overlap the opening one, a run
 * needs 2 × 4 + 1 turns before it can collapse.
 */
export const COLLAPSE_WINDOW = 4;
/**
 * Diversity has fallen when a window's distinct-2 (or distinct-1) is at most
 * this share of the opening window's: a 25 % drop. Ordinary runs move by
 * ±10 % window to window (their turns rarely share a bigram), so a quarter
 * is well outside.
 */
export const COLLAPSE_DIVERSITY_SHARE = 0.75;
/** Turns have shrunk when the window's mean length is at most this share of the opening's (40 % shorter). */
export const COLLAPSE_LENGTH_SHARE = 0.6;
/**
 * Vocabularies have merged when the Jaccard similarity of the two speakers'
 * content words in the window rose by at least this much over the opening
 * window's: two distinct voices share ~0.1 of their words.
 */
export const COLLAPSE_MERGE_RISE = 0.15;
/**
 * Phrases recur when on average this share of a window turn's trigrams were
 * said before in the run (a loop-like refrain, below the loop detector's
 * near-exact repeat).
 */
export const COLLAPSE_RECUR_SHARE = 0.4;
/** Consecutive collapsed windows needed: one can be a short exchange of thanks. */
export const COLLAPSE_PERSIST = 2;

/** What {@linkcode detectCollapse} found. */
export const CollapseResult = z.object({
  detected: z.boolean(),
  /** First turn of the first collapsed window. */
  from_turn: z.number().int().min(1).nullable(),
  /** Distinct-2 of each window (ending at turns window..n), in order. */
  distinct_2: z.array(z.number().min(0).max(1)),
  /** Least-squares slope of those per window step (negative: falling); null with under two windows. */
  distinct_2_slope: z.number().finite().nullable(),
  /** Mean words per turn of the last window over the opening window's; null with under two windows. */
  length_ratio: z.number().finite().nonnegative().nullable(),
  /** Jaccard of the speakers' content words in the opening and the last window. */
  vocabulary_merge: z.object({ first: z.number().min(0).max(1), last: z.number().min(0).max(1) })
    .nullable(),
  /** Share of the last window's trigrams said before in the run. */
  recurring_share: z.number().min(0).max(1).nullable(),
  evidence: z.string().nullable(),
});
/** What {@linkcode detectCollapse} found. */
export type CollapseResult = z.infer<typeof CollapseResult>;

/** One window's figures. */
export interface CollapseWindow {
  first_turn: number;
  distinct_1: number;
  distinct_2: number;
  mean_words: number;
  merge: number;
  recurring: number;
}

/** One checked turn. */
export interface CollapseFinding {
  /** The window ending at this turn, once there are enough turns. */
  window?: CollapseWindow;
  /** This window collapsed against the opening one. */
  collapsed: boolean;
  /** {@linkcode COLLAPSE_PERSIST} windows in a row have collapsed; the first turn of the first. */
  from_turn?: number;
  evidence?: string;
}

interface _Turn {
  agent: 1 | 2;
  seq: number;
  words: string[];
  bigrams: string[];
  content: string[];
  recurring: number;
}

/**
 * Collapse detection one turn at a time. {@linkcode CollapseTracker.peek}
 * checks without recording, `commit()` records.
 */
export class CollapseTracker {
  #recent: _Turn[] = [];
  readonly #trigrams = new Set<string>();
  #opening: CollapseWindow | undefined;
  #count = 0;
  #run = 0;
  #runFrom = 0;

  /** Checks turn `seq`, spoken by `agent`, without recording it. */
  peek(agent: 1 | 2, text: string, seq: number): TrackerStep<CollapseFinding> {
    const words = tokenize(text);
    const tri = new Set(ngrams(words, 3));
    let seen = 0;
    for (const t of tri) if (this.#trigrams.has(t)) seen++;
    const turn: _Turn = {
      agent,
      seq,
      words,
      bigrams: ngrams(words, 2),
      content: contentWords(text),
      recurring: tri.size === 0 ? 0 : seen / tri.size,
    };
    const recent = [...this.#recent, turn].slice(-COLLAPSE_WINDOW);
    const count = this.#count + 1;
    const window = recent.length === COLLAPSE_WINDOW ? _window(recent) : undefined;
    const opening = this.#opening ?? window;
    // Only windows that share no turn with the opening one are compared with it.
    const comparable = window !== undefined && opening !== undefined &&
      count >= 2 * COLLAPSE_WINDOW;
    const why = comparable ? _collapsed(window, opening) : undefined;
    const run = why ? this.#run + 1 : 0;
    const runFrom = why ? (run === 1 ? window!.first_turn : this.#runFrom) : 0;
    const finding: CollapseFinding = { collapsed: why !== undefined };
    if (window) finding.window = window;
    if (run >= COLLAPSE_PERSIST) {
      finding.from_turn = runFrom;
      finding.evidence = `turns ${runFrom}-${seq}: ${why}`;
    }
    return {
      finding,
      commit: () => {
        for (const t of tri) this.#trigrams.add(t);
        this.#recent = recent;
        this.#opening = opening;
        this.#count = count;
        this.#run = run;
        this.#runFrom = runFrom;
      },
    };
  }
}

/**
 * Collapse over a finished run: the windows' distinct-2 and its slope, the
 * length ratio, the speakers' vocabulary merge, recurring phrases, and the
 * first turn of the first {@linkcode COLLAPSE_PERSIST} collapsed windows.
 *
 * @example A varied run does not collapse
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectCollapse } from "./collapse_detector.ts";
 * const r = detectCollapse([
 *   { agent: 1, text: "The storm took the north jetty and two boats." },
 *   { agent: 2, text: "Then we row to the island at first light." },
 * ]);
 * strictEqual(r.detected, false);
 * ```
 */
export function detectCollapse(turns: readonly SpokenTurn[]): CollapseResult {
  const tracker = new CollapseTracker();
  const windows: CollapseWindow[] = [];
  let found: CollapseFinding | undefined;
  turns.forEach((t, i) => {
    const step = tracker.peek(t.agent, t.text, t.seq ?? i + 1);
    step.commit();
    if (step.finding.window) windows.push(step.finding.window);
    if (step.finding.from_turn !== undefined) found ??= step.finding;
  });
  const first = windows[0];
  const last = windows.at(-1);
  const d2 = windows.map((w) => round(w.distinct_2, 4));
  return {
    detected: found !== undefined,
    from_turn: found?.from_turn ?? null,
    distinct_2: d2,
    distinct_2_slope: windows.length < 2 ? null : round(slope(d2), 4),
    length_ratio: windows.length < 2 || !first || !last || first.mean_words === 0
      ? null
      : round(last.mean_words / first.mean_words, 4),
    vocabulary_merge: first && last
      ? { first: round(first.merge, 4), last: round(last.merge, 4) }
      : null,
    recurring_share: last ? round(last.recurring, 4) : null,
    evidence: found?.evidence ?? null,
  };
}

function _window(turns: readonly _Turn[]): CollapseWindow {
  const bigrams = turns.flatMap((t) => t.bigrams);
  const unigrams = turns.flatMap((t) => t.words);
  const words = (agent: 1 | 2) =>
    new Set(turns.flatMap((t) => (t.agent === agent ? t.content : [])));
  return {
    first_turn: turns[0]!.seq,
    distinct_1: unigrams.length === 0 ? 0 : new Set(unigrams).size / unigrams.length,
    distinct_2: bigrams.length === 0 ? 0 : new Set(bigrams).size / bigrams.length,
    mean_words: turns.reduce((s, t) => s + t.words.length, 0) / turns.length,
    merge: jaccard(words(1), words(2)),
    recurring: turns.reduce((s, t) => s + t.recurring, 0) / turns.length,
  };
}

/** Why window `w` has collapsed against the opening window, or undefined. */
function _collapsed(w: CollapseWindow, opening: CollapseWindow): string | undefined {
  // Distinct-2 misses a refrain of two-word turns (few bigrams, all new); distinct-1 catches it.
  const fell = (["distinct_2", "distinct_1"] as const).find((k) =>
    w[k] <= opening[k] * COLLAPSE_DIVERSITY_SHARE
  );
  if (fell === undefined) return undefined;
  const also: string[] = [];
  if (w.mean_words <= opening.mean_words * COLLAPSE_LENGTH_SHARE) {
    also.push(
      `turns shrank from ${opening.mean_words.toFixed(1)} to ${w.mean_words.toFixed(1)} words`,
    );
  }
  if (w.merge >= opening.merge + COLLAPSE_MERGE_RISE) {
    also.push(
      `the speakers' vocabularies merged (Jaccard ${opening.merge.toFixed(2)} → ${
        w.merge.toFixed(2)
      })`,
    );
  }
  if (w.recurring >= COLLAPSE_RECUR_SHARE) {
    also.push(`${Math.round(w.recurring * 100)}% of the phrases were said before`);
  }
  if (also.length === 0) return undefined;
  const name = fell === "distinct_2" ? "distinct-2" : "distinct-1";
  return `${name} fell from ${opening[fell].toFixed(2)} to ${w[fell].toFixed(2)}; ${
    also.join("; ")
  }`;
}
