/**
 * Reads a finished run (its metadata, requests and responses) and reports
 * what happened: speed and latency per agent, turn-taking and repetition,
 * sentiment, topic drift, optionally a model's verdict on persona
 * consistency, and flags worth a look. {@linkcode RunAnalysis} is the stable
 * `--json` output of `deno task analyze`, documented in
 * `docs/analysis-schema.md`.
 *
 * @module
 */
import { z } from "zod";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { ConversationStatus, StopReason } from "../model/conversation_meta.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { computeDialogueMetrics, DialogueMetrics } from "./dialogue_metrics.ts";
import {
  AgentStats,
  agentStats,
  type GenerationRow,
  generationRow,
  TurnRow,
} from "./generation_stats.ts";
import { Flag, flagsFor } from "./analysis_flags.ts";
import { analyzeSentiment, SentimentAnalysis } from "./sentiment.ts";
import { measureTopicDrift, TopicDrift, type TurnEmbeddings } from "./topic_drift.ts";
import { PersonaJudgement } from "./persona_judge.ts";
import { round } from "./stats.ts";
import { pauseWindow } from "./run_clock.ts";
import { RunSettings, runSettings } from "./run_settings.ts";
import { Insight, measureInsight } from "./insight.ts";
import { InputSource } from "./input_source.ts";
import type { PersonaText } from "./persona_break.ts";

export { AgentStats, COLD_START_MS, TurnRow } from "./generation_stats.ts";
export { Flag, ONE_SIDED_SHARE, STALL_MIN_MS } from "./analysis_flags.ts";

/** A finished run as read back from Redis. */
export interface Transcript {
  meta: ConversationMeta;
  /** Agent responses in turn order (sequence_number 1..n; agent 1 answers odd turns, agent 2 even). */
  responses: DialogMessage[];
  /** The manager's requests, in turn order; requests[i] is answered by the response with the same sequence_number. May be empty. */
  requests: DialogMessage[];
}

const figure = z.number().finite();
const nonneg = z.number().finite().nonnegative();
const count = z.number().int().nonnegative();

/**
 * The analyzer's output. New measures arrive as new keys; existing fields
 * keep their names and meaning, and a change that breaks them bumps
 * `schema_version`. Readers should ignore keys and flag codes they do not
 * know.
 */
export const RunAnalysis = z.object({
  schema_version: z.literal(1),
  conversation: z.object({
    id: z.string(),
    status: ConversationStatus,
    stop_reason: StopReason.nullable(),
    error: z.string().nullable(),
    models: z.object({ manager: z.string(), agent1: z.string(), agent2: z.string() }),
    /** Persona names from the stored scenario; null without one. */
    personas: z.object({ "1": z.string(), "2": z.string() }).nullable(),
    /** The larger of the recorded turn count and the responses found. */
    turns: count,
    max_turns: count,
    /** Configured time limit. */
    duration_seconds: figure,
    started_at: nonneg.nullable(),
    ended_at: nonneg.nullable(),
    /** Actual run time, from start to end (or the last response), minus the time it was interrupted. */
    duration_ms: nonneg.nullable(),
    /** Time the run spent interrupted (`meta.paused_ms`), left out of every other figure. */
    paused_ms: nonneg,
    turns_vs_max: z.number().finite().nonnegative(),
    duration_vs_limit: z.number().finite().nonnegative().nullable(),
    /**
     * Set when the run has no turn to analyse: why (its error, its stop
     * reason or its status); every figure below is then empty. Null otherwise.
     */
    nothing_to_analyse: z.string().nullable(),
  }),
  /** What the run was generated with, from its stored config (v1.4). */
  settings: RunSettings,
  overall: AgentStats,
  agents: z.object({ "1": AgentStats, "2": AgentStats }),
  per_turn: z.array(TurnRow),
  dialogue: DialogueMetrics,
  sentiment: SentimentAnalysis,
  topic_drift: TopicDrift,
  /** Model-judged persona consistency; null unless `--judge-model` was given. */
  persona_judge: PersonaJudgement.nullable(),
  /** Echo, persona break, collapse and linguistic coordination (see `insight.ts`). */
  insight: Insight,
  /**
   * Where the transcript came from when read with `analyze --input FILE`
   * (and which figures the file lacks, null in the JSON); null from Redis.
   */
  source: InputSource.nullable(),
  flags: z.array(Flag),
});
/** The analyzer's output. */
export type RunAnalysis = z.infer<typeof RunAnalysis>;

