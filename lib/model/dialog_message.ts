/**
 * The wire format of every entry on a conversation's request and response
 * streams. Field names keep the seed plan's names; the metadata is extended
 * with what the analyzer needs (Ollama's metrics, converted to milliseconds).
 *
 * @module
 */
import { z } from "zod";

/** Longest message body accepted from a model or a stream entry (characters). */
export const MAX_CONTENT_CHARS = 32_000;

/** Agent slot: every conversation has exactly two. */
export const AgentId = z.union([z.literal(1), z.literal(2)]);
/** Agent slot number, 1 or 2. */
export type AgentId = z.infer<typeof AgentId>;

const ms = z.number().finite().nonnegative();
/** Where a figure came from (lib/llm/llm_backend.ts `FigureSource`). */
const FigureSourceSchema = z.enum(["reported", "counted", "timed", "estimated", "absent"]);
const count = z.number().int().nonnegative();

/**
 * Figures attached to a message. Requests written by the manager carry only
 * the identity fields; responses carry the generation figures too.
 */
export const MessageMetadata = z.object({
  conversation_id: z.string().min(1).max(128),
  /** Turn number, 1-based; a request and the response answering it share it. */
  sequence_number: count.min(1),
  tokens_generated: count.default(0),
  generation_time_ms: ms.default(0),
  agent_id: AgentId.optional(),
  model: z.string().max(200).optional(),
  /** `message_id` of the request this response answers. */
  request_id: z.string().max(128).optional(),
  prompt_tokens: count.default(0),
  tokens_per_second: ms.default(0),
  prompt_tokens_per_second: ms.default(0),
  time_to_first_token_ms: ms.default(0),
  load_duration_ms: ms.default(0),
  prompt_eval_duration_ms: ms.default(0),
  total_duration_ms: ms.default(0),
  /** Request enqueued → response enqueued, as the bus saw it. */
  wall_time_ms: ms.default(0),
  /**
   * The LLM call as the agent measured it with a monotonic clock: request
   * sent → last chunk received, in milliseconds with sub-millisecond
   * precision (not rounded). `wall_time_ms − llm_ms` is the bus overhead of
   * the turn. 0 in entries written before this field existed: the overhead
   * of such a turn is unknown, not 0.
   */
  llm_ms: ms.default(0),
  done_reason: z.string().max(40).optional(),
  /** Which backend generated this reply (`ollama`, `openai`, `embedded`); absent in older entries. */
  backend: z.enum(["ollama", "openai", "embedded"]).optional(),
  /**
   * Where `tokens_generated` and `prompt_tokens` came from: `reported` by the
   * server, `counted` with the model's tokenizer, `estimated` from the text,
   * `absent` (0 means unknown). Absent in older entries (Ollama-reported).
   */
  token_source: FigureSourceSchema.optional(),
  /** Where the durations came from: `reported` by the server or `timed` by the agent. */
  timing_source: FigureSourceSchema.optional(),
  sentiment: z.string().max(40).optional(),
  references: z.array(z.string().max(500)).max(20).optional(),
  /**
   * LLM calls the turn took, this reply's included (1: no retry). Absent in
   * entries written before it was recorded.
   */
  attempts: count.min(1).max(100).optional(),
  /** Why the last failed attempt of the turn failed, when it needed a retry (bounded). */
  last_error: z.string().max(500).optional(),
  /** Set when the agent could not produce a valid reply (kept for the log). */
  error: z.string().max(2000).optional(),
});
/** Figures attached to a message. */
export type MessageMetadata = z.infer<typeof MessageMetadata>;

/** One entry of a request or response stream. */
export const DialogMessage = z.object({
  /** Epoch milliseconds when the entry was written to its stream. */
  queue_timestamp: z.number().finite().nonnegative(),
  message_id: z.string().min(1).max(128),
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().max(MAX_CONTENT_CHARS),
  metadata: MessageMetadata,
});
/** One entry of a request or response stream. */
export type DialogMessage = z.infer<typeof DialogMessage>;

/** Sentiment labels an agent may give its own reply. */
export const Sentiment = z.enum(["positive", "neutral", "negative", "mixed"]);

/**
 * What an agent is asked to produce as structured output (Ollama `format`).
 * Only `message` is shown to the other agent.
 */
export const ConversationContent = z.object({
  message: z.string().min(1).max(MAX_CONTENT_CHARS),
  sentiment: Sentiment,
  references: z.array(z.string().max(500)).max(20),
});
/** An agent's structured reply. */
export type ConversationContent = z.infer<typeof ConversationContent>;

/** The agent that speaks at turn `seq`: agent 1 opens, then they alternate. */
export function agentForTurn(seq: number): AgentId {
  return seq % 2 === 1 ? 1 : 2;
}
