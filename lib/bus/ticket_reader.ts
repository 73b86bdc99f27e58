/**
 * The consumer side of the dispatch layer: reads ticket streams through a
 * consumer group shared by every pool process of a role, keeps at most
 * `concurrency` handlers running, and acknowledges a ticket only once its
 * handler is done. Work held by a process that died is taken back at once by
 * a process restarted under the same consumer name (its own pending tickets
 * come first), and by any other process once the dead one's heartbeat is
 * older than `deadAfterMs`.
 *
 * Each ticket stream is read by its own blocking connection, so no command
 * spans two streams (two hash slots on Redis Cluster).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { z } from "zod";
import type { Config } from "../config/config.ts";
import { log } from "../base/logger.ts";
import { sleep } from "../base/backoff.ts";
import { claimFromDeadConsumers } from "./dead_consumers.ts";
import { decodeTicket } from "./dispatch.ts";
import { dispatchKeys } from "./keys.ts";
import { BlockingReads } from "./blocking_reads.ts";
import { OutageGuard } from "./redis_outage.ts";

/** One ticket handed to a handler. */
export interface HeldTicket<T> {
  stream: string;
  id: string;
  ticket: T;
}

/**
 * What a handler wants done with its ticket: `ack` it, `release` it for
 * another handler, or nothing as the handler `settled` (acknowledged) it
 * itself, e.g. in one pipeline with the work's last write.
 */
export type TicketOutcome = "ack" | "release" | "settled";

/** Options of a {@linkcode TicketReader}. */
export interface TicketReaderOptions<T> {
  /** Ticket streams to read; asked again after {@linkcode TicketReader.refresh}. */
  streams: () => string[];
  /** Consumer group (e.g. `WORKER_GROUP`). */
  group: string;
  /** This process's stable consumer name. */
  consumer: string;
  /** Shape of a valid ticket; anything else is acknowledged and dropped. */
  schema: z.ZodType<T>;
  /** How often this process records that it is alive. @default 1000 */
  heartbeatMs?: number;
  /** A consumer silent this long is presumed dead and its tickets are claimed. @default 5000 */
  deadAfterMs?: number;
  /** For the blocking connections and the outage limit. */
  redisConfig: Config["redis"];
  /** How long one blocking read waits before looking again. @default 1000 */
  blockMs?: number;
}

/** Options of {@linkcode TicketReader.serve}. */
export interface ServeOptions {
  /** Handlers running at once. */
  concurrency: number;
  /** Stops reading; resolves once the running handlers are done. */
  signal: AbortSignal;
}

/** Reads tickets for one pool process. */
export class TicketReader<T> {
  readonly #redis: Redis;
  readonly #opts: Required<TicketReaderOptions<T>>;
  readonly #reads: BlockingReads;
  readonly #ready = new Set<string>();
  readonly #ownDone = new Set<string>();
  /** Ticket ids in a handler or in the buffer: never handed out twice. */
  readonly #held = new Set<string>();
  #wake: (() => void) | undefined;
  #lastClaim = 0;

