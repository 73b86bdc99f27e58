/**
 * Which conversation a watcher started without an id follows: the newest one
 * while it is still pending or running, else the next one to be created, so
 * that an observer may be started any time, before a run as well as during
 * one.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { ConversationStore } from "../bus/conversation_store.ts";
import { FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { sleep } from "../base/backoff.ts";

/** Options of {@linkcode chooseConversation}. */
export interface ChooseOptions {
  /** Stops waiting; the result is then undefined. */
  signal?: AbortSignal;
  /**
   * Called once when there is nothing to follow yet, with the newest
   * (finished) conversation's id when there is one.
   */
  onWait?: (newestFinished: string | undefined) => void;
  /**
   * How often the index is looked at while waiting, in milliseconds: one
   * `ZREVRANGE` of one entry, as nothing is published when a run is created.
   *
   * @default {250}
   */
  pollMs?: number;
}

/**
 * The id of the conversation to follow: the newest when it has not ended,
 * else the next one created (waiting for it). Undefined when `signal` aborts
 * first.
 */
export async function chooseConversation(
  redis: Redis,
  options: ChooseOptions = {},
): Promise<string | undefined> {
  const store = new ConversationStore(redis);
  const newest = await store.latest();
  if (newest !== undefined) {
    const meta = await store.get(newest);
    if (meta && !FINISHED_STATUSES.includes(meta.status)) return newest;
  }
  options.onWait?.(newest);
  while (!options.signal?.aborted) {
    await sleep(options.pollMs ?? 250, options.signal);
    const latest = await store.latest();
    if (latest !== undefined && latest !== newest) return latest;
  }
  return undefined;
}
