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
import { agentForTurn, type AgentId, type DialogMessage } from "../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { AGENT_GROUP, conversationIndexKey, conversationKeys, MANAGER_GROUP } from "./keys.ts";
import { transitionStatus } from "./status_transition.ts";
import { decodeEntry, decodeFields, type RawFields } from "./stream_entry.ts";

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

/** Turns of history {@linkcode ConversationStore.responsesBefore} reads by default. */
export const DEFAULT_HISTORY_TURNS = 40;

/** Entries read per pipeline when a transcript is read back. */
const _PIPELINE_CHUNK = 500;

/** A run read back from Redis. */
export interface StoredTranscript {
  meta: ConversationMeta;
  /** The accepted agent responses, one per counted turn, in turn order. */
  responses: DialogMessage[];
  /** The routed manager requests, one per turn, in turn order. */
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

  /**
   * Reads a run's transcript back: only what the run accepted. A response is
   * returned when its entry id is the one recorded in `answered` for its turn,
   * the turn was counted (`seq ≤ meta.turns`) and it sits in the stream of the
   * slot that speaks at that turn; a request when its entry id is the one in
   * `routed`. Anything else written to the streams (a second answer, a
   * response for turn 999 or for the other slot, a request added by hand) is
   * never returned. Reads the two hashes, then exactly the entries named
   * there (`XRANGE id id`, pipelined), never whole streams.
   *
   * @throws {DialogueError} `not_found` when the conversation does not exist.
   */
  async transcript(id: string): Promise<StoredTranscript> {
    const meta = await this.require(id);
    const keys = conversationKeys(id);
    const [answered, routed] = await Promise.all([
      this.#redis.hgetall(keys.answered),
      this.#redis.hgetall(keys.routed),
    ]);
    const accepted = _turnIds(answered).filter(([seq]) => seq <= meta.turns);
    const [responses, requests] = await Promise.all([
      this.#readRecorded(id, "responses", accepted),
      this.#readRecorded(id, "requests", _turnIds(routed)),
    ]);
    return { meta, responses, requests };
  }

  /**
   * The accepted responses of the (at most) `limit` turns before turn `seq`,
   * in turn order: what an agent shows its model as history. Reads the turn
   * count, the `answered` ids of those turns and exactly those entries (two
   * round trips, no whole stream); the same acceptance rule as
   * {@linkcode ConversationStore.transcript}.
   */
  async responsesBefore(
    id: string,
    seq: number,
    options: {
      /**
       * How many turns back to read.
       *
       * @default {40}
       */
      limit?: number;
    } = {},
  ): Promise<DialogMessage[]> {
    const keys = conversationKeys(id);
    const first = Math.max(1, seq - (options.limit ?? DEFAULT_HISTORY_TURNS));
    const seqs: number[] = [];
    for (let s = first; s < seq; s++) seqs.push(s);
    if (seqs.length === 0) return [];
    const replies = await this.#redis.pipeline()
      .hget(keys.meta, "turns")
      .hmget(keys.answered, ...seqs.map(String))
      .exec();
    const turns = Number(replies?.[0]?.[1] ?? 0);
    const ids = (replies?.[1]?.[1] ?? []) as (string | null)[];
    const wanted = seqs.flatMap((s, i): [number, string][] => {
      const entryId = ids[i];
      return entryId && s <= turns ? [[s, entryId]] : [];
    });
    return await this.#readRecorded(id, "responses", wanted);
  }

  /**
   * The entries named by `wanted` (turn → entry id), each read from the
   * stream of the slot that speaks at its turn, in turn order. An entry that
   * is gone, invalid, or whose turn or conversation does not match is left
   * out.
   */
  async #readRecorded(
    id: string,
    kind: "requests" | "responses",
    wanted: readonly [number, string][],
  ): Promise<DialogMessage[]> {
    const keys = conversationKeys(id);
    const out: DialogMessage[] = [];
    for (let from = 0; from < wanted.length; from += _PIPELINE_CHUNK) {
      const chunk = wanted.slice(from, from + _PIPELINE_CHUNK);
      const pipe = this.#redis.pipeline();
      for (const [seq, entryId] of chunk) {
        const agent = agentForTurn(seq);
        pipe.xrangeBuffer(keys[kind](agent), entryId, entryId, "COUNT", 1);
      }
      const replies = (await pipe.exec()) ?? [];
      chunk.forEach(([seq], i) => {
        const [error, entries] = replies[i] ?? [];
        const fields = (entries as [Uint8Array, RawFields][] | undefined)?.[0]?.[1];
        if (error || !fields) return;
        let message: DialogMessage;
        try {
          message = decodeEntry(decodeFields(fields));
        } catch {
          return; // Invalid entries are dead-lettered by the consumers; readers skip them.
        }
        const m = message.metadata;
        if (m.sequence_number !== seq || m.conversation_id !== id) return;
        if (m.agent_id !== undefined && m.agent_id !== agentForTurn(seq)) return;
        out.push(message);
      });
    }
    return out;
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

/** The (turn, entry id) pairs of an `answered` or `routed` hash, in turn order. */
function _turnIds(hash: Record<string, string>): [number, string][] {
  return Object.entries(hash)
    .flatMap(([field, entryId]): [number, string][] => {
      const seq = Number(field);
      return Number.isSafeInteger(seq) && seq >= 1 && String(seq) === field ? [[seq, entryId]] : [];
    })
    .sort((a, b) => a[0] - b[0]);
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
