/**
 * Sentiment of each turn by VADER (the vader-sentiment port of Hutto and
 * Gilbert's lexicon and rules), and its trajectory per speaker. Agents also
 * label their own replies (`metadata.sentiment`, from ConversationContent);
 * that label is kept beside the score and compared with it, since a model's
 * self-report is cheap but not always right.
 *
 * @module
 */
import { z } from "zod";
import vader from "vader-sentiment";
import type { AgentId } from "../model/dialog_message.ts";
import { mean, round, slope, summarize, Summary } from "./stats.ts";

/** A VADER compound score at or above this is positive (the authors' threshold). */
export const POSITIVE_THRESHOLD = 0.05;
/** A VADER compound score at or below this is negative. */
export const NEGATIVE_THRESHOLD = -0.05;

interface _Vader {
  SentimentIntensityAnalyzer: { polarity_scores(text: string): { compound: number } };
}
const _analyzer = (vader as unknown as _Vader).SentimentIntensityAnalyzer;

const score = z.number().min(-1).max(1);
const count = z.number().int().nonnegative();

/** One speaker's sentiment over the run. */
export const SpeakerSentiment = z.object({
  /** Distribution of the per-turn scores (−1..1). */
  summary: Summary,
  /** Score of the speaker's first and last turn; null without turns. */
  first: score.nullable(),
  last: score.nullable(),
  /** Least-squares change of the score per turn of this speaker. */
  trend_per_turn: z.number().finite(),
  /** How often the agent labelled its own replies with each label. */
  self_reported: z.record(z.string(), count),
});
/** One speaker's sentiment over the run. */
export type SpeakerSentiment = z.infer<typeof SpeakerSentiment>;

/** The `sentiment` section of the analysis. */
export const SentimentAnalysis = z.object({
  method: z.literal("vader"),
  overall: Summary,
  agents: z.object({ "1": SpeakerSentiment, "2": SpeakerSentiment }),
  /**
   * Share of turns labelled positive, neutral or negative by the agent whose
   * label matches VADER's class (±0.05); null when no turn has such a label.
   */
  self_report_agreement: z.number().min(0).max(1).nullable(),
});
/** The `sentiment` section of the analysis. */
export type SentimentAnalysis = z.infer<typeof SentimentAnalysis>;

/** One turn as the sentiment pass sees it. */
export interface SentimentTurn {
  agent: AgentId;
  text: string;
  /** The agent's own label, if it gave one. */
  label?: string | undefined;
}

/**
 * VADER compound score of a text, −1 (most negative) to 1 (most positive):
 * the mean over its sentences, as VADER's authors advise for paragraphs,
 * since one compound over a long text saturates towards ±1. 0 for a text
 * without words.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { sentimentScore } from "./sentiment.ts";
 * ok(sentimentScore("I love this, it is wonderful!") > 0.5);
 * ok(sentimentScore("This is awful. I hate it.") < -0.5);
 * ```
 */
export function sentimentScore(text: string): number {
  const sentences = text.split(/(?<=[.!?…])\s+|\n+/).map((s) => s.trim()).filter((s) =>
    /[\p{L}\p{N}]/u.test(s)
  );
  if (sentences.length === 0) return 0;
  return round(mean(sentences.map((s) => _analyzer.polarity_scores(s).compound)), 4);
}

/**
 * VADER's class of a score: `positive`, `negative` or `neutral`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { sentimentClass } from "./sentiment.ts";
 * strictEqual(sentimentClass(0.3), "positive");
 * strictEqual(sentimentClass(0.01), "neutral");
 * ```
 */
export function sentimentClass(value: number): "positive" | "negative" | "neutral" {
  if (value >= POSITIVE_THRESHOLD) return "positive";
  if (value <= NEGATIVE_THRESHOLD) return "negative";
  return "neutral";
}

/**
 * Scores every turn and summarizes the scores per speaker and overall.
 * `scores[i]` belongs to `turns[i]`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { analyzeSentiment } from "./sentiment.ts";
 * const { summary } = analyzeSentiment([
 *   { agent: 1, text: "What a lovely morning!", label: "positive" },
 *   { agent: 2, text: "It is terrible, everything is ruined.", label: "positive" },
 * ]);
 * strictEqual(summary.self_report_agreement, 0.5);
 * ```
 */
export function analyzeSentiment(
  turns: readonly SentimentTurn[],
): { scores: number[]; summary: SentimentAnalysis } {
  const scores = turns.map((t) => sentimentScore(t.text));
  const speaker = (agent: AgentId): SpeakerSentiment => {
    const idx = turns.flatMap((t, i) => t.agent === agent ? [i] : []);
    const own = idx.map((i) => scores[i] ?? 0);
    const self: Record<string, number> = {};
    for (const i of idx) {
      const label = turns[i]?.label;
      if (label) self[label] = (self[label] ?? 0) + 1;
    }
    return {
      summary: _rounded(own),
      first: own[0] ?? null,
      last: own.at(-1) ?? null,
      trend_per_turn: round(slope(own), 4),
      self_reported: self,
    };
  };
  const judged = turns.flatMap((t, i) =>
    t.label === "positive" || t.label === "negative" || t.label === "neutral"
      ? [t.label === sentimentClass(scores[i] ?? 0)]
      : []
  );
  return {
    scores,
    summary: {
      method: "vader",
      overall: _rounded(scores),
      agents: { "1": speaker(1), "2": speaker(2) },
      self_report_agreement: judged.length === 0
        ? null
        : round(judged.filter(Boolean).length / judged.length, 4),
    },
  };
}

function _rounded(values: readonly number[]): Summary {
  const s = summarize(values);
  return Summary.parse(Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 4)])));
}
