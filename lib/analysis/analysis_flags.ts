/**
 * The flags of an analysis: the few things a reader should look at, each
 * with the turn it starts from — a loop, a stale or drifting conversation,
 * a one-sided one, an agent echoing its partner, leaving its persona, a run
 * collapsing, truncated or failed replies, a turn measured with a
 * negative bus overhead (a measuring bug), a stall before the end.
 *
 * @module
 */
import { z } from "zod";
import type { DialogMessage } from "../model/dialog_message.ts";
import type { DialogueMetrics } from "./dialogue_metrics.ts";
import type { TurnRow } from "./generation_stats.ts";
import type { TopicDrift } from "./topic_drift.ts";
import type { Insight } from "./insight.ts";
import { percentile } from "./stats.ts";
import { activeMs, type PauseWindow } from "./run_clock.ts";

/** An agent speaking more than this share of the words makes a run one-sided. */
export const ONE_SIDED_SHARE = 0.7;
/** A silence at the end of a run at least this long (and ≥ 3 × p95 wall time) is a stall. */
export const STALL_MIN_MS = 60_000;

/** Something a reader of the report should look at. Readers ignore codes they do not know. */
export const Flag = z.object({
  code: z.enum([
    "loop",
    "stale",
    "drift",
    "one_sided",
    "truncated",
    "errors",
    "negative_overhead",
    "stalled",
    "echo",
    "persona_break",
    "collapse",
  ]),
  message: z.string(),
  /** First turn concerned, when there is one. */
  from_turn: z.number().int().min(1).optional(),
});
/** Something a reader of the report should look at. */
export type Flag = z.infer<typeof Flag>;

/** What {@linkcode flagsFor} looks at. */
export interface FlagInput {
  responses: readonly DialogMessage[];
  rows: readonly TurnRow[];
  dialogue: DialogueMetrics;
  drift: TopicDrift;
  maxTurns: number;
  endedAt: number | null;
  startedAt: number | null;
  /** When the run was interrupted: not a silence. */
  pause?: PauseWindow | undefined;
  /** Echo, persona break and collapse; no such flag without. */
  insight?: Insight | undefined;
}

/**
 * The flags of a run, in a fixed order. A stale conversation is not flagged
 * again when it is already flagged as a loop.
 */
export function flagsFor(input: FlagInput): Flag[] {
  const flags: Flag[] = [];
  const { loop, stale, turn_taking } = input.dialogue;
  const at = (turn: number | undefined | null) => turn == null ? {} : { from_turn: turn };
  if (loop.detected) {
    flags.push({
      code: "loop",
      message: `Agents are repeating each other: ${loop.evidence ?? "see the transcript"}`,
      ...at(loop.from_turn),
    });
  } else if (stale.detected) {
    flags.push({
      code: "stale",
      message: `The conversation stopped moving: ${stale.evidence ?? "see the transcript"}`,
      ...at(stale.from_turn),
    });
  }
  const { drift } = input;
  if (drift.drift_from_turn !== null) {
    const how = drift.method === "embedding" ? `embeddings (${drift.model})` : "word overlap";
    flags.push({
      code: "drift",
      message: `The conversation left the story: ${_turns(drift.off_topic_turns)} are less ` +
        `than half as close to it as the opening (by ${how})`,
      ...at(drift.drift_from_turn),
    });
  }
  for (const agent of [1, 2] as const) {
    const share = turn_taking.word_share?.[agent] ?? 0;
    if (share > ONE_SIDED_SHARE) {
      flags.push({
        code: "one_sided",
        message: `Agent ${agent} spoke ${Math.round(share * 100)}% of the words`,
      });
    }
  }
  const cut = input.rows.flatMap((r) => r.done_reason === "length" ? [r.seq] : []);
  if (cut.length > 0) {
    const what = cut.length === 1 ? "1 reply was" : `${cut.length} replies were`;
    flags.push({
      code: "truncated",
      message: `${what} cut at the token limit (${_turns(cut)})`,
      ...at(cut[0]),
    });
  }
  const errored = input.responses.filter((r) => (r.metadata.error ?? "") !== "");
  if (errored.length > 0) {
    const first = errored[0]?.metadata;
    const seq = first?.sequence_number ?? 1;
    const what = errored.length === 1 ? "1 turn" : `${errored.length} turns`;
    flags.push({
      code: "errors",
      message: `${what} failed; first at turn ${seq}: ${(first?.error ?? "").slice(0, 200)}`,
      from_turn: seq,
    });
  }
  const negative = input.rows.filter((r) => r.bus_overhead_ms !== null && r.bus_overhead_ms < 0);
  if (negative.length > 0) {
    const first = negative[0]!;
    flags.push({
      code: "negative_overhead",
      message: `Wall time shorter than the LLM call in ${_turns(negative.map((r) => r.seq))} ` +
        `(turn ${first.seq}: bus overhead ${first.bus_overhead_ms} ms): the turn's clocks disagree, a measuring bug`,
      from_turn: first.seq,
    });
  }
  const stall = _stall(input);
  if (stall) flags.push(stall);
  if (input.insight) flags.push(..._insightFlags(input.insight));
  return flags;
}

function _insightFlags(insight: Insight): Flag[] {
  const flags: Flag[] = [];
  const { echo, persona_break: persona, collapse } = insight;
  const at = (turn: number | null) => turn === null ? {} : { from_turn: turn };
  if (echo.detected) {
    const share = (a: "1" | "2") => `agent ${a} ${Math.round(echo.share[a] * 100)}%`;
    flags.push({
      code: "echo",
      message: `An agent restates its partner instead of answering (${share("1")}, ` +
        `${share("2")} of turns echo): ${echo.evidence ?? "see the transcript"}`,
      ...at(echo.from_turn),
    });
  }
  if (persona?.detected) {
    flags.push({
      code: "persona_break",
      message: `An agent left its persona: ${persona.evidence ?? "see the transcript"}` +
        ` (by ${persona.method === "embedding" ? "embeddings" : "persona words"})`,
      ...at(persona.from_turn),
    });
  }
  if (collapse.detected) {
    flags.push({
      code: "collapse",
      message: `The conversation is collapsing: ${collapse.evidence ?? "see the transcript"}`,
      ...at(collapse.from_turn),
    });
  }
  return flags;
}

function _turns(turns: readonly number[]): string {
  const shown = turns.slice(0, 8).join(", ");
  const label = turns.length === 1 ? "turn" : "turns";
  return `${label} ${shown}${turns.length > 8 ? ", …" : ""}`;
}

/**
 * A run that ended after a long silence waiting for a reply that never came:
 * at least {@linkcode STALL_MIN_MS} and three times the p95 wall time between
 * the last response (or the start) and the end, with turns still to go.
 */
function _stall(input: FlagInput): Flag | undefined {
  const last = input.responses.at(-1);
  const since = last?.queue_timestamp ?? input.startedAt;
  if (input.endedAt === null || since === null || since === undefined) return undefined;
  // Nothing was owed after the last allowed turn.
  if ((last?.metadata.sequence_number ?? 0) >= input.maxTurns) return undefined;
  const silence = activeMs(since, input.endedAt, input.pause);
  const walls = input.rows.map((r) => r.wall_ms).filter((w) => w > 0);
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
