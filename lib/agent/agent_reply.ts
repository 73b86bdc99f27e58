/**
 * An agent's reply: validating what the model produced (structured
 * `ConversationContent` or plain text) and turning it into the response
 * message with its figures and where each came from.
 *
 * @module
 */
import { z } from "zod";
import {
  type AgentId,
  ConversationContent,
  type DialogMessage,
  MAX_CONTENT_CHARS,
  MessageMetadata,
} from "../model/dialog_message.ts";
import type { BackendKind, ChatResult, FigureSource } from "../llm/llm_backend.ts";
import { generationSchema } from "../llm/generation_schema.ts";
import { parseStructuredReply } from "../llm/structured_reply.ts";

/**
 * JSON schema of the structured reply as sent to the model: sized for a
 * grammar (modest string bounds); the zod schema still validates the reply.
 */
export const REPLY_JSON_SCHEMA = generationSchema(
  z.toJSONSchema(ConversationContent) as Record<string, unknown>,
);

/** Outcome of {@linkcode parseReply}. */
export type ParsedReply =
  | { ok: true; content: ConversationContent }
  | { ok: false; problem: string };

/**
 * Validates a reply: structured (`json`) or plain text, which is trimmed and
 * cut to {@linkcode MAX_CONTENT_CHARS}. Truncation is checked before parsing.
 */
export function parseReply(result: ChatResult, json: boolean): ParsedReply {
  if (!json) {
    const text = result.content.trim().slice(0, MAX_CONTENT_CHARS);
    if (!text) return { ok: false, problem: "empty reply" };
    return { ok: true, content: { message: text, sentiment: "neutral", references: [] } };
  }
  const reply = parseStructuredReply(ConversationContent, result.content, result.doneReason);
  return reply.ok ? { ok: true, content: reply.value } : reply;
}

/** What {@linkcode replyMessage} needs besides the request. */
export interface ReplyParts {
  agent: AgentId;
  model: string;
  /** The backend that generated it, recorded with the figures. */
  backend?: BackendKind;
  result: ChatResult;
  reply: ConversationContent;
  /** Epoch ms the response is written. @default Date.now() */
  now?: number;
  /**
   * Epoch ms the turn's wall time counts from: the request's
   * `queue_timestamp`, or the run's resume when that came later (a pause is
   * never part of a turn). @default request.queue_timestamp
   */
  since?: number;
  /** The LLM calls of the turn as the agent measured them (ms). @default result.wallMs */
  llmMs?: number;
}

/**
 * The response message answering `request`. Rates are per second of the
 * model's own evaluation time; a missing duration gives 0, never Infinity.
 * The token figures carry the weaker of their two sources.
 */
export function replyMessage(request: DialogMessage, parts: ReplyParts): DialogMessage {
  const { result, reply } = parts;
  const m = result.metrics;
  const now = parts.now ?? Date.now();
  const perSecond = (count: number, ms: number) => ms > 0 ? count / ms * 1e3 : 0;
  return {
    queue_timestamp: now,
    message_id: crypto.randomUUID(),
    role: "assistant",
    content: reply.message,
    metadata: MessageMetadata.parse({
      conversation_id: request.metadata.conversation_id,
      sequence_number: request.metadata.sequence_number,
      tokens_generated: m.generatedTokens,
      generation_time_ms: result.wallMs,
      agent_id: parts.agent,
      model: parts.model,
      request_id: request.message_id,
      prompt_tokens: m.promptTokens,
      tokens_per_second: perSecond(m.generatedTokens, m.generationMs),
      prompt_tokens_per_second: perSecond(m.promptTokens, m.promptMs),
      time_to_first_token_ms: result.timeToFirstTokenMs,
      load_duration_ms: m.loadMs,
      prompt_eval_duration_ms: m.promptMs,
      total_duration_ms: m.totalMs,
      wall_time_ms: Math.max(0, now - (parts.since ?? request.queue_timestamp)),
      llm_ms: parts.llmMs ?? result.wallMs,
      done_reason: result.doneReason,
      ...(parts.backend ? { backend: parts.backend } : {}),
      token_source: weakerSource(m.sources.generatedTokens, m.sources.promptTokens),
      timing_source: m.sources.timings,
      sentiment: reply.sentiment,
      references: reply.references,
    }),
  };
}

const SOURCE_STRENGTH: FigureSource[] = ["reported", "counted", "timed", "estimated", "absent"];

/** The less certain of two sources (`estimated` over `reported`, …). */
export function weakerSource(a: FigureSource, b: FigureSource): FigureSource {
  return SOURCE_STRENGTH.indexOf(a) >= SOURCE_STRENGTH.indexOf(b) ? a : b;
}
