/**
 * Generation figures of a run, per turn and per agent: tokens, prompt
 * growth, speed from Ollama's nanosecond metrics, time to first token, model
 * loads, truncation, wall time, the LLM call, bus overhead and response
 * latency. Time a run spent interrupted is never counted (see `run_clock.ts`).
 *
 * @module
 */
import { z } from "zod";
import { agentForTurn, type DialogMessage } from "../model/dialog_message.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { tokenize } from "./text_similarity.ts";
import { round, slope, summarize, Summary } from "./stats.ts";
import { activeMs, pauseWindow } from "./run_clock.ts";

/** A turn whose model load took longer than this counts as a cold start. */
export const COLD_START_MS = 100;

const nonneg = z.number().finite().nonnegative();
const signed = z.number().finite();
const count = z.number().int().nonnegative();
const similarity = z.number().min(0).max(1).nullable();

/** Speed, latency and size figures for one agent or the whole run. */
export const AgentStats = z.object({
  turns: count,
  tokens_generated: count,
  prompt_tokens: count,
  /** Least-squares growth of prompt tokens per turn (turns that reported them). */
  prompt_tokens_growth_per_turn: z.number().finite(),
  /** Summaries skip zeros: Ollama omits a metric rather than reporting 0. */
  tokens_per_message: Summary,
  tokens_per_second: Summary,
  prompt_tokens_per_second: Summary,
  generation_time_ms: Summary,
  generation_time_ms_total: nonneg,
  time_to_first_token_ms: Summary,
  load_duration_ms_total: nonneg,
  /** Turns with `load_duration_ms` above {@linkcode COLD_START_MS}. */
  cold_starts: count,
  /** Request enqueued → response enqueued, the run's interruption left out. */
  wall_time_ms: Summary,
  wall_time_ms_total: nonneg,
  /** The LLM call as the agent measured it (request sent → last chunk), over turns that recorded it. */
  llm_ms: Summary,
  /**
   * `wall_time_ms − llm_ms` over the turns where the agent measured both,
   * sub-millisecond, never clamped: a negative value is a measuring bug, shown.
   */
  bus_overhead_ms: Summary,
  /** Turns whose bus overhead is unknown (recorded before `llm_ms` existed, or no wall time). */
  bus_overhead_unknown: count,
  /** Previous turn's response (run start for turn 1) → this response. */
  response_latency_ms: Summary,
  words_per_message: Summary,
  /** Replies cut at the token limit (`done_reason` "length"). */
  truncated_replies: count,
  truncated_share: z.number().min(0).max(1),
  errors: count,
  /** Extra LLM calls: `attempts − 1` summed over the turns that recorded `attempts`. */
  retries: count,
  /** Turns that needed more than one attempt. */
  retried_turns: count,
  /**
   * Where the token counts came from, in turns: `reported` by the server,
   * `counted` with the model's tokenizer, `estimated` from the text, `absent`.
   * Turns recorded before sources were kept count as `reported` (Ollama's).
   */
  token_sources: z.object({
    reported: count,
    counted: count,
    estimated: count,
    absent: count,
  }),
});
/** Speed, latency and size figures for one agent or the whole run. */
export type AgentStats = z.infer<typeof AgentStats>;

/** One response's figures; 0 means Ollama did not report it. */
export const TurnRow = z.object({
  seq: z.number().int().min(1),
  agent: z.union([z.literal(1), z.literal(2)]),
  model: z.string(),
  tokens: count,
  prompt_tokens: count,
  tokens_per_second: nonneg,
  prompt_tokens_per_second: nonneg,
  ttft_ms: nonneg,
  load_ms: nonneg,
  generation_ms: nonneg,
  wall_ms: nonneg,
  /** The LLM call as the agent measured it; null when not recorded (older runs). */
  llm_ms: nonneg.nullable(),
  /** `wall_ms − llm_ms`, not clamped; null when either is unknown. */
  bus_overhead_ms: signed.nullable(),
  /** Previous response (or run start) → this response; null when unknown. */
  latency_ms: nonneg.nullable(),
  words: count,
  done_reason: z.string().nullable(),
  /** LLM calls the turn took (1: no retry); null when not recorded (older runs). */
  attempts: z.number().int().min(1).nullable(),
  /** Why the last failed attempt failed (model or server text: escape it); null without a retry. */
  last_error: z.string().nullable(),
  /** VADER compound score, −1..1. */
  sentiment: z.number().min(-1).max(1),
  /** The agent's own label (`metadata.sentiment`), if it gave one. */
  self_sentiment: z.string().nullable(),
  /** Similarity to the story (see `topic_drift.method`); null without a story. */
  setting_similarity: similarity,
  /** Similarity to the previous turn; null for the first. */
  previous_similarity: similarity,
});
/** One response's figures. */
export type TurnRow = z.infer<typeof TurnRow>;

/** The generation part of a {@linkcode TurnRow}; the analysis adds the rest. */
export type GenerationRow = Omit<
  TurnRow,
  "sentiment" | "self_sentiment" | "setting_similarity" | "previous_similarity"
>;

/**
 * The generation figures of one response. `request` is the request it
 * answers and `previousAt` when the turn before it was answered (the run's
 * start for turn 1), both optional.
 */
