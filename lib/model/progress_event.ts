/**
 * Progress of runs, published by the manager pool on the `dialogue:events`
 * channel (one message per accepted turn and one per ended run) so a
 * supervisor or dashboard follows many conversations without reading each
 * one's streams. Best effort: the conversations' own keys are the record.
 *
 * @module
 */
import { z } from "zod";
import { ConversationStatus, StopReason } from "./conversation_meta.ts";

const id = z.string().min(1).max(128);
const count = z.number().int().nonnegative();

/** A turn was accepted. */
export const ProgressTurn = z.object({
  type: z.literal("progress"),
  id,
  turns: count,
  max_turns: count,
  status: ConversationStatus,
  agent: z.union([z.literal(1), z.literal(2)]).optional(),
  tokens: count.optional(),
  tokens_per_second: z.number().finite().nonnegative().optional(),
  /** The end of the reply, for a one-line view (untrusted model text). */
  last: z.string().max(400).optional(),
});

/** A run ended. */
export const ProgressEnded = z.object({
  type: z.literal("ended"),
  id,
  status: ConversationStatus,
  stop_reason: StopReason.optional(),
  turns: count,
});

/** One message on the events channel. */
export const ProgressEvent = z.discriminatedUnion("type", [ProgressTurn, ProgressEnded]);
/** One message on the events channel. */
export type ProgressEvent = z.infer<typeof ProgressEvent>;

/** Parses a channel message; undefined for anything else (other messages share the channel). */
export function parseProgressEvent(message: string): ProgressEvent | undefined {
  if (message.length > 4000 || !message.startsWith("{")) return undefined;
  try {
    const parsed = ProgressEvent.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
