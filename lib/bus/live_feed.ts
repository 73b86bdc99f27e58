/**
 * The live feed of a conversation: a capped stream of {@linkcode LiveEvent}s
 * that observers follow. Capped so token-level events never bloat the log.
 *
 * @module
 */
import type { ChainableCommander, Redis } from "ioredis";
import { LiveEvent } from "../model/live_event.ts";
import { conversationKeys } from "./keys.ts";

/** Approximate number of events kept on a live stream. */
export const LIVE_STREAM_MAXLEN = 20_000;

/** Appends an event to a conversation's live stream. */
export async function publishLive(
  redis: Redis,
  conversationId: string,
  event: LiveEvent,
): Promise<void> {
  await queueLive(redis, conversationId, event);
}

/**
 * Sends (on a connection) or queues (on a pipeline) the append of a live
 * event: the one place that knows how an event is stored and capped.
 */
export function queueLive<T extends Redis | ChainableCommander>(
  target: T,
  conversationId: string,
  event: LiveEvent,
): ReturnType<T["xadd"]> {
  return target.xadd(
    conversationKeys(conversationId).live,
    "MAXLEN",
    "~",
    LIVE_STREAM_MAXLEN,
    "*",
    "e",
    JSON.stringify(event),
  ) as ReturnType<T["xadd"]>;
}

/** One entry of the live stream; `event` is absent when it was unreadable. */
export interface LiveEntry {
  id: string;
  event?: LiveEvent;
}

/**
 * Reads live events after entry id `after` ("0" for all), blocking up to
 * `blockMs` when there are none yet. Unparseable events are skipped.
 */
export async function readLive(
  redis: Redis,
  conversationId: string,
  after: string,
  blockMs: number,
): Promise<LiveEntry[]> {
  const reply = await redis.xread(
    "COUNT",
    500,
    "BLOCK",
    blockMs,
    "STREAMS",
    conversationKeys(conversationId).live,
    after,
  );
  const out: LiveEntry[] = [];
  for (const [, entries] of reply ?? []) {
    for (const [id, fields] of entries) {
      const parsed = LiveEvent.safeParse(_json(fields[1]));
      // Unreadable entries are still returned so the reader's cursor moves on.
      out.push(parsed.success ? { id, event: parsed.data } : { id });
    }
  }
  return out;
}

function _json(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? "");
  } catch {
    return undefined;
  }
}
