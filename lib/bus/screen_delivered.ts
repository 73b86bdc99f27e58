/**
 * What a consumer does with entries a group read delivered, before anyone
 * sees them: valid ones are decoded, invalid ones are moved to the
 * dead-letter stream and acknowledged, and ones whose data was trimmed are
 * acknowledged. Nothing is deleted: the streams are the conversation log.
 *
 * @module
 */
import type { Redis } from "ioredis";
import {
  decodeEntry,
  decodeFields,
  LOSSY_UTF8,
  type RawFields,
  type StreamEntry,
} from "./stream_entry.ts";
import { queueDeadLetterEntry } from "./dead_letter.ts";
import { log } from "../base/logger.ts";

/** One entry as `XREADGROUP`/`XAUTOCLAIM` return it in Buffer mode: id and fields. */
export type DeliveredEntry = [Uint8Array, RawFields | null];

/** Where {@linkcode screenDelivered} acknowledges and dead-letters. */
export interface ScreenOptions {
  /** Consumer group the entries were delivered to (and are acknowledged in). */
  group: string;
  /** Stream receiving entries that fail validation. */
  deadLetter: string;
}

/**
 * The valid entries of `entries`, decoded, in order. An invalid entry is
 * appended to `options.deadLetter` (source, source_id, reason, raw) and
 * acknowledged; a pending entry whose data was trimmed (null fields) is
 * acknowledged. Neither is returned, so a consumer never sees them twice.
 */
export async function screenDelivered(
  redis: Redis,
  stream: string,
  entries: DeliveredEntry[],
  options: ScreenOptions,
): Promise<StreamEntry[]> {
  const out: StreamEntry[] = [];
  for (const [rawId, fields] of entries) {
    const id = LOSSY_UTF8.decode(rawId);
    // A pending entry whose data was trimmed comes back with null fields.
    if (fields === null) {
      await redis.xack(stream, options.group, id);
      continue;
    }
    try {
      out.push({ stream, id, message: decodeEntry(decodeFields(fields)) });
    } catch (error) {
      const readable = fields.map((f) => LOSSY_UTF8.decode(f));
      await _deadLetter(
        redis,
        { stream, id, fields: readable, reason: (error as Error).message },
        options,
      );
    }
  }
  return out;
}

async function _deadLetter(
  redis: Redis,
  entry: { stream: string; id: string; fields: string[]; reason: string },
  options: ScreenOptions,
): Promise<void> {
  const { stream, id, reason } = entry;
  log("stream").warn(
    "Moved invalid entry {id} of {stream} to {dead}: {reason}",
    { id, stream, dead: options.deadLetter, reason },
  );
  await queueDeadLetterEntry(redis, options.deadLetter, {
    source: stream,
    sourceId: id,
    reason,
    raw: entry.fields,
  });
  await redis.xack(stream, options.group, id);
}
