/**
 * The reads of one conversation the hub makes besides its live stream: the
 * reply a `turn_end` names, and everything a viewer of an ended run gets
 * (its accepted transcript, per-turn figures and analysis).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { FINISHED_STATUSES } from "../model/conversation_meta.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import { conversationKeys } from "../bus/keys.ts";
import { decodeEntry } from "../bus/stream_entry.ts";
import type { ConversationStore } from "../bus/conversation_store.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import {
  cardFromMeta,
  type ConversationCard,
  withAnalysisFlags,
  withMeta,
} from "./conversation_card.ts";
import type { ConversationSnapshot } from "./conversation_events.ts";
import { FollowedRun } from "./followed_run.ts";

/**
 * The reply a `turn_end` names. It was written just before its event, so it
 * is among the last few entries of its stream: a bounded read, never the
 * whole stream.
 */
export async function readReply(
  redis: Redis,
  id: string,
  agent: 1 | 2,
  messageId: string,
): Promise<DialogMessage | undefined> {
  const recent = await redis.xrevrange(
    conversationKeys(id).responses(agent),
    "+",
    "-",
    "COUNT",
    10,
  );
  for (const [, fields] of recent) {
    try {
      const message = decodeEntry(fields);
      if (message.message_id === messageId) return message;
    } catch {
      // Invalid entries are the consumers' to dead-letter.
    }
  }
  return undefined;
}

/**
 * What a viewer of a conversation that is not followed live gets (an ended
 * run, or one nobody serves): the accepted transcript, its figures, and the
 * analysis once it has ended; undefined when it does not exist.
 */
export async function storedSnapshot(
  store: ConversationStore,
  id: string,
  card: ConversationCard | undefined,
): Promise<ConversationSnapshot | undefined> {
  const meta = await store.get(id);
  if (!meta) return undefined;
  const transcript = await store.transcript(id);
  const analysis = analyzeRun(transcript);
  const run = new FollowedRun(transcript.meta, transcript.responses);
  run.rows = analysis.per_turn;
  const flagged = withAnalysisFlags(
    withMeta(card ?? cardFromMeta(meta), meta),
    analysis.flags.map((f) => f.code),
  );
  return {
    ...run.snapshot(flagged),
    ...(FINISHED_STATUSES.includes(meta.status) ? { analysis } : {}),
  };
}
