/**
 * Conversation metadata and the index of conversations in Redis, and reading
 * a run's transcript back from its streams.
 *
 * @module
 */
import type { Redis } from "ioredis";
import {
  ConversationMeta,
  type ConversationStatus,
  type StopReason,
} from "../model/conversation_meta.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { AGENT_GROUP, conversationIndexKey, conversationKeys, MANAGER_GROUP } from "./keys.ts";
import { transitionStatus } from "./status_transition.ts";
import { readWholeStream } from "./stream_entry.ts";

/** Fields stored as JSON in the meta hash; the rest are plain strings or numbers. */
const JSON_FIELDS = new Set(["scenario", "models", "config"]);
const NUMBER_FIELDS = new Set([
  "created_at",
  "started_at",
  "ended_at",
  "resumed_at",
  "paused_ms",
  "deadline",
  "turns",
  "max_turns",
  "duration_seconds",
]);

/** A run read back from Redis. */
export interface StoredTranscript {
  meta: ConversationMeta;
  /** Agent responses ordered by sequence number, one per turn. */
  responses: DialogMessage[];
  /** Manager requests ordered by sequence number. */
  requests: DialogMessage[];
}

/** Depth and unacknowledged count of one stream. */
export interface QueueStat {
  stream: string;
  length: number;
  pending: number;
}

/** Reads and writes conversation metadata. */
export class ConversationStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Stores new metadata and adds the conversation to the index. */
  async create(meta: ConversationMeta): Promise<void> {
    const keys = conversationKeys(meta.id);
    await this.#redis.multi()
      .hset(keys.meta, _encode(ConversationMeta.parse(meta)))
      .zadd(conversationIndexKey(), meta.created_at, meta.id)
      .exec();
  }

  /** Overwrites the given fields. */
  async update(id: string, patch: Partial<ConversationMeta>): Promise<void> {
    const encoded = _encode(patch);
    if (Object.keys(encoded).length === 0) return;
    await this.#redis.hset(conversationKeys(id).meta, encoded);
  }

  /** Metadata of a conversation, or undefined when it does not exist. */
  async get(id: string): Promise<ConversationMeta | undefined> {
    const raw = await this.#redis.hgetall(conversationKeys(id).meta);
    if (Object.keys(raw).length === 0) return undefined;
    let decoded: Record<string, unknown>;
    try {
      decoded = _decode(raw);
    } catch (error) {
      throw _invalidMeta(id, (error as Error).message);
    }
    const result = ConversationMeta.safeParse(decoded);
    if (result.success) return result.data;
    const issue = result.error.issues[0]!;
    throw _invalidMeta(id, `${issue.path.join(".") || "meta"}: ${issue.message}`);
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

  /** Reads a run's requests and responses back from its streams. */
  async transcript(id: string): Promise<StoredTranscript> {
    const meta = await this.require(id);
    const keys = conversationKeys(id);
    const read = async (stream: string) =>
      (await readWholeStream(this.#redis, stream)).map((e) => e.message);
    const bySeq = (a: DialogMessage, b: DialogMessage) =>
      a.metadata.sequence_number - b.metadata.sequence_number;
    const responses = _firstPerSeq([
      ...await read(keys.responses(1)),
      ...await read(keys.responses(2)),
    ].sort(bySeq));
    const requests = _firstPerSeq([
      ...await read(keys.requests(1)),
      ...await read(keys.requests(2)),
    ].sort(bySeq));
    return { meta, responses, requests };
  }

  /** Responses of both agents before turn `seq`, in turn order. */
  async responsesBefore(id: string, seq: number): Promise<DialogMessage[]> {
    const keys = conversationKeys(id);
    const all = [
      ...await readWholeStream(this.#redis, keys.responses(1)),
      ...await readWholeStream(this.#redis, keys.responses(2)),
    ].map((e) => e.message).filter((m) => m.metadata.sequence_number < seq);
    return _firstPerSeq(
      all.sort((a, b) => a.metadata.sequence_number - b.metadata.sequence_number),
    );
  }

  /** Depth and pending counts of a conversation's four queues. */
  async queueStats(id: string): Promise<QueueStat[]> {
    const keys = conversationKeys(id);
    const streams: [string, string][] = [];
    for (const agent of [1, 2] as AgentId[]) {
      streams.push([keys.requests(agent), AGENT_GROUP]);
      streams.push([keys.responses(agent), MANAGER_GROUP]);
    }
    const out: QueueStat[] = [];
    for (const [stream, group] of streams) {
      const length = await this.#redis.xlen(stream);
      let pending = 0;
      try {
        const summary = await this.#redis.xpending(stream, group) as [
          number,
          ...unknown[],
        ];
        pending = Number(summary[0] ?? 0);
      } catch {
        // No group yet: nothing is pending.
      }
      out.push({ stream, length, pending });
    }
    return out;
  }

  /** Deletes every key of a conversation and its index entry. */
  async delete(id: string): Promise<void> {
    await this.#redis.multi()
      .del(...conversationKeys(id).all())
      .zrem(conversationIndexKey(), id)
      .exec();
  }

  /** Sets a time to live on every key of a conversation. */
  async expire(id: string, seconds: number): Promise<void> {
    const tx = this.#redis.multi();
    for (const key of conversationKeys(id).all()) tx.expire(key, seconds);
    await tx.exec();
  }
}

function _invalidMeta(id: string, why: string): DialogueError {
  return new DialogueError(
    ErrorCode.NotFound,
    `Conversation ${id} has invalid metadata in Redis (${why}): inspect ${
      conversationKeys(id).meta
    } or delete the run with 'deno task clean --conversation ${id} --force'`,
  );
}

/** The first message per sequence number (a duplicate answer is ignored). */
function _firstPerSeq(sorted: DialogMessage[]): DialogMessage[] {
  const seen = new Set<number>();
  return sorted.filter((m) => {
    const seq = m.metadata.sequence_number;
    if (seen.has(seq)) return false;
    seen.add(seq);
    return true;
  });
}

function _encode(meta: Partial<ConversationMeta>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (value === undefined) continue;
    out[key] = JSON_FIELDS.has(key) ? JSON.stringify(value) : String(value);
  }
  return out;
}

function _decode(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (JSON_FIELDS.has(key)) out[key] = JSON.parse(value);
    else if (NUMBER_FIELDS.has(key)) out[key] = Number(value);
    else out[key] = value;
  }
  return out;
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
