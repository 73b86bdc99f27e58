/**
 * What the conversation view's event stream carries: a snapshot on connect,
 * then turn starts, tokens, finished messages with their figures, notices,
 * status changes and the analysis at the end. Built from the live stream
 * and the recorded replies; model text in them is sanitized (escape
 * sequences and control characters removed, as the terminal view does) and
 * the page puts it in as text.
 *
 * @module
 */
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import { agentForTurn } from "../model/dialog_message.ts";
import type { Scenario } from "../model/story.ts";
import type { RunAnalysis, TurnRow } from "../analysis/run_analysis.ts";
import type { GenerationRow } from "../analysis/generation_stats.ts";
import { sanitizeText } from "../base/sanitize.ts";
import type { ConversationCard } from "./conversation_card.ts";

/** One finished message as the page shows it. */
export interface MessageView {
  seq: number;
  agent: 1 | 2;
  model: string;
  /** Sanitized model text. */
  content: string;
  /** When it was recorded (epoch ms). */
  at: number;
  sentiment?: string;
  references: string[];
  /** Where the token counts came from (`reported`, `counted`, `estimated`, …). */
  token_source?: string;
  /** Where the durations came from. */
  timing_source?: string;
  /** Why the reply failed, for an error reply (sanitized). */
  error?: string;
  /** Why the last failed attempt failed, when the turn was retried (sanitized). */
  last_error?: string;
  /** Its generation figures, as the analysis computes them (tokens, rates, times, overhead). */
  figures?: GenerationRow;
}

/** A turn being generated, with what it said so far (sanitized). */
export interface InflightView {
  seq: number;
  agent: 1 | 2;
  model: string;
  text: string;
}

/** Everything the page needs on connect. */
export interface ConversationSnapshot {
  card: ConversationCard;
  /** Story and personas; model text, sanitized. */
  scenario?: Scenario;
  messages: MessageView[];
  /** The figures per turn, as the analysis computes them (charts and per-message figures). */
  rows: TurnRow[];
  inflight: InflightView[];
  notices: string[];
  /** Set once the run has ended. */
  analysis?: RunAnalysis;
}

/** One event of the conversation view's stream. */
export type ConversationEvent =
  | { type: "snapshot"; snapshot: ConversationSnapshot }
  | { type: "turn_start"; seq: number; agent: 1 | 2; model: string }
  | { type: "tokens"; seq: number; agent: 1 | 2; text: string }
  | { type: "message"; message: MessageView }
  | { type: "rows"; rows: TurnRow[] }
  | { type: "abandoned"; seq: number; reason: string }
  | { type: "notice"; text: string }
  | { type: "card"; card: ConversationCard }
  | { type: "analysis"; analysis: RunAnalysis };

/**
 * A recorded reply as the page shows it: its text and labels sanitized.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { messageView } from "./conversation_events.ts";
 * const view = messageView({
 *   queue_timestamp: 5, message_id: "m1", role: "assistant", content: "\x1b[2JHi <b>",
 *   metadata: {
 *     conversation_id: "c1", sequence_number: 1, tokens_generated: 3, generation_time_ms: 1,
 *     prompt_tokens: 0, tokens_per_second: 0, prompt_tokens_per_second: 0,
 *     time_to_first_token_ms: 0, load_duration_ms: 0, prompt_eval_duration_ms: 0,
 *     total_duration_ms: 0, wall_time_ms: 0, llm_ms: 0,
 *   },
 * }, { manager: "m", agent1: "a", agent2: "b" });
 * strictEqual(view.content, "Hi <b>");
 * ```
 */
export function messageView(
  message: DialogMessage,
  models: ConversationMeta["models"],
  figures?: GenerationRow,
): MessageView {
  const md = message.metadata;
  const agent = md.agent_id ?? agentForTurn(md.sequence_number);
  const view: MessageView = {
    seq: md.sequence_number,
    agent,
    model: _line(md.model ?? (agent === 1 ? models.agent1 : models.agent2)),
    content: sanitizeText(message.content),
    at: message.queue_timestamp,
    references: (md.references ?? []).map(_line),
  };
  if (md.sentiment) view.sentiment = _line(md.sentiment);
  if (md.token_source) view.token_source = md.token_source;
  if (md.timing_source) view.timing_source = md.timing_source;
  if (md.error) view.error = _line(md.error);
  if (md.last_error) view.last_error = _line(md.last_error);
  if (figures) {
    view.figures = { ...figures, model: view.model, last_error: view.last_error ?? null };
  }
  return view;
}

/** The scenario with every field sanitized (it is model text too). */
export function scenarioView(scenario: Scenario): Scenario {
  const clean = (s: string) => sanitizeText(s);
  return {
    story: {
      setting: clean(scenario.story.setting),
      characters: scenario.story.characters.map(_line),
      initial_situation: clean(scenario.story.initial_situation),
    },
    personas: scenario.personas.map((p) => ({
      name: _line(p.name),
      background: clean(p.background),
      personality: clean(p.personality),
      speaking_style: clean(p.speaking_style),
      goal: clean(p.goal),
    })),
  };
}

function _line(text: string): string {
  return sanitizeText(text, { keepNewlines: false });
}
