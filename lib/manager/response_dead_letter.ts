/**
 * Dead-lettering a response entry the manager will not count: moved, with
 * its reason, to the conversation's dead-letter stream and acknowledged, so
 * it is never read again, and logged, so an operator sees why a turn did
 * not advance. Used for entries that do not decode, that answer the wrong
 * turn, slot or request, and that `accept_response` refused.
 *
 * @module
 */
import type { ChainableCommander } from "ioredis";
import type { DialogMessage } from "../model/dialog_message.ts";
import { conversationKeys, MANAGER_GROUP } from "../bus/keys.ts";
import { encodeEntry } from "../bus/stream_entry.ts";
import { queueDeadLetterEntry } from "../bus/dead_letter.ts";
import { log } from "../base/logger.ts";

/** A response entry to dead-letter: its raw fields, or the decoded message to encode again. */
export interface DeadResponse {
  stream: string;
  id: string;
  /** The entry's fields as read; when absent, `message` is encoded instead. */
  fields?: string[] | undefined;
  message?: DialogMessage | undefined;
  /** Why the entry is not counted (stored, cut to 2,000 characters, and logged). */
  reason: string;
}

/**
 * Queues on `pipeline` the move of a response entry of conversation `id` to
 * its dead-letter stream (same fields as `StreamQueue`'s: source,
 * source_id, reason, raw) and the entry's acknowledgement in
 * {@linkcode MANAGER_GROUP}, and logs a warning naming the reason. Nothing
 * is sent until the caller executes the pipeline, so the dead-lettering
 * costs no round trip of its own.
 */
export function queueDeadLetter(
  pipeline: ChainableCommander,
  id: string,
  entry: DeadResponse,
): void {
  log("manager").warn("Dead-lettered response {entry} of {id}: {reason}", {
    entry: entry.id,
    id,
    reason: entry.reason,
  });
  const fields = entry.fields ?? (entry.message ? encodeEntry(entry.message) : undefined);
  queueDeadLetterEntry(pipeline, conversationKeys(id).deadLetter, {
    source: entry.stream,
    sourceId: entry.id,
    reason: entry.reason,
    raw: fields ?? [],
  });
  pipeline.xack(entry.stream, MANAGER_GROUP, entry.id);
}
