/**
 * New entries of several streams read through one consumer group, each
 * stream by its own blocking connection (a command never spans two streams,
 * so two hash slots on Redis Cluster), merged as they arrive: a caller waits
 * only until the first stream delivers, and an empty stream never delays
 * another.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { createRedis } from "./redis_connection.ts";

/** One raw entry and the stream it came from. */
export interface ArrivedEntry {
  stream: string;
  id: string;
  fields: string[] | null;
}

/** Options of {@linkcode BlockingReads}. */
export interface BlockingReadsOptions {
  group: string;
  consumer: string;
  /** How long one blocking read waits. */
  blockMs: number;
  redisConfig: Config["redis"];
}

/** The blocking side of one consumer over many streams. */
export class BlockingReads {
  readonly #opts: BlockingReadsOptions;
  readonly #clients = new Map<string, Redis>();
  readonly #inflight = new Map<string, Promise<void>>();
  #buffer: ArrivedEntry[] = [];
  #arrived: (() => void) | undefined;
  #error: unknown;

  constructor(options: BlockingReadsOptions) {
    this.#opts = options;
  }

  /**
   * Up to `count` new entries. Each stream has at most one read in flight;
   * what arrives beyond `count` is kept for the next call (it is pending
   * under this consumer already). Returns early, possibly empty, on abort.
   *
   * @throws the read's error when every read failed (e.g. Redis is away).
   */
  async next(streams: string[], count: number, signal: AbortSignal): Promise<ArrivedEntry[]> {
    if (this.#buffer.length === 0 && !signal.aborted) {
      for (const stream of streams) {
        if (this.#inflight.has(stream)) continue;
        const read = this.#read(stream, count)
          .then((entries) => {
            this.#buffer.push(...entries);
          })
          .catch((error) => {
            this.#error = error;
          })
          .finally(() => {
            this.#inflight.delete(stream);
            this.#arrived?.();
          });
        this.#inflight.set(stream, read);
      }
      // A stop does not wait for the blocking reads to time out.
      const onAbort = () => this.#arrived?.();
      signal.addEventListener("abort", onAbort, { once: true });
      while (this.#buffer.length === 0 && this.#inflight.size > 0 && !signal.aborted) {
        await new Promise<void>((r) => this.#arrived = r);
      }
      signal.removeEventListener("abort", onAbort);
      const error = this.#error;
      this.#error = undefined;
      // The caller's outage guard decides whether to wait or give up.
      if (error !== undefined && this.#buffer.length === 0) throw error;
    }
    return this.#buffer.splice(0, count);
  }

  /**
   * Drops the connections. They may be parked in a read: no QUIT is queued
   * behind it. An entry delivered meanwhile stays pending under this consumer.
   */
  close(): void {
    for (const client of this.#clients.values()) client.disconnect();
    this.#clients.clear();
  }

  async #read(stream: string, count: number): Promise<ArrivedEntry[]> {
    const reply = await this.#client(stream).xreadgroup(
      "GROUP",
      this.#opts.group,
      this.#opts.consumer,
      "COUNT",
      count,
      "BLOCK",
      this.#opts.blockMs,
      "STREAMS",
      stream,
      ">",
    ) as [string, [string, string[] | null][]][] | null;
    return (reply?.[0]?.[1] ?? []).map(([id, fields]) => ({ stream, id, fields }));
  }

  #client(stream: string): Redis {
    let client = this.#clients.get(stream);
    if (!client) {
      client = createRedis(this.#opts.redisConfig, { name: "tickets", blocking: true });
      client.on("error", () => {});
      this.#clients.set(stream, client);
    }
    return client;
  }
}
