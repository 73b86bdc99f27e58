/**
 * Reading a run's accepted transcript back from its streams: only the entries
 * the manager recorded, never whole streams and never anything else written
 * to them.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { agentForTurn, type DialogMessage } from "../model/dialog_message.ts";
import { conversationKeys } from "./keys.ts";
import { decodeEntry, decodeFields, type RawFields } from "./stream_entry.ts";

/** Turns of history {@linkcode TranscriptReader.prototype.responsesBefore} reads by default. */
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

/** Options of {@linkcode TranscriptReader.prototype.responsesBefore}. */
export interface HistoryOptions {
  /**
   * How many turns back to read.
   *
   * @default {40}
   */
  limit?: number;
}

/**
 * Reads back what a run accepted. A response counts when its entry id is the
 * one recorded in `answered` for its turn, the turn was counted
 * (`seq ≤ meta.turns`) and it sits in the stream of the slot that speaks at
 * that turn; a request when its entry id is the one in `routed`. Anything
 * else written to the streams (a second answer, a response for turn 999 or
 * for the other slot, a request added by hand) is never returned.
 * `ConversationStore` exposes both reads by conversation id.
 */
export class TranscriptReader {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * The whole accepted transcript of conversation `id`, whose metadata the
   * caller has read (`meta.turns` bounds the responses). Reads the two
   * hashes, then exactly the entries named there (`XRANGE id id`,
   * pipelined).
   */
  async transcript(id: string, meta: ConversationMeta): Promise<StoredTranscript> {
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
   * round trips, no whole stream).
   */
  async responsesBefore(
    id: string,
    seq: number,
    options: HistoryOptions = {},
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
