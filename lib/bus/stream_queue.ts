/**
 * A Redis Stream read through a consumer group: claiming what other
 * consumers abandoned, re-reading this consumer's own pending entries after a
 * restart, then blocking for new ones. Delivered entries are screened by
 * {@linkcode screenDelivered} (invalid ones dead-lettered); appending comes
 * from {@linkcode StreamAppender}.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { LOSSY_UTF8, type StreamEntry } from "./stream_entry.ts";
import { log } from "../base/logger.ts";
import { StreamAppender } from "./stream_appender.ts";
import { type DeliveredEntry, screenDelivered } from "./screen_delivered.ts";

/** Options of a {@linkcode StreamQueue}. */
export interface StreamQueueOptions {
  /** Consumer group name. */
  group: string;
  /** This process's consumer name within the group; unique per process. */
  consumer: string;
  /** Stream receiving entries that fail validation. */
  deadLetter: string;
  /** How long one blocking read waits before checking for abort. @default 2000 */
  blockMs?: number;
  /**
   * An entry unacknowledged and untouched this long is taken over by the
   * next reader: its consumer is presumed dead. @default 30000
   */
  claimIdleMs?: number;
  /**
   * How often {@linkcode StreamQueue.read} looks for abandoned entries (on a
   * timer, not before every read). @default claimIdleMs / 4, at least 100
   */
  claimEveryMs?: number;
}

/**
 * Consumer (and, through {@linkcode StreamAppender}, producer) of
 * conversation streams for one process.
 */
export class StreamQueue extends StreamAppender {
  readonly #redis: Redis;
  readonly #blocking: Redis;
  readonly #opts: Required<StreamQueueOptions>;
  /** Streams whose own pending entries have been re-read since start. */
  readonly #recovered = new Set<string>();
  /** When the next look for abandoned entries is due (epoch ms); the first read looks. */
  #nextClaimAt = 0;