export function generationRow(
  r: DialogMessage,
  meta: ConversationMeta,
  context: { request?: DialogMessage | undefined; previousAt?: number | undefined } = {},
): GenerationRow {
  const m = r.metadata;
  const agent = m.agent_id ?? agentForTurn(m.sequence_number);
  const pause = pauseWindow(meta);
  // The agent measures wall time with the interruption left out. Older
  // responses lack it: the two stream timestamps give it, minus the pause.
  const requestedAt = context.request?.queue_timestamp;
  const wall = m.wall_time_ms > 0
    ? m.wall_time_ms
    : requestedAt === undefined
    ? 0
    : Math.max(0, activeMs(requestedAt, r.queue_timestamp, pause));
  // llm_ms 0: recorded before the agent measured the call, so unknown.
  const llm = m.llm_ms > 0 ? m.llm_ms : null;
  const since = context.previousAt;
  return {
    seq: m.sequence_number,
    agent,
    model: m.model ?? (agent === 1 ? meta.models.agent1 : meta.models.agent2),
    tokens: m.tokens_generated,
    prompt_tokens: m.prompt_tokens,
    tokens_per_second: round(m.tokens_per_second),
    prompt_tokens_per_second: round(m.prompt_tokens_per_second),
    ttft_ms: round(m.time_to_first_token_ms),
    load_ms: round(m.load_duration_ms),
    generation_ms: round(m.generation_time_ms),
    wall_ms: round(wall),
    llm_ms: llm === null ? null : round(llm),
    bus_overhead_ms: wall > 0 && llm !== null ? round(wall - llm) : null,
    latency_ms: since === undefined
      ? null
      : round(Math.max(0, activeMs(since, r.queue_timestamp, pause))),
    words: tokenize(r.content).length,
    done_reason: m.done_reason ?? null,
    attempts: m.attempts ?? null,
    last_error: m.last_error ?? null,
  };
}

/** Rounded summary; zeros are skipped unless `measuredZeros` says they are real. */
function _summary(values: readonly number[], measuredZeros = false): Summary {
  const s = summarize(measuredZeros ? values : values.filter((v) => v > 0));
  return Summary.parse(Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v)])));
}

/** Totals and summaries over `rows` (one agent's, or all of them). */
export function agentStats(
  rows: readonly GenerationRow[],
  responses: readonly DialogMessage[],
): AgentStats {
  const total = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0));
  const md = responses.map((r) => r.metadata);
  const truncated = rows.filter((r) => r.done_reason === "length").length;
  const prompted = rows.filter((r) => r.prompt_tokens > 0);
  const present = <T>(xs: (T | null)[]) => xs.flatMap((x) => x === null ? [] : [x]);
  return {
    turns: rows.length,
    tokens_generated: total(rows.map((r) => r.tokens)),
    prompt_tokens: total(rows.map((r) => r.prompt_tokens)),
    prompt_tokens_growth_per_turn: round(
      slope(prompted.map((r) => r.prompt_tokens), prompted.map((r) => r.seq)),
    ),
    tokens_per_message: _summary(rows.map((r) => r.tokens)),
    tokens_per_second: _summary(rows.map((r) => r.tokens_per_second)),
    prompt_tokens_per_second: _summary(rows.map((r) => r.prompt_tokens_per_second)),
    generation_time_ms: _summary(rows.map((r) => r.generation_ms)),
    generation_time_ms_total: total(rows.map((r) => r.generation_ms)),
    time_to_first_token_ms: _summary(rows.map((r) => r.ttft_ms)),
    load_duration_ms_total: total(rows.map((r) => r.load_ms)),
    cold_starts: rows.filter((r) => r.load_ms > COLD_START_MS).length,
    wall_time_ms: _summary(rows.map((r) => r.wall_ms)),
    wall_time_ms_total: total(rows.map((r) => r.wall_ms)),
    llm_ms: _summary(present(rows.map((r) => r.llm_ms)), true),
    bus_overhead_ms: _summary(present(rows.map((r) => r.bus_overhead_ms)), true),
    bus_overhead_unknown: rows.filter((r) => r.bus_overhead_ms === null).length,
    response_latency_ms: _summary(present(rows.map((r) => r.latency_ms)), true),
    words_per_message: _summary(rows.map((r) => r.words), true),
    truncated_replies: truncated,
    truncated_share: rows.length === 0 ? 0 : round(truncated / rows.length, 4),
    errors: md.filter((m) => m.error !== undefined && m.error !== "").length,
    retries: rows.reduce((sum, r) => sum + Math.max(0, (r.attempts ?? 1) - 1), 0),
    token_sources: _tokenSources(md),
    retried_turns: rows.filter((r) => (r.attempts ?? 1) > 1).length,
  };
}

/** Turns per token source; `timed` cannot describe a count, so it is read as `counted`. */
function _tokenSources(md: readonly DialogMessage["metadata"][]): AgentStats["token_sources"] {
  const out = { reported: 0, counted: 0, estimated: 0, absent: 0 };
  for (const m of md) {
    const source = m.token_source ?? "reported";
    out[source === "timed" ? "counted" : source]++;
  }
  return out;
}