  /** @param redis connection for ordinary commands (heartbeats, acks, claims) */
  constructor(redis: Redis, options: TicketReaderOptions<T>) {
    this.#redis = redis;
    this.#opts = { heartbeatMs: 1000, deadAfterMs: 5000, blockMs: 1000, ...options };
    this.#reads = new BlockingReads({
      group: this.#opts.group,
      consumer: this.#opts.consumer,
      blockMs: this.#opts.blockMs,
      redisConfig: this.#opts.redisConfig,
    });
  }

  /** Re-reads the stream list at the next read (e.g. a new model appeared). */
  refresh(): void {
    this.#wake?.();
  }

  /**
   * Runs `handler` for each ticket until `signal` aborts. A handler that
   * throws gets its ticket released (taken up again), and the error logged.
   */
  async serve(
    handler: (held: HeldTicket<T>, signal: AbortSignal) => Promise<TicketOutcome>,
    options: ServeOptions,
  ): Promise<void> {
    const { signal, concurrency } = options;
    const running = new Set<Promise<void>>();
    const guard = new OutageGuard(this.#opts.redisConfig, [this.#redis], { signal });
    await guard.run(() => this.#beat());
    const heartbeat = setInterval(() => {
      this.#beat().catch(() => {});
    }, this.#opts.heartbeatMs);
    let slotFreed: () => void = () => {};
    try {
      while (!signal.aborted) {
        if (running.size >= concurrency) {
          await new Promise<void>((r) => slotFreed = r);
          continue;
        }
        const batch = await guard.run(() => this.#next(concurrency - running.size, signal))
          .catch((error) => {
            if (signal.aborted) return [] as HeldTicket<T>[];
            throw error;
          });
        for (const held of batch) {
          const task = this.#handle(held, handler, signal).finally(() => {
            running.delete(task);
            slotFreed();
          });
          running.add(task);
        }
      }
      await Promise.all(running);
    } finally {
      clearInterval(heartbeat);
      await this.#redis.hdel(dispatchKeys.heartbeats, this.#opts.consumer).catch(() => {});
    }
  }

  /** Resets a held ticket's idle time so a long job is not taken over. */
  async touch(held: { stream: string; id: string }): Promise<void> {
    await this.#redis.xclaim(
      held.stream,
      this.#opts.group,
      this.#opts.consumer,
      0,
      held.id,
      "JUSTID",
    );
  }

  /** Closes the blocking connections. */
  close(): Promise<void> {
    this.#reads.close();
    return Promise.resolve();
  }

  async #handle(
    held: HeldTicket<T>,
    handler: (held: HeldTicket<T>, signal: AbortSignal) => Promise<TicketOutcome>,
    signal: AbortSignal,
  ): Promise<void> {
    let outcome: TicketOutcome;
    try {
      outcome = await handler(held, signal);
    } catch (error) {
      log("dispatch").error("Ticket {id} on {stream} failed: {error}; it will be taken up again", {
        id: held.id,
        stream: held.stream,
        error: String((error as Error)?.message ?? error),
      });
      outcome = "release";
    }
    this.#held.delete(held.id);
    if (outcome === "settled") return;
    if (outcome === "release") {
      // Still pending under our name: our own pending list is read again.
      this.#ownDone.delete(held.stream);
      return;
    }
    try {
      await this.#redis.xack(held.stream, this.#opts.group, held.id);
    } catch (error) {
      // Redis away: the ticket stays pending under our name and is read
      // again from our own pending list (or claimed by others) later.
      log("dispatch").warn("Cannot settle ticket {id}: {error}", {
        id: held.id,
        error: String(error),
      });
    }
  }

  async #beat(): Promise<void> {
    await this.#redis.hset(dispatchKeys.heartbeats, this.#opts.consumer, String(Date.now()));
  }

  /** Up to `count` tickets: own pending first, then claimed from the dead, then new ones. */
  async #next(count: number, signal: AbortSignal): Promise<HeldTicket<T>[]> {
    const streams = this.#opts.streams();
    if (streams.length === 0) {
      await this.#idle(signal);
      return [];
    }
    for (const stream of streams) await this.#ensureGroup(stream);
    const own = await this.#own(streams, count);
    if (own.length > 0) return this.#hold(own);
    if (Date.now() - this.#lastClaim >= this.#opts.heartbeatMs) {
      // On a timer, not before every read: a dead consumer is noticed within
      // deadAfterMs + heartbeatMs.
      this.#lastClaim = Date.now();
      const claimed = await this.#claimFromDead(streams, count);
      if (claimed.length > 0) return this.#hold(claimed);
    }
    return this.#hold(await this.#readNew(streams, count, signal));
  }

  #hold(tickets: HeldTicket<T>[]): HeldTicket<T>[] {
    for (const t of tickets) this.#held.add(t.id);
    return tickets;
  }

  /** Waits until refreshed or a little while passes. */
  async #idle(signal: AbortSignal): Promise<void> {
    await Promise.race([
      new Promise<void>((r) => this.#wake = r),
      sleep(this.#opts.blockMs, signal),
    ]);
    this.#wake = undefined;
  }

  async #ensureGroup(stream: string): Promise<void> {
    if (this.#ready.has(stream)) return;
    try {
      await this.#redis.xgroup("CREATE", stream, this.#opts.group, "0", "MKSTREAM");
    } catch (error) {
      if (!String((error as Error).message).includes("BUSYGROUP")) throw error;
    }
    this.#ready.add(stream);
  }

  /** Tickets still pending under this consumer name (a restart under the same name). */
  async #own(streams: string[], count: number): Promise<HeldTicket<T>[]> {
    const out: HeldTicket<T>[] = [];
    for (const stream of streams) {
      if (this.#ownDone.has(stream) || out.length >= count) continue;
      const reply = await this.#redis.xreadgroup(
        "GROUP",
        this.#opts.group,
        this.#opts.consumer,
        "COUNT",
        count - out.length + this.#held.size,
        "STREAMS",
        stream,
        "0",
      ) as [string, [string, string[] | null][]][] | null;
      const entries = (reply?.[0]?.[1] ?? []).filter(([id]) => !this.#held.has(id));
      if (entries.length === 0) this.#ownDone.add(stream);
      out.push(...await this.#decode(stream, entries.slice(0, count - out.length)));
    }
    return out;
  }

  /** Tickets of consumers whose heartbeat stopped. */
  async #claimFromDead(streams: string[], count: number): Promise<HeldTicket<T>[]> {
    const heartbeats = await this.#redis.hgetall(dispatchKeys.heartbeats);
    const out: HeldTicket<T>[] = [];
    for (const stream of streams) {
      if (out.length >= count) break;
      const claimed = await claimFromDeadConsumers(this.#redis, stream, {
        group: this.#opts.group,
        consumer: this.#opts.consumer,
        heartbeats,
        deadAfterMs: this.#opts.deadAfterMs,
        count: count - out.length,
      });
      out.push(...await this.#decode(stream, claimed));
    }
    return out;
  }

  /** New tickets, from the blocking reads. */
  async #readNew(streams: string[], count: number, signal: AbortSignal): Promise<HeldTicket<T>[]> {
    const arrived = await this.#reads.next(streams, count, signal);
    const out: HeldTicket<T>[] = [];
    const byStream = Map.groupBy(arrived, (e) => e.stream);
    for (const [stream, entries] of byStream) {
      out.push(...await this.#decode(stream, entries.map((e) => [e.id, e.fields])));
    }
    return out;
  }

  /** Valid tickets; invalid ones are acknowledged and dropped (the log is elsewhere). */
  async #decode(
    stream: string,
    entries: [string, string[] | null][],
  ): Promise<HeldTicket<T>[]> {
    const out: HeldTicket<T>[] = [];
    const bad: string[] = [];
    for (const [id, fields] of entries) {
      const ticket = fields ? decodeTicket(this.#opts.schema, fields) : undefined;
      if (ticket === undefined) bad.push(id);
      else out.push({ stream, id, ticket });
    }
    if (bad.length > 0) {
      log("dispatch").warn("Dropped {n} invalid ticket(s) on {stream}", { n: bad.length, stream });
      await this.#redis.xack(stream, this.#opts.group, ...bad);
    }
    return out;
  }
}
