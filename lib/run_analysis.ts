/**
 * Reads a finished run (its metadata, requests and responses) and reports
 * what happened: speed and latency per agent, turn-taking and repetition,
 * and flags worth a look. {@linkcode RunAnalysis} is the stable `--json`
 * output of `deno task analyze`.
 *
 * @module
 */
import { z } from "zod";
import { agentForTurn, type AgentId, type DialogMessage } from "./dialog_message.ts";
import { ConversationStatus, StopReason } from "./conversation_meta.ts";
import type { ConversationMeta } from "./conversation_meta.ts";
import { computeDialogueMetrics, DialogueMetrics, tokenize } from "./dialogue_metrics.ts";
import { percentile, round, summarize, Summary } from "./stats.ts";

/** A finished run as read back from Redis. */
export interface Transcript {
  meta: ConversationMeta;
  /** Agent responses in turn order (sequence_number 1..n; agent 1 answers odd turns, agent 2 even). */
  responses: DialogMessage[];
  /** The manager's requests, in turn order; requests[i] is answered by the response with the same sequence_number. May be empty. */
  requests: DialogMessage[];
}

/** A turn whose model load took longer than this counts as a cold start. */
export const COLD_START_MS = 100;
/** An agent speaking more than this share of the words makes a run one-sided. */
export const ONE_SIDED_SHARE = 0.7;
/** A silence at the end of a run at least this long (and ≥ 3 × p95 wall time) is a stall. */
export const STALL_MIN_MS = 60_000;

const figure = z.number().finite();
const nonneg = z.number().finite().nonnegative();
const count = z.number().int().nonnegative();
const nullableRatio = z.number().finite().nonnegative().nullable();

/** Speed, latency and size figures for one agent or the whole run. */
export const AgentStats = z.object({
  turns: count,
  tokens_generated: count,
  prompt_tokens: count,
  /** Summaries skip zeros: Ollama omits a metric rather than reporting 0. */
  tokens_per_second: Summary,
  prompt_tokens_per_second: Summary,
  generation_time_ms: Summary,
  generation_time_ms_total: nonneg,
  time_to_first_token_ms: Summary,
  load_duration_ms_total: nonneg,
  /** Turns with `load_duration_ms` above {@linkcode COLD_START_MS}. */
  cold_starts: count,
  /** Request enqueued → response enqueued. */
  wall_time_ms: Summary,
  /** `wall_time_ms − total_duration_ms` where both were measured, at least 0. */
  bus_overhead_ms: Summary,
  words_per_message: Summary,
  /** Replies cut at the token limit (`done_reason` "length"). */
  truncated_replies: count,
  truncated_share: z.number().min(0).max(1),
  errors: count,
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
  ttft_ms: nonneg,
  generation_ms: nonneg,
  wall_ms: nonneg,
  /** Null when wall or total duration is unknown. */
  bus_overhead_ms: nonneg.nullable(),
  words: count,
  done_reason: z.string().nullable(),
});
/** One response's figures. */
export type TurnRow = z.infer<typeof TurnRow>;

/** Something a reader of the report should look at. */
export const Flag = z.object({
  code: z.enum(["loop", "one_sided", "truncated", "errors", "stalled"]),
  message: z.string(),
  /** First turn concerned, when there is one. */
  from_turn: z.number().int().min(1).optional(),
});
/** Something a reader of the report should look at. */
export type Flag = z.infer<typeof Flag>;

/**
 * The analyzer's output. New measures (sentiment, topic drift, an LLM judge)
 * arrive as new top-level sections, optional to readers; existing fields
 * keep their names and meaning, and a change that breaks them bumps
 * `schema_version`. Readers should ignore flag codes they do not know.
 */
export const RunAnalysis = z.object({
  schema_version: z.literal(1),
  conversation: z.object({
    id: z.string(),
    status: ConversationStatus,
    stop_reason: StopReason.nullable(),
    error: z.string().nullable(),
    models: z.object({
      manager: z.string(),
      agent1: z.string(),
      agent2: z.string(),
    }),
    /** The larger of the recorded turn count and the responses found. */
    turns: count,
    max_turns: count,
    /** Configured time limit. */
    duration_seconds: figure,
    started_at: nonneg.nullable(),
    ended_at: nonneg.nullable(),
    /** Actual run time, from start to end (or the last response). */
    duration_ms: nonneg.nullable(),
    turns_vs_max: z.number().finite().nonnegative(),
    duration_vs_limit: nullableRatio,
  }),
  overall: AgentStats,
  agents: z.object({ "1": AgentStats, "2": AgentStats }),
  per_turn: z.array(TurnRow),
  dialogue: DialogueMetrics,
  flags: z.array(Flag),
});
/** The analyzer's output. */
export type RunAnalysis = z.infer<typeof RunAnalysis>;

