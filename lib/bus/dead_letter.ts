/**
 * The dead-letter entry: what every process writes when it refuses an entry
 * (invalid, or not what was routed), so `dialogue:{id}:dead` reads the same
 * whoever wrote it: `source` (the stream), `source_id` (the entry),
 * `reason` (cut to 2,000 characters) and `raw` (the entry's fields as JSON,
 * cut to 64,000 characters).
 *
 * @module
 */
import type { ChainableCommander, Redis } from "ioredis";

/** One refused entry. */
export interface DeadLetter {
  /** Stream the entry was on. */
  source: string;
  /** Its entry id. */
  sourceId: string;
  /** Why it is not counted. */
  reason: string;
  /** What it held (fields as read, or a description), stored as JSON. */
  raw: unknown;
}

/**
 * Appends (on a connection) or queues (on a pipeline) a dead-letter entry on
 * stream `deadStream`.
 */
export function queueDeadLetterEntry<T extends Redis | ChainableCommander>(
  target: T,
  deadStream: string,
  letter: DeadLetter,
): ReturnType<T["xadd"]> {
  return target.xadd(
    deadStream,
    "*",
    "source",
    letter.source,
    "source_id",
    letter.sourceId,
    "reason",
    letter.reason.slice(0, 2000),
    "raw",
    JSON.stringify(letter.raw ?? null).slice(0, 64_000),
  ) as ReturnType<T["xadd"]>;
}
