/**
 * The producer side of a conversation stream: appending validated messages,
 * once per marker when a retry must not write a second entry.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { encodeEntry } from "./stream_entry.ts";
import type { DialogMessage } from "../model/dialog_message.ts";
import { runScript } from "./scripts.ts";

/**
 * Appends messages to streams. Needs no consumer group or blocking
 * connection, so a process that only writes can use it on its own;
 * `StreamQueue` extends it so a consumer can write too.
 */
export class StreamAppender {
  readonly #redis: Redis;

  /** @param redis connection for ordinary commands */
  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * Appends a message; returns its entry id.
   *
   * @throws {Error} when the message does not match the wire schema; nothing is written.
   */
  async add(stream: string, message: DialogMessage): Promise<string> {
    return (await this.#redis.xadd(stream, "*", ...encodeEntry(message)))!;
  }

  /**
   * Appends a message unless one was already appended under `marker.field`
   * of hash `marker.key`; returns the entry id either way. The check and the
   * append are one script, so two processes racing on a marker write one
   * entry.
   */
  async addOnce(
    stream: string,
    message: DialogMessage,
    marker: { key: string; field: string },
  ): Promise<{ id: string; duplicate: boolean }> {
    const [id, added] = await runScript<[string, number]>(
      this.#redis,
      "add_once",
      [marker.key, stream],
      [marker.field, ...encodeEntry(message)],
    );
    return { id, duplicate: added === 0 };
  }
}