/** Rounded summary; zeros are skipped unless `measuredZeros` says they are real. */
function _summary(values: readonly number[], measuredZeros = false): Summary {
  const s = summarize(measuredZeros ? values : values.filter((v) => v > 0));
  return Summary.parse(
    Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v)])),
  );
}

function _agentStats(
  rows: readonly TurnRow[],
  responses: readonly DialogMessage[],
): AgentStats {
  const total = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0));
  const md = responses.map((r) => r.metadata);
  const truncated = rows.filter((r) => r.done_reason === "length").length;
  return {
    turns: rows.length,
    tokens_generated: total(rows.map((r) => r.tokens)),
    prompt_tokens: total(rows.map((r) => r.prompt_tokens)),
    tokens_per_second: _summary(rows.map((r) => r.tokens_per_second)),
    prompt_tokens_per_second: _summary(
      md.map((m) => m.prompt_tokens_per_second),
    ),
    generation_time_ms: _summary(rows.map((r) => r.generation_ms)),
    generation_time_ms_total: total(rows.map((r) => r.generation_ms)),
    time_to_first_token_ms: _summary(rows.map((r) => r.ttft_ms)),
    load_duration_ms_total: total(md.map((m) => m.load_duration_ms)),
    cold_starts: md.filter((m) => m.load_duration_ms > COLD_START_MS).length,
    wall_time_ms: _summary(rows.map((r) => r.wall_ms)),
    bus_overhead_ms: _summary(
      rows.flatMap((r) => r.bus_overhead_ms === null ? [] : [r.bus_overhead_ms]),
      true,
    ),
    words_per_message: _summary(rows.map((r) => r.words), true),
    truncated_replies: truncated,
    truncated_share: rows.length === 0 ? 0 : round(truncated / rows.length, 4),
    errors: md.filter((m) => m.error !== undefined && m.error !== "").length,
  };
}

function _turnRow(
  r: DialogMessage,
  meta: ConversationMeta,
  request?: DialogMessage,
): TurnRow {
  const m = r.metadata;
  const agent = m.agent_id ?? agentForTurn(m.sequence_number);
  // Older responses may lack wall time; the two stream timestamps give it.
  const wall = m.wall_time_ms > 0 ? m.wall_time_ms : Math.max(
    0,
    r.queue_timestamp - (request?.queue_timestamp ?? r.queue_timestamp),
  );
  return {
    seq: m.sequence_number,
    agent,
    model: m.model ?? (agent === 1 ? meta.models.agent1 : meta.models.agent2),
    tokens: m.tokens_generated,
    prompt_tokens: m.prompt_tokens,
    tokens_per_second: round(m.tokens_per_second),
    ttft_ms: round(m.time_to_first_token_ms),
    generation_ms: round(m.generation_time_ms),
    wall_ms: round(wall),
    bus_overhead_ms: wall > 0 && m.total_duration_ms > 0
      ? round(Math.max(0, wall - m.total_duration_ms))
      : null,
    words: tokenize(r.content).length,
    done_reason: m.done_reason ?? null,
  };
}

function _turns(turns: readonly number[]): string {
  const shown = turns.slice(0, 8).join(", ");
  const label = turns.length === 1 ? "turn" : "turns";
  return `${label} ${shown}${turns.length > 8 ? ", …" : ""}`;
}

function _flags(t: Transcript, a: Omit<RunAnalysis, "flags">): Flag[] {
  const flags: Flag[] = [];
  const { loop, turn_taking } = a.dialogue;
  if (loop.detected) {
    const evidence = loop.evidence ?? "see the transcript";
    flags.push({
      code: "loop",
      message: `Agents are repeating each other: ${evidence}`,
      ...(loop.from_turn === undefined ? {} : { from_turn: loop.from_turn }),
    });
  }
  for (const agent of [1, 2] as const) {
    const share = turn_taking.word_share?.[agent] ?? 0;
    if (share > ONE_SIDED_SHARE) {
      const percent = Math.round(share * 100);
      flags.push({
        code: "one_sided",
        message: `Agent ${agent} spoke ${percent}% of the words`,
      });
    }
  }
  const cut = a.per_turn.flatMap((r) => r.done_reason === "length" ? [r.seq] : []);
  if (cut.length > 0) {
    const what = cut.length === 1 ? "1 reply was" : `${cut.length} replies were`;
    flags.push({
      code: "truncated",
      message: `${what} cut at the token limit (${_turns(cut)})`,
      from_turn: cut[0] ?? 1,
    });
  }
  const errored = t.responses.filter((r) => (r.metadata.error ?? "") !== "");
  if (errored.length > 0) {
    const first = errored[0]?.metadata;
    const seq = first?.sequence_number ?? 1;
    const what = errored.length === 1 ? "1 turn" : `${errored.length} turns`;
    const detail = (first?.error ?? "").slice(0, 200);
    flags.push({
      code: "errors",
      message: `${what} failed; first at turn ${seq}: ${detail}`,
      from_turn: seq,
    });
  }
  const stall = _stall(t, a);
  if (stall) flags.push(stall);
  return flags;
}

