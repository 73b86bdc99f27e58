/**
 * New conversations and the pools' heartbeats, looked at once per
 * interval: no notification announces either (a run's first event comes
 * from the manager that picks it up, and heartbeats are a hash), and one
 * pipelined look per second per dashboard costs nothing next to the live
 * streams. Newly indexed runs are handed over with their metadata.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { conversationIndexKey, conversationKeys, dispatchKeys } from "../bus/keys.ts";
import { decodeMetaHash } from "../bus/meta_hash.ts";
import { log } from "../base/logger.ts";
import { type WorkerPresence, workerPresence } from "./worker_presence.ts";

/** Metadata of `ids` in one pipeline; missing and invalid ones left out. */
export async function readMetas(redis: Redis, ids: readonly string[]): Promise<ConversationMeta[]> {
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(conversationKeys(id).meta);
  const replies = (await pipe.exec()) ?? [];
  const out: ConversationMeta[] = [];
  ids.forEach((id, i) => {
    const [error, hash] = replies[i] ?? [];
    if (error || !hash || Object.keys(hash).length === 0) return;
    try {
      out.push(decodeMetaHash(id, hash as Record<string, string>));
    } catch {
      // Invalid metadata: left for the user to inspect with the CLI.
    }
  });
  return out;
}

/** Options of {@linkcode IndexWatch}. */
export interface IndexWatchOptions {
  pollMs: number;
  /** A pool silent this long is dead. */
  deadAfterMs: number;
  /** Whether a conversation is known already (not handed over again). */
  known(id: string): boolean;
  /** Conversations indexed since the last look. */
  onConversations(metas: ConversationMeta[]): void;
  /** The live pools, at every look. */
  onPresence(presence: WorkerPresence): void;
}

/** The periodic look at the index and the heartbeats. */
export class IndexWatch {
  readonly #redis: Redis;
  readonly #opts: IndexWatchOptions;
  #fromScore: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** @param fromScore creation time (epoch ms) from which runs are new */
  constructor(redis: Redis, fromScore: number, options: IndexWatchOptions) {
    this.#redis = redis;
    this.#fromScore = fromScore;
    this.#opts = options;
  }

  /** Looks now, then every `pollMs`. */
  async look(): Promise<void> {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    try {
      // Inclusive: a run created in the same millisecond as the last one seen is not missed.
      const [[, fresh], [, beats]] = (await this.#redis.pipeline()
        .zrangebyscore(conversationIndexKey(), this.#fromScore, "+inf", "WITHSCORES")
        .hgetall(dispatchKeys.heartbeats)
        .exec()) as [[unknown, string[]], [unknown, Record<string, string>]];
      const ids: string[] = [];
      for (let i = 0; i < fresh.length; i += 2) {
        const id = fresh[i]!;
        this.#fromScore = Math.max(this.#fromScore, Number(fresh[i + 1]));
        if (!this.#opts.known(id)) ids.push(id);
      }
      const metas = await readMetas(this.#redis, ids);
      if (metas.length > 0) this.#opts.onConversations(metas);
      this.#opts.onPresence(workerPresence(beats ?? {}, Date.now(), this.#opts.deadAfterMs));
    } catch (error) {
      if (!this.#closed) log("web").debug("Poll failed: {error}", { error: String(error) });
    }
    if (!this.#closed) this.#timer = setTimeout(() => this.look(), this.#opts.pollMs);
  }

  /** Stops looking. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
