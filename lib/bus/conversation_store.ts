/**
 * Conversation metadata and the index of conversations in Redis: create,
 * read, update, finish, list and delete a run. The transcript and queue
 * figures are read by {@linkcode TranscriptReader} and
 * {@linkcode queueStats}; the store hands them through so that callers hold
 * one object per connection.
 *
 * @module
 */
import type { Redis } from "ioredis";
import {
  ConversationMeta,
  type ConversationStatus,
  type StopReason,
} from "../model/conversation_meta.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { conversationIndexKey, conversationKeys } from "./keys.ts";
import { transitionStatus } from "./status_transition.ts";
import { decodeMetaHash, encodeMetaHash } from "./meta_hash.ts";
import {
  type HistoryOptions,
  type StoredTranscript,
  TranscriptReader,
} from "./transcript_reader.ts";
import { type QueueStat, queueStats } from "./queue_stats.ts";

/** Reads and writes conversation metadata. */
export class ConversationStore {
  readonly #redis: Redis;
  readonly #transcripts: TranscriptReader;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#transcripts = new TranscriptReader(redis);
  }

  /**
   * Stores new metadata, then adds the conversation to the index. Two
   * commands, not one MULTI: the index is a global key, in another cluster
   * slot than the conversation's. Meta first, so a listing never finds an
   * indexed id without metadata (which it would drop as expired).
   */
  async create(meta: ConversationMeta): Promise<void> {
    const keys = conversationKeys(meta.id);
    await this.#redis.hset(keys.meta, encodeMetaHash(ConversationMeta.parse(meta)));
    await this.#redis.zadd(conversationIndexKey(), meta.created_at, meta.id);
  }

  /** Overwrites the given fields. */
  async update(id: string, patch: Partial<ConversationMeta>): Promise<void> {
    const encoded = encodeMetaHash(patch);
    if (Object.keys(encoded).length === 0) return;
    await this.#redis.hset(conversationKeys(id).meta, encoded);
  }

  /** Metadata of a conversation, or undefined when it does not exist. */
  async get(id: string): Promise<ConversationMeta | undefined> {
    const raw = await this.#redis.hgetall(conversationKeys(id).meta);
    if (Object.keys(raw).length === 0) return undefined;
    return decodeMetaHash(id, raw);
  }

  /**
   * Metadata of a conversation that must exist.
   *
   * @throws {DialogueError} `not_found` naming the id and how to list ids.
   */
  async require(id: string): Promise<ConversationMeta> {
    const meta = await this.get(id);
    if (!meta) {
      throw new DialogueError(
        ErrorCode.NotFound,
        `Cannot find conversation ${id} in Redis: list them with 'deno task observe --list'`,
      );
    }
    return meta;
  }

  /**
   * Metadata of a conversation, waiting (polling) for it to be created —
   * processes of one run may start in any order.
   *
   * @throws {DialogueError} `not_found` when it does not appear within `timeoutMs`.
   */
  async waitFor(
    id: string,
    options: { timeoutMs?: number; signal?: AbortSignal; pollMs?: number } = {},
  ): Promise<ConversationMeta> {
    const giveUp = Date.now() + (options.timeoutMs ?? 60_000);
    while (Date.now() < giveUp && !options.signal?.aborted) {
      const meta = await this.get(id);
      if (meta) return meta;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
    }
    return await this.require(id);
  }

  /** Waits (polling) while the conversation's status is `interrupted`. */
  async waitWhileInterrupted(id: string, signal?: AbortSignal, pollMs = 250): Promise<void> {
    while (!signal?.aborted && (await this.require(id)).status === "interrupted") {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** The status and reason, unless the conversation has ended already. */
  async finish(
    id: string,
    status: Exclude<ConversationStatus, "pending" | "running">,
    reason: StopReason,
    error?: string,
  ): Promise<boolean> {
    const { changed } = await transitionStatus(this.#redis, id, status, {
      set: {
        stop_reason: reason,
        ended_at: Date.now(),
        ...(error ? { error: error.slice(0, 4000) } : {}),
      },
    });
    return changed;
  }

  /** Conversation ids, newest first. */
  async ids(limit = 50, offset = 0): Promise<string[]> {
    return await this.#redis.zrevrange(
      conversationIndexKey(),
      offset,
      offset + limit - 1,
    );
  }

  /** The newest conversation id, if any. */
  async latest(): Promise<string | undefined> {
    return (await this.ids(1))[0];
  }

  /**
   * Metadata of the newest conversations. Ids whose metadata expired are
   * dropped from the index; ids with invalid metadata are skipped.
   */
  async list(limit = 50): Promise<ConversationMeta[]> {
    const out: ConversationMeta[] = [];
    for (const id of await this.ids(limit)) {
      let meta: ConversationMeta | undefined;
      try {
        meta = await this.get(id);
      } catch {
        continue; // Invalid metadata: left in place for the user to inspect.
      }
      if (meta) out.push(meta);
      else await this.#redis.zrem(conversationIndexKey(), id); // Expired.
    }
    return out;
  }

  /**
   * Reads a run's transcript back: only what the run accepted, by the rule
   * of {@linkcode TranscriptReader}.
   *
   * @throws {DialogueError} `not_found` when the conversation does not exist.
   */
  async transcript(id: string): Promise<StoredTranscript> {
    return await this.#transcripts.transcript(id, await this.require(id));
  }

  /**
   * The accepted responses of the (at most) `limit` turns before turn `seq`,
   * in turn order: what an agent shows its model as history (see
   * {@linkcode TranscriptReader.prototype.responsesBefore}).
   */
  async responsesBefore(
    id: string,
    seq: number,
    options: HistoryOptions = {},
  ): Promise<DialogMessage[]> {
    return await this.#transcripts.responsesBefore(id, seq, options);
  }

  /** Depth and pending counts of a conversation's four queues (see {@linkcode queueStats}). */
  async queueStats(id: string): Promise<QueueStat[]> {
    return await queueStats(this.#redis, id);
  }

  /**
   * Deletes every key of a conversation (one DEL: they share the `{id}` slot),
   * then its index entry (a global key, so a command of its own).
   */
  async delete(id: string): Promise<void> {
    await this.#redis.del(...conversationKeys(id).all());
    await this.#redis.zrem(conversationIndexKey(), id);
  }

  /** Sets a time to live on every key of a conversation. */
  async expire(id: string, seconds: number): Promise<void> {
    const tx = this.#redis.multi();
    for (const key of conversationKeys(id).all()) tx.expire(key, seconds);
    await tx.exec();
  }
}

/**
 * The newest conversation that is pending or running, waiting (polling)
 * until one appears; undefined when `signal` aborts first.
 */
export async function waitForActiveConversation(
  redis: Redis,
  signal: AbortSignal,
  pollMs = 500,
): Promise<string | undefined> {
  const store = new ConversationStore(redis);
  while (!signal.aborted) {
    for (const meta of await store.list(10)) {
      if (meta.status === "pending" || meta.status === "running") return meta.id;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return undefined;
}