/** Measures computed outside {@linkcode analyzeRun} because they need a model. */
export interface AnalysisExtras {
  /** Embeddings of the story and turns; replace the lexical drift measure. */
  embeddings?: TurnEmbeddings | undefined;
  /** A judge model's verdict (see `persona_judge.ts`). */
  personaJudge?: PersonaJudgement | undefined;
  /**
   * Embeddings of the two personas' texts (`personaText`), in the model of
   * `embeddings`; with them persona breaks are found by embeddings.
   */
  personaEmbeddings?: readonly [number[], number[]] | undefined;
  /** Personas for a transcript without a stored scenario (a file read with `--input`). */
  personas?: readonly [PersonaText, PersonaText] | null | undefined;
  /** Text to measure topic drift against when there is no stored scenario (a file's system prompt). */
  story?: string | null | undefined;
  /** Set for a transcript read with `--input`. */
  source?: InputSource | undefined;
}

/**
 * The text turns are compared with for topic drift: the scenario's setting
 * and initial situation, and each persona's background and goal (what the
 * conversation is meant to be about); null when the run stored no scenario.
 */
export function storyText(meta: ConversationMeta): string | null {
  const scenario = meta.scenario;
  if (!scenario) return null;
  const { story, personas } = scenario;
  return [
    story.setting,
    story.initial_situation,
    ...personas.flatMap((p) => [p.background, p.goal]),
  ].join("\n");
}

/**
 * Why a run without responses has nothing to analyse: its error, else its
 * stop reason, else its status.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { nothingToAnalyse } from "./run_analysis.ts";
 * strictEqual(
 *   nothingToAnalyse({ status: "failed", stop_reason: "error", error: "model not found" }),
 *   "the run failed before its first turn: model not found",
 * );
 * ```
 */
export function nothingToAnalyse(
  meta: Pick<ConversationMeta, "status" | "stop_reason" | "error">,
): string {
  if (meta.error) return `the run failed before its first turn: ${meta.error}`;
  if (meta.stop_reason) return `the run stopped (${meta.stop_reason}) before its first turn`;
  if (meta.status === "pending" || meta.status === "running") {
    return `the run is ${meta.status} and has no turn yet`;
  }
  return `the run recorded no turn (status ${meta.status})`;
}

/**
 * Analyzes a finished run. Metrics Ollama did not report (0) are left out of
 * speed and latency summaries rather than counted as zero; every figure is
 * finite, so the result serializes to JSON as is. Pure: measures that need a
 * model come in through `extras`.
 *
 * @throws {RangeError} When `extras.embeddings` do not cover every turn.
 *
 * @example A run that never started
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { analyzeRun } from "./run_analysis.ts";
 * const analysis = analyzeRun({
 *   meta: {
 *     id: "c1", status: "failed", created_at: 0, turns: 0, max_turns: 10,
 *     duration_seconds: 60, models: { manager: "m", agent1: "a", agent2: "b" },
 *     config: {},
 *   },
 *   responses: [],
 *   requests: [],
 * });
 * strictEqual(analysis.overall.tokens_per_second.mean, 0); // not NaN
 * ```
 */
