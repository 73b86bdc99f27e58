/**
 * Echo: a turn that mostly restates its partner's previous turn (it takes
 * its content words from there and adds almost nothing new), the failure
 * arXiv 2511.09710 calls "echoing" — an agent that gives up its role and
 * mirrors the other. {@linkcode EchoTracker} checks one turn at a time (the
 * manager's live check); {@linkcode detectEcho} runs it over a finished run,
 * so both give the same answer.
 *
 * @module
 */
import { z } from "zod";
import { contentWords, overlapShare } from "./text_similarity.ts";
import type { TrackerStep } from "./tracker_step.ts";

/**
 * A turn echoes when at least this share of its distinct content words were
 * in the partner's previous turn: most of what it talks about is borrowed.
 * 0.6 keeps an ordinary reply (which picks up the partner's topic words but
 * brings its own) below the line; on the labelled set ordinary replies sit
 * at 0.1–0.45.
 */
export const ECHO_OVERLAP = 0.6;
/**
 * …and at most this share of its content words were never said before in
 * the run: a restatement adds almost nothing. 0.25 allows one new word in
 * four (a "so you mean" paraphrase still echoes).
 */
export const ECHO_MAX_NOVELTY = 0.25;
/**
 * Turns with fewer content words than this are never echoes: "Yes, the
 * lamp." shares all its words by accident (the staleness detector covers
 * them).
 */
export const ECHO_MIN_WORDS = 3;
/**
 * A speaker echoing in this many of its own consecutive turns is flagged:
 * one restatement is a confirmation, two in a row is mirroring.
 */
export const ECHO_RUN = 2;

/** What {@linkcode detectEcho} found. */
export const EchoResult = z.object({
  detected: z.boolean(),
  /** First echoing turn of the first run of {@linkcode ECHO_RUN} (one speaker's consecutive turns). */
  from_turn: z.number().int().min(1).nullable(),
  /** Share of each speaker's turns (after the first turn of the run) that echo. */
  share: z.object({ "1": z.number().min(0).max(1), "2": z.number().min(0).max(1) }),
  /** Turn numbers that echo, in order. */
  turns: z.array(z.number().int().min(1)),
  evidence: z.string().nullable(),
});
/** What {@linkcode detectEcho} found. */
export type EchoResult = z.infer<typeof EchoResult>;

/** One checked turn. */
export interface EchoFinding {
  /** This turn echoes its partner's previous turn. */
  echoes: boolean;
  /** The speaker has now echoed {@linkcode ECHO_RUN} own turns in a row; the first of them. */
  run_from?: number;
  evidence?: string;
}

interface _Turn {
  agent: 1 | 2;
  seq: number;
  text: string;
  words: Set<string>;
}

/**
 * Echo detection one turn at a time: keeps the previous turn, the words said
 * so far (bounded by the run's vocabulary) and each speaker's current run.
 * {@linkcode EchoTracker.peek} checks without recording, `commit()` records.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { EchoTracker } from "./echo_detector.ts";
 * const t = new EchoTracker();
 * t.peek(1, "The lighthouse lamp failed during the storm last night.", 1).commit();
 * strictEqual(t.peek(2, "So the lighthouse lamp failed in the storm last night.", 2).finding.echoes, true);
 * ```
 */
export class EchoTracker {
  #previous: _Turn | undefined;
  readonly #said = new Set<string>();
  readonly #run = { 1: 0, 2: 0 };
  readonly #runFrom = { 1: 0, 2: 0 };

  /** Checks turn `seq`, spoken by `agent`, without recording it. */
  peek(agent: 1 | 2, text: string, seq: number): TrackerStep<EchoFinding> {
    const words = new Set(contentWords(text));
    const prev = this.#previous;
    const overlap = prev && prev.agent !== agent ? overlapShare(words, prev.words) : 0;
    const novelty = words.size === 0 ? 0 : 1 - overlapShare(words, this.#said);
    const echoes = words.size >= ECHO_MIN_WORDS && overlap >= ECHO_OVERLAP &&
      novelty <= ECHO_MAX_NOVELTY;
    const run = echoes ? this.#run[agent] + 1 : 0;
    const runFrom = echoes ? (run === 1 ? seq : this.#runFrom[agent]) : 0;
    const finding: EchoFinding = { echoes };
    if (echoes && prev) {
      finding.evidence = `turn ${seq} restates turn ${prev.seq} (${
        Math.round(overlap * 100)
      }% of its content words from there, ${Math.round(novelty * 100)}% new)`;
    }
    if (run >= ECHO_RUN) finding.run_from = runFrom;
    return {
      finding,
      commit: () => {
        for (const w of words) this.#said.add(w);
        this.#previous = { agent, seq, text, words };
        this.#run[agent] = run;
        this.#runFrom[agent] = runFrom;
      },
    };
  }
}

/** A turn as the insight detectors read it. */
export interface SpokenTurn {
  agent: 1 | 2;
  text: string;
  /** Turn number reported; the 1-based position by default. */
  seq?: number;
}

/**
 * Echo over a finished run: which turns echo, each speaker's share, and the
 * first run of {@linkcode ECHO_RUN} consecutive echoing turns by one speaker.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectEcho } from "./echo_detector.ts";
 * const r = detectEcho([
 *   { agent: 1, text: "We should repair the lamp before the ships arrive tonight." },
 *   { agent: 2, text: "Yes, repair the lamp before the ships arrive tonight." },
 *   { agent: 1, text: "The oil store is low and the wick is burnt out." },
 *   { agent: 2, text: "The oil store is low, and the wick is burnt out." },
 * ]);
 * strictEqual(r.from_turn, 2);
 * ```
 */
export function detectEcho(turns: readonly SpokenTurn[]): EchoResult {
  const tracker = new EchoTracker();
  const echoed: number[] = [];
  const counted = { 1: 0, 2: 0 };
  const hits = { 1: 0, 2: 0 };
  let first: EchoFinding | undefined;
  turns.forEach((t, i) => {
    const seq = t.seq ?? i + 1;
    const step = tracker.peek(t.agent, t.text, seq);
    step.commit();
    if (i > 0) counted[t.agent]++;
    if (!step.finding.echoes) return;
    hits[t.agent]++;
    echoed.push(seq);
    if (step.finding.run_from !== undefined) first ??= step.finding;
  });
  const share = (a: 1 | 2) => counted[a] === 0 ? 0 : Math.round(hits[a] / counted[a] * 1e4) / 1e4;
  return {
    detected: first !== undefined,
    from_turn: first?.run_from ?? null,
    share: { "1": share(1), "2": share(2) },
    turns: echoed,
    evidence: first?.evidence ?? null,
  };
}
