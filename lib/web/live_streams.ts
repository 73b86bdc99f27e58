/**
 * Reading many live streams through one blocking connection: one `XREAD`
 * over all of them, each from its own cursor, in a loop. A stream added
 * while the read blocks wakes it (`CLIENT UNBLOCK` from the command
 * connection) so its events do not wait for the block to time out.
 *
 * One command spans every stream, which a single Redis (and the local
 * store) serves. On Redis Cluster the streams of different conversations
 * live in different slots, which no one command may span: there the loop
 * reads each stream without blocking, in one pipeline that the cluster
 * client splits by node and sends in parallel, and waits `pollMs` (or a new
 * stream) between reads that found nothing.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { log } from "../base/logger.ts";
import { isCluster } from "../bus/redis_connection.ts";

/** Called with the new entries of one stream, in order; may be async (the loop waits). */
export type EntriesHandler = (key: string, entries: [string, string[]][]) => Promise<void>;

/** Options of {@linkcode LiveStreams}. */
export interface LiveStreamsOptions {
  /** How long one read blocks. @default {1000} */
  blockMs?: number;
  /** Entries per stream per read. @default {500} */
  count?: number;
  /** On Redis Cluster, the pause after a read that found nothing (ms). @default {50} */
  pollMs?: number;
}

type _Xread = (...args: (string | number)[]) => Promise<[string, [string, string[]][]][] | null>;

/** The read loop over a changing set of streams. */
export class LiveStreams {
  readonly #reader: Redis;
  readonly #cmd: Redis;
  readonly #handler: EntriesHandler;
  readonly #blockMs: number;
  readonly #count: number;
  readonly #pollMs: number;
  readonly #cluster: boolean;
  readonly #cursors = new Map<string, string>();
  #readerId = 0;
  #blocked = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();

  /**
   * @param reader a connection for blocking reads, used for nothing else
   * @param cmd a connection for ordinary commands (to unblock the reader)
   */
  constructor(
    reader: Redis,
    cmd: Redis,
    handler: EntriesHandler,
    options: LiveStreamsOptions = {},
  ) {
    this.#reader = reader;
    this.#cmd = cmd;
    this.#handler = handler;
    this.#blockMs = options.blockMs ?? 1000;
    this.#count = options.count ?? 500;
    this.#pollMs = options.pollMs ?? 50;
    this.#cluster = isCluster(reader);
  }

  /** Starts the loop. */
  async start(): Promise<void> {
    // CLIENT ID names one node's connection: a cluster reader never blocks.
    if (!this.#cluster) this.#readerId = Number(await this.#reader.client("ID"));
    this.#loop = this.#run();
  }

  /** Reads `key` from after entry `cursor` on. */
  add(key: string, cursor: string): void {
    this.#cursors.set(key, cursor);
    this.#changed();
  }

  /** Stops reading `key` (its entries in the current reply are still handed over). */
  remove(key: string): void {
    this.#cursors.delete(key);
  }

  /** Streams read. */
  get size(): number {
    return this.#cursors.size;
  }

  /** Stops the loop (the caller closes the connections). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#reader.disconnect();
    await this.#loop.catch(() => {});
  }

  #changed(): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake();
    } else if (this.#blocked) {
      // Without the right (an ACL) the read just ends at its timeout.
      this.#cmd.client("UNBLOCK", this.#readerId).catch(() => {});
    }
  }

  /** One non-blocking XREAD per stream, pipelined (split by node on a cluster). */
  async #poll(keys: string[]): Promise<Awaited<ReturnType<_Xread>>> {
    const pipeline = this.#reader.pipeline();
    for (const key of keys) {
      pipeline.xread("COUNT", this.#count, "STREAMS", key, this.#cursors.get(key)!);
    }
    const replies = (await pipeline.exec()) ?? [];
    const out: [string, [string, string[]][]][] = [];
    for (const [error, value] of replies) {
      if (error) throw error;
      for (const stream of (value as [string, [string, string[]][]][] | null) ?? []) {
        out.push(stream);
      }
    }
    return out;
  }

  /** Waits `pollMs`, or less when a stream is added or the loop closes. */
  async #pause(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, this.#pollMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const keys = [...this.#cursors.keys()];
      if (keys.length === 0) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      let reply: Awaited<ReturnType<_Xread>>;
      try {
        this.#blocked = !this.#cluster;
        reply = this.#cluster ? await this.#poll(keys) : await (this.#reader.xread as _Xread)(
          "COUNT",
          this.#count,
          "BLOCK",
          this.#blockMs,
          "STREAMS",
          ...keys,
          ...keys.map((k) => this.#cursors.get(k)!),
        );
      } catch (error) {
        if (this.#closed) return;
        log("web").warning("Reading the live streams failed: {error}", { error: String(error) });
        await new Promise((r) => setTimeout(r, 500));
        continue;
      } finally {
        this.#blocked = false;
      }
      if (this.#cluster && (reply ?? []).every(([, entries]) => entries.length === 0)) {
        await this.#pause();
        continue;
      }
      for (const [key, entries] of reply ?? []) {
        if (!this.#cursors.has(key) || entries.length === 0) continue;
        this.#cursors.set(key, entries.at(-1)![0]);
        try {
          await this.#handler(key, entries);
        } catch (error) {
          if (this.#closed) return;
          log("web").warning("Cannot follow {key}: {error}", { key, error: String(error) });
        }
      }
    }
  }
}
