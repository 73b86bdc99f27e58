/**
 * Events on a conversation's capped live stream, which observers follow to
 * show generation token by token. The full messages stay on the response
 * streams; this stream may be trimmed.
 *
 * @module
 */
import { z } from "zod";
import { AgentId } from "./dialog_message.ts";
import { ConversationStatus, StopReason } from "./conversation_meta.ts";

const seq = z.number().int().min(1);

/** One event on the live stream. */
export const LiveEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("turn_start"),
    seq,
    agent: AgentId,
    model: z.string(),
    at: z.number(),
  }),
  z.object({
    type: z.literal("token"),
    seq,
    agent: AgentId,
    text: z.string().max(4000),
  }),
  z.object({
    type: z.literal("turn_end"),
    seq,
    agent: AgentId,
    message_id: z.string(),
  }),
  z.object({
    type: z.literal("turn_abandoned"),
    seq,
    agent: AgentId,
    reason: z.string().max(2000),
  }),
  z.object({
    type: z.literal("notice"),
    text: z.string().max(2000),
    turn: z.number().int().min(1).optional(),
  }),
  z.object({
    type: z.literal("status"),
    status: ConversationStatus,
    stop_reason: StopReason.optional(),
    turns: z.number().int().nonnegative().optional(),
    detail: z.string().max(4000).optional(),
  }),
]);
/** One event on the live stream. */
export type LiveEvent = z.infer<typeof LiveEvent>;
