/**
 * Ending a run, from whichever process ends it (manager, agent, chat):
 * the final status and reason are recorded once, observers get a status
 * event, agents a cancel message, and the run's keys their retention.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { StopReason } from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { conversationKeys } from "../bus/keys.ts";
import { publishLive } from "../bus/live_feed.ts";
import { log } from "../base/logger.ts";

/** Sent on a conversation's control channel when it ends, so agents drop their generation. */
export const CONTROL_CANCEL = "cancel";

/** How a run ended. */
export interface RunEnding {
  status: "completed" | "failed" | "interrupted";
  reason: StopReason;
  /** What went wrong, for a failed run. */
  detail?: string;
  /** Expire the run's keys after this many seconds (`retention.seconds`). */
  retentionSeconds?: number | undefined;
}

/**
 * Ends conversation `id` unless it has ended already; true when this call
 * ended it.
 */
export async function endRun(redis: Redis, id: string, ending: RunEnding): Promise<boolean> {
  const store = new ConversationStore(redis);
  const { status, reason, detail } = ending;
  if (!await store.finish(id, status, reason, detail)) return false;
  const meta = await store.require(id);
  await publishLive(redis, id, {
    type: "status",
    status,
    stop_reason: reason,
    turns: meta.turns,
    ...(detail ? { detail: detail.slice(0, 4000) } : {}),
  });
  await redis.publish(conversationKeys(id).control, CONTROL_CANCEL);
  if (ending.retentionSeconds) await store.expire(id, ending.retentionSeconds);
  log("run").info("Conversation {id} ended: {status} ({reason})", { id, status, reason });
  return true;
}
