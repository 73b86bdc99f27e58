/**
 * The manager pool: one process serving the manager side of many
 * conversations. Tickets from the inbox streams (start, response, resume)
 * are read through a {@linkcode TicketSource} (the shared `TicketReader`,
 * which also takes over tickets of dead processes); each is handled by that
 * conversation's {@linkcode ConversationDriver}, one at a time per
 * conversation (a promise chain per id) and many conversations at once. The
 * deadline keeper ends runs whose time is up. A handler that throws is the
 * {@linkcode TicketFailures}'s to retry or fail.
 *
 * With `until`, the pool stops once those conversations ended (however they
 * ended: the {@linkcode EndingWatch} sees every `ended` event).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { BackendKind, LlmBackend } from "../llm/llm_backend.ts";
import { ManagerTicket } from "../bus/dispatch.ts";
import { dispatchKeys, MANAGERS_GROUP } from "../bus/keys.ts";
import { type HeldTicket, type TicketOutcome, TicketReader } from "../bus/ticket_reader.ts";
import { ConversationDriver, type DriverContext } from "./conversation_driver.ts";
import { Slots } from "../base/slots.ts";
import { DeadlineKeeper } from "./deadline_keeper.ts";
import { EndingWatch, type PoolEnding } from "./ending_watch.ts";
import { TicketFailures } from "./ticket_failures.ts";

/** A manager ticket held by this process, as the pool's handlers receive it. */
export type HeldManagerTicket = HeldTicket<ManagerTicket>;

/**
 * Where tickets come from: a {@linkcode TicketReader} or a test's stand-in
 * (which needs only these three methods).
 */
export type TicketSource = Pick<TicketReader<ManagerTicket>, "serve" | "touch" | "close">;

/** Options of {@linkcode runManagerPool}. */
export interface RunManagerPoolOptions {
  config: Config;
  /** Connection for ordinary commands (the pool opens its subscriber from it). */
  redis: Redis;
  /** Writes scenarios: fixed, or chosen per run from its recorded manager backend. */
  backend: LlmBackend | ((kind?: BackendKind) => LlmBackend);
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

/** Every inbox stream of `partitions`: the streams the pool's `TicketReader` serves. */
export function inboxStreams(partitions: number): string[] {
  return Array.from({ length: partitions }, (_, p) => dispatchKeys.inbox(p));
}

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

/** The pool's lifecycle: its tasks, its drivers, one promise chain per conversation. */
class _Pool {
  readonly #options: RunManagerPoolOptions;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #context: DriverContext;
  readonly #drivers = new Map<string, ConversationDriver>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #failures: TicketFailures;
  readonly #watch: EndingWatch;
  readonly #tickets: TicketSource;
  readonly #ownsTickets: boolean;

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
    this.#failures = new TicketFailures(options.redis, {
      retentionSeconds: options.config.retention.seconds,
      signal: this.#signal,
    });
    this.#watch = new EndingWatch(options.redis, {
      until: options.until,
      redisConfig: options.config.redis,
      signal: this.#signal,
      onEvent: (id) => this.#drivers.delete(id),
      onDone: () => this.#stop.abort(),
    });
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
    if (until) await this.#watch.subscribe();
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
    if (until instanceof Set) tasks.push(this.#watch.poll(until));
    await Promise.all(tasks);
    if (this.#watch.fatal) throw this.#watch.fatal;
    return this.#watch.endings;
  }

  async close(): Promise<void> {
    this.#stop.abort();
    this.#watch.close();
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
        this.#failures.forget(held.id);
        if (driver.ended) this.#drivers.delete(id);
        return outcome;
      } catch (error) {
        this.#drivers.delete(id); // Re-read everything next time.
        return await this.#failures.failed(held, error);
      }
    });
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
}
