/**
 * Watching for the ends of the conversations a manager pool was started
 * for (`until`): every ending publishes an `ended` event on
 * `dispatchKeys.events`, and for a set of ids their status is also checked
 * every few seconds, in case an event was missed during an outage. Once the
 * watched conversations ended, the pool is told to stop.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationStatus, StopReason } from "../model/conversation_meta.ts";
import { sleep } from "../base/backoff.ts";
import { conversationKeys, dispatchKeys } from "../bus/keys.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { duplicateRedis } from "../bus/redis_connection.ts";

/** How a watched conversation ended. */
export interface PoolEnding {
  status: ConversationStatus;
  stop_reason?: StopReason | undefined;
  turns: number;
}

/** Options of {@linkcode EndingWatch}. */
export interface EndingWatchOptions {
  /**
   * The conversations to watch (a set), or a test of a conversation that
   * ended (a function). @default none: nothing is recorded, nothing stops
   */
  until?: ReadonlySet<string> | ((id: string) => boolean) | undefined;
  /** Outage limits for the status checks (`redis.max_unavailable_seconds`). */
  redisConfig: Config["redis"];
  /** Stops the status checks and the sleeps between them. */
  signal: AbortSignal;
  /** Called with every conversation an `ended` event names, watched or not. */
  onEvent: (id: string) => void;
  /** Called once the watched conversations ended, or when Redis stayed away too long. */
  onDone: () => void;
}

/**
 * Records how the watched conversations ended and calls `onDone` when they
 * all did. Opens its own subscriber connection (a subscribed connection
 * takes no other commands), closed with {@linkcode EndingWatch.close}.
 */
export class EndingWatch {
  readonly #redis: Redis;
  readonly #options: EndingWatchOptions;
  readonly #subscriber: Redis;
  readonly #ended = new Map<string, PoolEnding>();
  #fatal: unknown;

  constructor(redis: Redis, options: EndingWatchOptions) {
    this.#redis = redis;
    this.#options = options;
    this.#subscriber = duplicateRedis(redis, "manager-events");
  }

  /** How each watched conversation that ended so far ended. */
  get endings(): Map<string, PoolEnding> {
    return this.#ended;
  }

  /** Why the status checks gave up (Redis stayed away too long), if they did. */
  get fatal(): unknown {
    return this.#fatal;
  }

  /** Subscribes to the `ended` events. */
  async subscribe(): Promise<void> {
    this.#subscriber.on("message", (_channel: string, text: string) => {
      let event: { type?: string; id?: string } & Partial<PoolEnding>;
      try {
        event = JSON.parse(text);
      } catch {
        return; // "models" and other plain notes.
      }
      if (event?.type !== "ended" || typeof event.id !== "string") return;
      this.#options.onEvent(event.id);
      this.#note(event.id, {
        status: event.status as ConversationStatus,
        stop_reason: event.stop_reason,
        turns: Number(event.turns ?? 0),
      });
    });
    this.#subscriber.on("error", () => {}); // Reconnects on its own; the status check covers gaps.
    await this.#subscriber.subscribe(dispatchKeys.events);
  }

  /**
   * Checks the status of watched conversations `ids` now and every few
   * seconds until `signal` aborts, in case an `ended` event was missed (an
   * outage). When Redis stays away longer than `redis.max_unavailable_seconds`
   * it gives up: the error is kept as {@linkcode EndingWatch.fatal} and
   * `onDone` is called.
   */
  async poll(ids: ReadonlySet<string>): Promise<void> {
    const { redisConfig, signal } = this.#options;
    const redis = this.#redis;
    const guard = new OutageGuard(redisConfig, [redis], { signal });
    while (!signal.aborted) {
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
              this.#note(id, {
                status: (status ?? "failed") as ConversationStatus,
                stop_reason: (reason ?? undefined) as StopReason | undefined,
                turns: Number(turns ?? 0),
              });
            }
          }
        });
      } catch (error) {
        if (signal.aborted) return;
        this.#fatal = error;
        this.#options.onDone();
        return;
      }
      await sleep(2000, signal);
    }
  }

  /** Drops the subscriber connection. */
  close(): void {
    this.#subscriber.disconnect();
  }

  #note(id: string, ending: PoolEnding): void {
    const { until } = this.#options;
    if (!until) return;
    if (until instanceof Set) {
      if (!until.has(id)) return;
      this.#ended.set(id, ending);
      if (this.#ended.size === until.size) this.#options.onDone();
    } else if ((until as (id: string) => boolean)(id)) {
      this.#ended.set(id, ending);
      this.#options.onDone();
    }
  }
}
