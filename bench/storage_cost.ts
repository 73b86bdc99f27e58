/**
 * Redis memory per stored message for `deno task bench`: `MEMORY USAGE` of a
 * conversation's request and response streams divided by the entries they
 * hold, against the messages' content bytes.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { conversationKeys } from "../lib/bus/keys.ts";
import { decodeEntry } from "../lib/bus/stream_entry.ts";

/** Memory of the stored messages of some conversations. */
export interface StorageCost {
  messages: number;
  /** Stream memory per message, bytes. */
  bytesPerMessage: number;
  /** Mean UTF-8 length of a message's content. */
  contentBytes: number;
  /** Mean length of the whole stored entry (fields and values). */
  entryBytes: number;
}

const _encoder = new TextEncoder();

/** Measures the request and response streams of `ids`. */
export async function storageCost(redis: Redis, ids: readonly string[]): Promise<StorageCost> {
  let memory = 0;
  let messages = 0;
  let content = 0;
  let entry = 0;
  for (const id of ids) {
    const keys = conversationKeys(id);
    for (
      const stream of [keys.requests(1), keys.requests(2), keys.responses(1), keys.responses(2)]
    ) {
      memory += Number(await redis.memory("USAGE", stream, "SAMPLES", 0) ?? 0);
      for (const [, fields] of await redis.xrange(stream, "-", "+")) {
        messages++;
        entry += fields.reduce((sum, f) => sum + _encoder.encode(f).length, 0);
        try {
          content += _encoder.encode(decodeEntry(fields).content).length;
        } catch {
          // not a message: counted in memory, not in content
        }
      }
    }
  }
  return {
    messages,
    bytesPerMessage: memory / messages,
    contentBytes: content / messages,
    entryBytes: entry / messages,
  };
}
