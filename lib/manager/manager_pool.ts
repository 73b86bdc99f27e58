/**
 * The manager pool: one process serving the manager side of many
 * conversations. Tickets from the inbox streams (start, response, resume)
 * are read through a {@linkcode TicketSource} (the shared `TicketReader`,
 * which also takes over tickets of dead processes); each is handled by that
 * conversation's {@linkcode ConversationDriver}, one at a time per
 * conversation (a promise chain per id) and many conversations at once. The
 * deadline keeper ends runs whose time is up.
 *
 * With `until`, the pool stops once those conversations ended (however they
 * ended: every ending publishes an `ended` event on `dispatchKeys.events`).
 *
 * @module
 */
import { sleep } from "../base/backoff.ts";
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationStatus, StopReason } from "../model/conversation_meta.ts";
import type { LlmBackend } from "../llm/llm_backend.ts";
import { ManagerTicket } from "../bus/dispatch.ts";
import { conversationKeys, dispatchKeys, MANAGERS_GROUP } from "../bus/keys.ts";
import { type HeldTicket, type TicketOutcome, TicketReader } from "../bus/ticket_reader.ts";
import { isRedisOutage, OutageGuard } from "../bus/redis_outage.ts";
import { DialogueError } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { ConversationDriver, type DriverContext } from "./conversation_driver.ts";
import { Slots } from "./slots.ts";
import { DeadlineKeeper } from "./deadline_keeper.ts";
import { endRun } from "./run_ending.ts";

/** A manager ticket held by this process. */
export type HeldManagerTicket = HeldTicket<ManagerTicket>;

/** Where tickets come from: a {@linkcode TicketReader} or a test's stand-in. */
export type TicketSource = Pick<TicketReader<ManagerTicket>, "serve" | "touch" | "close">;

/** How a watched conversation ended. */
export interface PoolEnding {
  status: ConversationStatus;
  stop_reason?: StopReason | undefined;
  turns: number;
}

/** Options of {@linkcode runManagerPool}. */
export interface RunManagerPoolOptions {
  config: Config;
  /** Connection for ordinary commands (the pool opens its subscriber from it). */
  redis: Redis;
  /** Writes scenarios. */
  backend: LlmBackend;
  /** This process's stable consumer name in {@linkcode MANAGERS_GROUP}. */
  consumer: string;
  /** Ticket source; by default a `TicketReader` on the inbox streams, closed with the pool. */
  tickets?: TicketSource;
  /** Stops the pool: held tickets are released, nothing is interrupted. */
  signal: AbortSignal;
  /**
   * Stop once these conversations ended (a set), or once this returns true
   * for a conversation that ended (a function). @default serve until `signal`
   */
  until?: ReadonlySet<string> | ((id: string) => boolean);
  /** Tickets handled at once (they mostly wait on Redis). @default 256 */
  concurrency?: number;
  /** Scenario writings (LLM calls) at once. @default 4 */
  scenarioConcurrency?: number;
}

/** Every inbox stream of `partitions`. */
export function inboxStreams(partitions: number): string[] {
  return Array.from({ length: partitions }, (_, p) => dispatchKeys.inbox(p));
}

/** Failures of one ticket before the run is failed rather than retried. */
const MAX_TICKET_FAILURES = 5;

/**
 * Serves manager tickets until `signal` aborts or the `until` conversations
 * ended; returns how each watched conversation ended.
 *
 * @throws {DialogueError} `redis_unavailable` when watching conversations and
 * Redis stays away longer than `redis.max_unavailable_seconds`.
 */
export async function runManagerPool(
  options: RunManagerPoolOptions,
): Promise<Map<string, PoolEnding>> {
  const pool = new _Pool(options);
  try {
    return await pool.run();
  } finally {
    await pool.close();
  }
}

class _Pool {
  readonly #options: RunManagerPoolOptions;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #context: DriverContext;
  readonly #drivers = new Map<string, ConversationDriver>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #failures = new Map<string, number>();
  readonly #ended = new Map<string, PoolEnding>();
  readonly #subscriber: Redis;
  readonly #tickets: TicketSource;
  readonly #ownsTickets: boolean;
  #fatal: unknown;