  /**
   * @param redis connection for ordinary commands
   * @param blocking dedicated connection for blocking reads
   */
  constructor(redis: Redis, blocking: Redis, options: StreamQueueOptions) {
    super(redis);
    this.#redis = redis;
    this.#blocking = blocking;
    const claimIdleMs = options.claimIdleMs ?? 30_000;
    this.#opts = {
      blockMs: 2000,
      claimIdleMs,
      claimEveryMs: Math.max(100, claimIdleMs / 4),
      ...options,
    };
  }

  /** Creates the consumer group on each stream (and the stream) if missing. */
  async ensureGroup(streams: string[]): Promise<void> {
    for (const stream of streams) {
      try {
        await this.#redis.xgroup(
          "CREATE",
          stream,
          this.#opts.group,
          "0",
          "MKSTREAM",
        );
      } catch (error) {
        if (!String((error as Error).message).includes("BUSYGROUP")) {
          throw error;
        }
      }
    }
  }

  /**
   * Reads the next entries for this consumer: entries abandoned by other
   * consumers (looked for every `claimEveryMs`), its own unacknowledged ones
   * (after a restart), then new ones, blocking up to `blockMs`.
   * Invalid entries are dead-lettered and acknowledged, never returned.
   */
  async read(
    streams: string[],
    options: { count?: number; blockMs?: number } = {},
  ): Promise<StreamEntry[]> {
    const count = options.count ?? 10;
    if (Date.now() >= this.#nextClaimAt) {
      this.#nextClaimAt = Date.now() + this.#opts.claimEveryMs;
      const claimed = await this.#claimStale(streams, count);
      if (claimed.length > 0) {
        // More may be waiting: look again at the next read.
        this.#nextClaimAt = 0;
        return claimed;
      }
    }
    const pending = streams.filter((s) => !this.#recovered.has(s));
    if (pending.length > 0) {
      const own = await this.#readGroup(pending, "0", count, 0);
      if (own.raw > 0) return own.entries;
      for (const s of pending) this.#recovered.add(s);
    }
    const blockMs = Math.max(1, Math.round(options.blockMs ?? this.#opts.blockMs));
    return (await this.#readGroup(streams, ">", count, blockMs)).entries;
  }

  /** Makes the next {@linkcode read} re-deliver this consumer's unacknowledged entries. */
  recover(): void {
    this.#recovered.clear();
    this.#nextClaimAt = 0;
  }

  /**
   * Takes over every unacknowledged entry of the group on `streams`, however
   * recently it was delivered — for when the previous consumer is known to be
   * gone (a resumed manager). The next {@linkcode read} delivers them.
   */
  async claimAll(streams: string[]): Promise<number> {
    let claimed = 0;
    for (const stream of streams) {
      let cursor = "0-0";
      do {
        const reply = await this.#redis.xautoclaim(
          stream,
          this.#opts.group,
          this.#opts.consumer,
          0,
          cursor,
          "COUNT",
          100,
          "JUSTID",
        ) as [string, string[]];
        cursor = reply[0];
        claimed += reply[1].length;
      } while (cursor !== "0-0");
    }
    this.recover();
    return claimed;
  }

  /**
   * Gives up an entry this consumer will not finish, leaving it pending but
   * marked idle long enough that the next reader claims it at once.
   */
  async release(entry: { stream: string; id: string }): Promise<void> {
    await this.#redis.xclaim(
      entry.stream,
      this.#opts.group,
      this.#opts.consumer,
      0,
      entry.id,
      "IDLE",
      this.#opts.claimIdleMs + 1000,
      "JUSTID",
    );
    this.#nextClaimAt = 0;
  }

  /**
   * Resets an entry's idle time while it is being worked on, so that
   * {@linkcode read} in other consumers does not claim it as abandoned.
   */
  async touch(entry: { stream: string; id: string }): Promise<void> {
    await this.#redis.xclaim(
      entry.stream,
      this.#opts.group,
      this.#opts.consumer,
      0,
      entry.id,
      "JUSTID",
    );
  }

  /** Takes over entries another consumer left unacknowledged for longer than `claimIdleMs`. */
  async #claimStale(streams: string[], count: number): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    for (const stream of streams) {
      const reply = await this.#redis.callBuffer(
        "XAUTOCLAIM",
        stream,
        this.#opts.group,
        this.#opts.consumer,
        this.#opts.claimIdleMs,
        "0-0",
        "COUNT",
        count,
      ) as unknown as [Uint8Array, DeliveredEntry[]];
      const entries = await screenDelivered(this.#redis, stream, reply[1] ?? [], this.#opts);
      if (entries.length > 0) {
        log("stream").info("Claimed {n} abandoned entries of {stream}", {
          n: entries.length,
          stream,
        });
      }
      out.push(...entries);
    }
    return out;
  }

  /** Acknowledges an entry once it has been fully handled. */
  async ack(entry: { stream: string; id: string }): Promise<void> {
    await this.#redis.xack(entry.stream, this.#opts.group, entry.id);
  }

  async #readGroup(
    streams: string[],
    from: string,
    count: number,
    blockMs: number,
  ): Promise<{ entries: StreamEntry[]; raw: number }> {
    const block = blockMs > 0;
    const args: (string | number)[] = [
      "GROUP",
      this.#opts.group,
      this.#opts.consumer,
      "COUNT",
      count,
    ];
    if (block) args.push("BLOCK", blockMs);
    args.push("STREAMS", ...streams, ...streams.map(() => from));
    const client = block ? this.#blocking : this.#redis;
    // deno-lint-ignore no-explicit-any
    const reply = await (client as any).xreadgroupBuffer(...args) as
      | [Uint8Array, DeliveredEntry[]][]
      | null;
    const out: StreamEntry[] = [];
    let raw = 0;
    for (const [stream, entries] of reply ?? []) {
      raw += entries.length;
      out.push(
        ...await screenDelivered(this.#redis, LOSSY_UTF8.decode(stream), entries, this.#opts),
      );
    }
    return { entries: out, raw };
  }
}
