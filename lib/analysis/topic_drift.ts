/**
 * Topic drift: how close each turn stays to the story (its setting and
 * initial situation) and to the turn before it. Lexical overlap of content
 * words by default; cosine similarity of embeddings from an embedding
 * model (through the backend seam) when one is configured, which also sees synonyms and
 * paraphrase.
 *
 * @module
 */
import { z } from "zod";
import type { AgentId } from "../model/dialog_message.ts";
import type { LlmBackend } from "../llm/llm_backend.ts";
import { mean, round } from "./stats.ts";
import { cosineSimilarity, lexicalSimilarity } from "./text_similarity.ts";

/** A turn is off topic below this share of the opening turns' similarity to the story. */
export const OFF_TOPIC_SHARE = 0.5;
/** Consecutive off-topic turns that make the run drift. */
export const DRIFT_RUN = 3;
/** Opening turns whose similarity to the story sets the baseline. */
const BASELINE_TURNS = 2;
/** Texts per `/api/embed` request. */
const EMBED_BATCH = 16;

const similarity = z.number().min(0).max(1);
const meanSimilarity = z.object({ overall: similarity, "1": similarity, "2": similarity })
  .nullable();

/** The `topic_drift` section of the analysis. Drift of a turn is 1 − its similarity to the story. */
export const TopicDrift = z.object({
  method: z.enum(["lexical", "embedding"]),
  /** Embedding model, when `method` is `embedding`. */
  model: z.string().nullable(),
  /** Mean similarity to the story; null when the run stored no scenario. */
  setting_similarity: meanSimilarity,
  /** Mean similarity of each turn to the one before it (turn 1 excluded). */
  previous_similarity: meanSimilarity,
  /** Mean setting similarity of the first two turns; null without a story. */
  baseline: similarity.nullable(),
  /** Turns less than half as close to the story as the baseline. */
  off_topic_turns: z.array(z.number().int().min(1)),
  /** First of three consecutive off-topic turns, if that happened. */
  drift_from_turn: z.number().int().min(1).nullable(),
});
/** The `topic_drift` section of the analysis. */
export type TopicDrift = z.infer<typeof TopicDrift>;

/** One turn as the drift measure sees it. */
export interface DriftTurn {
  agent: AgentId;
  text: string;
  seq: number;
}

/** Embeddings of the story and of every turn, in turn order. */
export interface TurnEmbeddings {
  model: string;
  /** Null when there is no story to embed. */
  setting: number[] | null;
  turns: number[][];
}

/** Per-turn similarities; `setting[i]` and `previous[i]` belong to turn i. */
export interface DriftMeasure {
  setting: (number | null)[];
  previous: (number | null)[];
  summary: TopicDrift;
}

/**
 * Similarity of each turn to the story and to the previous turn, with the
 * off-topic turns and where a drift began. `embeddings`, when given, replace
 * the lexical measure and must cover every turn.
 *
 * @throws {RangeError} When `embeddings` do not match the turns.
 *
 * @example An off-topic turn drifts further than an on-topic one
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { measureTopicDrift } from "./topic_drift.ts";
 * const m = measureTopicDrift([
 *   { agent: 1, seq: 1, text: "The lighthouse lamp failed in the storm." },
 *   { agent: 2, seq: 2, text: "My favourite pizza has basil and olives." },
 * ], "A lighthouse during a winter storm; the lamp has failed.");
 * ok((m.setting[0] ?? 0) > (m.setting[1] ?? 0));
 * ```
 */
export function measureTopicDrift(
  turns: readonly DriftTurn[],
  story: string | null,
  embeddings?: TurnEmbeddings,
): DriftMeasure {
  if (embeddings && embeddings.turns.length !== turns.length) {
    throw new RangeError(
      `Cannot measure topic drift as the embeddings must cover every turn: current counts are ${embeddings.turns.length} and ${turns.length}`,
    );
  }
  const sim = (i: number, j: number | "story"): number => {
    const a = turns[i]?.text ?? "";
    if (embeddings) {
      const u = embeddings.turns[i] ?? [];
      const v = j === "story" ? embeddings.setting ?? [] : embeddings.turns[j] ?? [];
      return round(cosineSimilarity(u, v), 4);
    }
    return round(lexicalSimilarity(a, j === "story" ? story ?? "" : turns[j]?.text ?? ""), 4);
  };
  const hasStory = story !== null && story.trim() !== "";
  const setting = turns.map((_, i) => hasStory ? sim(i, "story") : null);
  const previous = turns.map((_, i) => i === 0 ? null : sim(i, i - 1));
  const opening = setting.slice(0, BASELINE_TURNS).filter((v): v is number => v !== null);
  const baseline = opening.length === 0 ? null : round(mean(opening), 4);
  const off = baseline === null || baseline === 0
    ? []
    : turns.flatMap((_, i) => (setting[i] ?? 0) < baseline * OFF_TOPIC_SHARE ? [i] : []);
  let driftFrom: number | null = null;
  for (let k = 0; k + DRIFT_RUN <= off.length && driftFrom === null; k++) {
    const first = off[k] ?? 0;
    if (off[k + DRIFT_RUN - 1] === first + DRIFT_RUN - 1) driftFrom = turns[first]?.seq ?? null;
  }
  return {
    setting,
    previous,
    summary: {
      method: embeddings ? "embedding" : "lexical",
      model: embeddings?.model ?? null,
      setting_similarity: hasStory ? _means(turns, setting) : null,
      previous_similarity: turns.length < 2 ? null : _means(turns, previous),
      baseline,
      off_topic_turns: off.map((i) => turns[i]?.seq ?? i + 1),
      drift_from_turn: driftFrom,
    },
  };
}

function _means(turns: readonly DriftTurn[], values: readonly (number | null)[]) {
  const pick = (agent?: AgentId) =>
    round(
      mean(values.flatMap((v, i) =>
        v !== null && (agent === undefined || turns[i]?.agent === agent) ? [v] : []
      )),
      4,
    );
  return { overall: pick(), "1": pick(1), "2": pick(2) };
}

/** What {@linkcode embedTurns} embeds with. */
export interface EmbedOptions {
  /** The backend that serves the embedding model (Ollama, OpenAI-compatible, embedded). */
  backend: LlmBackend;
  /** An embedding model, e.g. `nomic-embed-text`. */
  model: string;
  signal?: AbortSignal;
}

/**
 * Embeds the story and every turn through the backend seam, batched.
 *
 * @throws {DialogueError} `llm_unavailable` when the backend cannot be
 * reached, `model_not_found` naming how to get the model, `llm_transient` or
 * `invalid_output` for another failure or a malformed answer.
 */
export async function embedTurns(
  story: string | null,
  texts: readonly string[],
  options: EmbedOptions,
): Promise<TurnEmbeddings> {
  const inputs = story === null ? [...texts] : [story, ...texts];
  const vectors: number[][] = [];
  for (let i = 0; i < inputs.length; i += EMBED_BATCH) {
    vectors.push(...await _embedBatch(inputs.slice(i, i + EMBED_BATCH), options));
  }
  return {
    model: options.model,
    setting: story === null ? null : vectors[0] ?? null,
    turns: story === null ? vectors : vectors.slice(1),
  };
}

async function _embedBatch(input: string[], options: EmbedOptions): Promise<number[][]> {
  return await options.backend.embed(options.model, input, {
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