  constructor(options: RunManagerPoolOptions) {
    this.#options = options;
    this.#signal = AbortSignal.any([options.signal, this.#stop.signal]);
    this.#context = {
      config: options.config,
      redis: options.redis,
      backend: options.backend,
      scenarioSlots: new Slots(options.scenarioConcurrency ?? 4),
      signal: this.#signal,
    };
    this.#subscriber = options.redis.duplicate({ connectionName: "dialogue-manager-events" });
    this.#ownsTickets = options.tickets === undefined;
    this.#tickets = options.tickets ?? new TicketReader(options.redis, {
      streams: () => inboxStreams(options.config.dispatch.partitions),
      group: MANAGERS_GROUP,
      consumer: options.consumer,
      schema: ManagerTicket,
      heartbeatMs: options.config.dispatch.heartbeat_ms,
      deadAfterMs: options.config.dispatch.dead_after_ms,
      redisConfig: options.config.redis,
    });
  }

  async run(): Promise<Map<string, PoolEnding>> {
    const { until } = this.#options;
    if (until) await this.#watchEndings();
    const keeper = new DeadlineKeeper(this.#options.redis, {
      onDue: async (ids) => {
        await Promise.all(ids.map((id) =>
          this.#serial(id, async (driver) => {
            await driver.expire();
            if (driver.ended) this.#drivers.delete(id);
          })
        ));
      },
    });
    const tasks = [
      this.#tickets.serve((held) => this.#handle(held), {
        concurrency: this.#options.concurrency ?? 256,
        signal: this.#signal,
      }),
      keeper.run(this.#signal),
    ];
    if (until instanceof Set) tasks.push(this.#checkWatched(until));
    await Promise.all(tasks);
    if (this.#fatal) throw this.#fatal;
    return this.#ended;
  }

  async close(): Promise<void> {
    this.#stop.abort();
    this.#subscriber.disconnect();
    if (this.#ownsTickets) await this.#tickets.close();
  }

  async #handle(held: HeldManagerTicket): Promise<TicketOutcome> {
    const { ticket } = held;
    const id = ticket.conversation_id;
    return await this.#serial(id, async (driver) => {
      try {
        const outcome = ticket.kind === "start"
          ? await driver.start(() => {
            this.#tickets.touch(held).catch(() => {});
          })
          : ticket.kind === "resume"
          ? await driver.resume()
          : await driver.response({
            seq: ticket.seq,
            settle: (p) => p.xack(held.stream, MANAGERS_GROUP, held.id),
          });
        this.#failures.delete(held.id);
        if (driver.ended) this.#drivers.delete(id);
        return outcome;
      } catch (error) {
        return await this.#failed(held, error);
      }
    });
  }

  /** A handler failed: retried (released) unless it keeps failing, then the run fails. */
  async #failed(held: HeldManagerTicket, error: unknown): Promise<TicketOutcome> {
    const id = held.ticket.conversation_id;
    this.#drivers.delete(id); // Re-read everything next time.
    if (this.#signal.aborted) return "release";
    if (isRedisOutage([this.#options.redis], error)) {
      // Not the ticket's fault: it waits, released, for Redis to come back.
      await sleep(500, this.#signal);
      return "release";
    }
    const failures = (this.#failures.get(held.id) ?? 0) + 1;
    this.#failures.set(held.id, failures);
    const message = (error as Error)?.message ?? String(error);
    if (failures < MAX_TICKET_FAILURES && !(error instanceof DialogueError)) {
      log("manager").warn("Ticket {kind} of {id} failed ({error}); retrying", {
        kind: held.ticket.kind,
        id,
        error: message,
      });
      await new Promise((r) => setTimeout(r, 100 * failures));
      return "release";
    }
    this.#failures.delete(held.id);
    log("manager").error("Ticket {kind} of {id} failed for good: {error}", {
      kind: held.ticket.kind,
      id,
      error: message,
    });
    await endRun(this.#options.redis, id, {
      status: "failed",
      reason: "error",
      detail: `The manager could not handle the run: ${message}`,
      retentionSeconds: this.#options.config.retention.seconds,
    }).catch(() => {});
    return "ack";
  }

  /** Runs `fn` on conversation `id`'s driver after every earlier call for `id`. */
  #serial<T>(id: string, fn: (driver: ConversationDriver) => Promise<T>): Promise<T> {
    const previous = this.#chains.get(id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => {
      let driver = this.#drivers.get(id);
      if (!driver) {
        driver = new ConversationDriver(this.#context, id);
        this.#drivers.set(id, driver);
      }
      return fn(driver);
    });
    this.#chains.set(id, next);
    next.catch(() => {}).finally(() => {
      if (this.#chains.get(id) === next) this.#chains.delete(id);
    });
    return next;
  }

  /** Subscribes to `ended` events for `until`. */
  async #watchEndings(): Promise<void> {
    this.#subscriber.on("message", (_channel: string, text: string) => {
      let event: { type?: string; id?: string } & Partial<PoolEnding>;
      try {
        event = JSON.parse(text);
      } catch {
        return; // "models" and other plain notes.
      }
      if (event?.type !== "ended" || typeof event.id !== "string") return;
      this.#drivers.delete(event.id);
      this.#noteEnded(event.id, {
        status: event.status as ConversationStatus,
        stop_reason: event.stop_reason,
        turns: Number(event.turns ?? 0),
      });
    });
    this.#subscriber.on("error", () => {}); // Reconnects on its own; the status check covers gaps.
    await this.#subscriber.subscribe(dispatchKeys.events);
  }

  #noteEnded(id: string, ending: PoolEnding): void {
    const { until } = this.#options;
    if (!until) return;
    if (until instanceof Set) {
      if (!until.has(id)) return;
      this.#ended.set(id, ending);
      if (this.#ended.size === until.size) this.#stop.abort();
    } else if ((until as (id: string) => boolean)(id)) {
      this.#ended.set(id, ending);
      this.#stop.abort();
    }
  }

  /**
   * Checks the watched conversations' status now and every few seconds, in
   * case an `ended` event was missed (an outage); gives up on Redis after
   * `redis.max_unavailable_seconds`.
   */
  async #checkWatched(ids: ReadonlySet<string>): Promise<void> {
    const { redis, config } = this.#options;
    const guard = new OutageGuard(config.redis, [redis], { signal: this.#signal });
    while (!this.#signal.aborted) {
      try {
        await guard.run(async () => {
          for (const id of ids) {
            if (this.#ended.has(id)) continue;
            const [status, reason, turns] = await redis.hmget(
              conversationKeys(id).meta,
              "status",
              "stop_reason",
              "turns",
            );
            if (status !== "running" && status !== "pending") {
              this.#noteEnded(id, {
                status: (status ?? "failed") as ConversationStatus,
                stop_reason: (reason ?? undefined) as StopReason | undefined,
                turns: Number(turns ?? 0),
              });
            }
          }
        });
      } catch (error) {
        if (this.#signal.aborted) return;
        this.#fatal = error;
        this.#stop.abort();
        return;
      }
      await sleep(2000, this.#signal);
    }
  }
}

/** A connection-level failure, as opposed to a bug or a Redis error reply. */
