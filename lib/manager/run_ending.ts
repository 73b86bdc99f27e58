/**
 * Ending a run, from whichever process ends it (manager, agent, chat):
 * the final status and reason are recorded once through the guarded status
 * transition, then in one pipeline observers get a status event, agents a
 * cancel message, the deadline keeper forgets the run, dashboards get an
 * `ended` event, and the run's keys their retention.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { StopReason } from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { conversationKeys, dispatchKeys } from "../bus/keys.ts";
import { LIVE_STREAM_MAXLEN } from "../bus/live_feed.ts";
import { transitionStatus } from "../bus/status_transition.ts";
import type { LiveEvent } from "../model/live_event.ts";
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

/** The `ended` event published on {@linkcode dispatchKeys.events}. */
export interface EndedEvent {
  type: "ended";
  id: string;
  status: RunEnding["status"];
  stop_reason: StopReason;
  turns: number;
}

/**
 * Ends conversation `id` unless it has ended already; true when this call
 * ended it.
 */
export async function endRun(redis: Redis, id: string, ending: RunEnding): Promise<boolean> {
  const { status, reason, detail } = ending;
  const { changed } = await transitionStatus(redis, id, status, {
    set: {
      stop_reason: reason,
      ended_at: Date.now(),
      ...(detail ? { error: detail.slice(0, 4000) } : {}),
    },
  });
  if (!changed) return false;
  const keys = conversationKeys(id);
  const turns = Number(await redis.hget(keys.meta, "turns") ?? 0);
  const live: LiveEvent = {
    type: "status",
    status,
    stop_reason: reason,
    turns,
    ...(detail ? { detail: detail.slice(0, 4000) } : {}),
  };
  const ended: EndedEvent = { type: "ended", id, status, stop_reason: reason, turns };
  const pipeline = redis.pipeline()
    .xadd(keys.live, "MAXLEN", "~", LIVE_STREAM_MAXLEN, "*", "e", JSON.stringify(live))
    .publish(keys.control, CONTROL_CANCEL)
    .zrem(dispatchKeys.deadlines, id)
    .publish(dispatchKeys.events, JSON.stringify(ended));
  await pipeline.exec();
  if (ending.retentionSeconds) {
    await new ConversationStore(redis).expire(id, ending.retentionSeconds);
  }
  log("run").info("Conversation {id} ended: {status} ({reason})", { id, status, reason });
  return true;
}