export function analyzeRun(t: Transcript, extras: AnalysisExtras = {}): RunAnalysis {
  const { meta } = t;
  const responses = [...t.responses].sort(
    (x, y) => x.metadata.sequence_number - y.metadata.sequence_number,
  );
  const requests = new Map(t.requests.map((r) => [r.metadata.sequence_number, r]));
  const startedAt = meta.started_at ?? t.requests[0]?.queue_timestamp ?? null;
  const endedAt = meta.ended_at ?? responses.at(-1)?.queue_timestamp ?? null;
  const generation = responses.map((r, i) =>
    generationRow(r, meta, {
      request: requests.get(r.metadata.sequence_number),
      previousAt: i === 0 ? startedAt ?? undefined : responses[i - 1]?.queue_timestamp,
    })
  );
  const settings = runSettings(meta);
  const turns = generation.map((g, i) => ({
    agent: g.agent,
    text: responses[i]?.content ?? "",
    seq: g.seq,
    tokens: g.tokens,
    // With agents.output "text" the agent asks for no label and records "neutral" as filler.
    label: settings.output === "text" ? undefined : responses[i]?.metadata.sentiment,
  }));
  const sentiment = analyzeSentiment(turns);
  const drift = measureTopicDrift(
    turns,
    storyText(meta) ?? extras.story ?? null,
    extras.embeddings,
  );
  const rows: TurnRow[] = generation.map((g, i) => ({
    ...g,
    sentiment: sentiment.scores[i] ?? 0,
    self_sentiment: turns[i]?.label ?? null,
    setting_similarity: drift.setting[i] ?? null,
    previous_similarity: drift.previous[i] ?? null,
  }));
  const pick = (agent: AgentId) => {
    const idx = generation.flatMap((r, i) => (r.agent === agent ? [i] : []));
    return agentStats(
      idx.map((i) => generation[i] as GenerationRow),
      idx.map((i) => responses[i] as DialogMessage),
    );
  };
  const pausedMs = meta.paused_ms ?? 0;
  const activeRun = startedAt !== null && endedAt !== null ? endedAt - startedAt - pausedMs : -1;
  const durationMs = activeRun >= 0 ? activeRun : null;
  const turnCount = Math.max(meta.turns, responses.length);
  const personas: readonly PersonaText[] | undefined = meta.scenario?.personas ??
    extras.personas ?? undefined;
  const dialogue = computeDialogueMetrics(turns);
  const insight = measureInsight(
    turns,
    personas && personas[0] && personas[1] ? [personas[0], personas[1]] : null,
    extras.personaEmbeddings && extras.embeddings
      ? { personas: extras.personaEmbeddings, turns: extras.embeddings.turns }
      : undefined,
  );
  return {
    schema_version: 1,
    conversation: {
      id: meta.id,
      status: meta.status,
      stop_reason: meta.stop_reason ?? null,
      error: meta.error ?? null,
      models: { ...meta.models },
      personas: personas ? { "1": personas[0]?.name ?? "", "2": personas[1]?.name ?? "" } : null,
      turns: turnCount,
      max_turns: meta.max_turns,
      duration_seconds: meta.duration_seconds,
      started_at: startedAt,
      ended_at: endedAt,
      duration_ms: durationMs,
      paused_ms: pausedMs,
      turns_vs_max: round(turnCount / meta.max_turns, 4),
      duration_vs_limit: durationMs === null
        ? null
        : round(durationMs / (meta.duration_seconds * 1000), 4),
      nothing_to_analyse: responses.length === 0 ? nothingToAnalyse(meta) : null,
    },
    settings,
    overall: agentStats(generation, responses),
    agents: { "1": pick(1), "2": pick(2) },
    per_turn: rows,
    dialogue,
    sentiment: sentiment.summary,
    topic_drift: drift.summary,
    persona_judge: extras.personaJudge ?? null,
    insight,
    source: extras.source ?? null,
    flags: flagsFor({
      insight,
      responses,
      rows,
      dialogue,
      drift: drift.summary,
      maxTurns: meta.max_turns,
      endedAt,
      startedAt,
      pause: pauseWindow(meta),
    }),
  };
}
