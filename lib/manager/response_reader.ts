/**
 * Reading a conversation's two response streams through the manager group
 * with the one consumer name every manager process shares, so a process
 * that takes a conversation over reads the entries another left pending
 * (from id "0") before new ones (">"). Entries are decoded and validated
 * once; what does not decode is returned for dead-lettering (see
 * `response_dead_letter.ts`).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { conversationKeys, MANAGER_GROUP } from "../bus/keys.ts";
import {
  decodeEntry,
  decodeFields,
  LOSSY_UTF8,
  type RawFields,
  type StreamEntry,
} from "../bus/stream_entry.ts";

/** Consumer name of every manager process in {@linkcode MANAGER_GROUP}. */
export const POOL_CONSUMER = "pool";

/** An entry that could not be decoded, to dead-letter. */
export interface UndecodedEntry {
  stream: string;
  id: string;
  fields: string[] | undefined;
  reason: string;
}

/** What one {@linkcode readResponses} call returned. */
export interface ResponseBatch {
  entries: StreamEntry[];
  undecoded: UndecodedEntry[];
  /** Entries whose data was trimmed away (pending ids only): acknowledge them. */
  gone: { stream: string; id: string }[];
  /** Entries Redis returned, of every kind. */
  raw: number;
}

/**
 * Reads up to `count` entries of conversation `id`'s response streams from
 * `from` ("0": this consumer's pending entries; ">": new ones), without
 * blocking.
 */
export async function readResponses(
  redis: Redis,
  id: string,
  options: { from: "0" | ">"; count: number },
): Promise<ResponseBatch> {
  const keys = conversationKeys(id);
  const streams = [keys.responses(1), keys.responses(2)];
  // deno-lint-ignore no-explicit-any
  const reply = await (redis as any).xreadgroupBuffer(
    "GROUP",
    MANAGER_GROUP,
    POOL_CONSUMER,
    "COUNT",
    options.count,
    "STREAMS",
    ...streams,
    options.from,
    options.from,
  ) as [Uint8Array, [Uint8Array, RawFields | null][]][] | null;
  const batch: ResponseBatch = { entries: [], undecoded: [], gone: [], raw: 0 };
  for (const [rawStream, entries] of reply ?? []) {
    const stream = LOSSY_UTF8.decode(rawStream);
    for (const [rawId, fields] of entries) {
      batch.raw++;
      const entryId = LOSSY_UTF8.decode(rawId);
      if (fields === null) {
        batch.gone.push({ stream, id: entryId });
        continue;
      }
      try {
        batch.entries.push({ stream, id: entryId, message: decodeEntry(decodeFields(fields)) });
      } catch (error) {
        batch.undecoded.push({
          stream,
          id: entryId,
          fields: fields.map((f) => LOSSY_UTF8.decode(f)),
          reason: (error as Error).message,
        });
      }
    }
  }
  return batch;
}