/**
 * A run that ended after a long silence waiting for a reply that never came:
 * at least {@linkcode STALL_MIN_MS} and three times the p95 wall time between
 * the last response (or the start) and the end, with turns still to go.
 */
function _stall(
  t: Transcript,
  a: Omit<RunAnalysis, "flags">,
): Flag | undefined {
  const { ended_at, started_at } = a.conversation;
  const last = t.responses.at(-1);
  const since = last?.queue_timestamp ?? started_at;
  if (ended_at === null || since === null || since === undefined) {
    return undefined;
  }
  // Nothing was owed after the last allowed turn.
  if ((last?.metadata.sequence_number ?? 0) >= a.conversation.max_turns) {
    return undefined;
  }
  const silence = ended_at - since;
  const walls = a.per_turn.map((r) => r.wall_ms).filter((w) => w > 0);
  const limit = Math.max(STALL_MIN_MS, 3 * percentile(walls, 95));
  if (silence < limit) return undefined;
  const next = (last?.metadata.sequence_number ?? 0) + 1;
  return {
    code: "stalled",
    message: `No reply for ${Math.round(silence / 1000)} s before the run ended; ` +
      `turn ${next} never arrived`,
    from_turn: next,
  };
}

/**
 * Analyzes a finished run. Metrics Ollama did not report (0) are left out of
 * speed and latency summaries rather than counted as zero; every figure is
 * finite, so the result serializes to JSON as is.
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
export function analyzeRun(t: Transcript): RunAnalysis {
  const { meta } = t;
  const responses = [...t.responses].sort(
    (x, y) => x.metadata.sequence_number - y.metadata.sequence_number,
  );
  const requests = new Map(
    t.requests.map((r) => [r.metadata.sequence_number, r]),
  );
  const rows = responses.map((r) => _turnRow(r, meta, requests.get(r.metadata.sequence_number)));
  const pick = (agent: AgentId) => {
    const idx = rows.flatMap((r, i) => (r.agent === agent ? [i] : []));
    return _agentStats(
      idx.map((i) => rows[i] as TurnRow),
      idx.map((i) => responses[i] as DialogMessage),
    );
  };
  const startedAt = meta.started_at ?? t.requests[0]?.queue_timestamp ?? null;
  const endedAt = meta.ended_at ?? responses.at(-1)?.queue_timestamp ?? null;
  const durationMs = startedAt !== null && endedAt !== null && endedAt >= startedAt
    ? endedAt - startedAt
    : null;
  const turns = Math.max(meta.turns, responses.length);
  const analysis: Omit<RunAnalysis, "flags"> = {
    schema_version: 1,
    conversation: {
      id: meta.id,
      status: meta.status,
      stop_reason: meta.stop_reason ?? null,
      error: meta.error ?? null,
      models: { ...meta.models },
      turns,
      max_turns: meta.max_turns,
      duration_seconds: meta.duration_seconds,
      started_at: startedAt,
      ended_at: endedAt,
      duration_ms: durationMs,
      turns_vs_max: round(turns / meta.max_turns, 4),
      duration_vs_limit: durationMs === null
        ? null
        : round(durationMs / (meta.duration_seconds * 1000), 4),
    },
    overall: _agentStats(rows, responses),
    agents: { "1": pick(1), "2": pick(2) },
    per_turn: rows,
    dialogue: computeDialogueMetrics(
      responses.map((r, i) => ({
        agent: rows[i]?.agent ?? 1,
        text: r.content,
        tokens: r.metadata.tokens_generated,
        seq: r.metadata.sequence_number,
      })),
    ),
  };
  return { ...analysis, flags: _flags({ ...t, responses }, analysis) };
}
