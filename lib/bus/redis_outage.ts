/**
 * Riding out a Redis outage: a loop step that fails because Redis went away
 * is retried with backoff once the connection is back, until Redis has been
 * unreachable for longer than `redis.max_unavailable_seconds`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { backoffDelay, sleep } from "../base/backoff.ts";
import type { Config } from "../config/config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { closeRedis, connectRedis, describeRedis } from "./redis_connection.ts";
import { ConversationStore } from "./conversation_store.ts";
import { log } from "../base/logger.ts";

/** Options of {@linkcode OutageGuard}. */
export interface OutageGuardOptions {
  /** Called after a failed step, before it is retried (e.g. to re-read pending work). */
  onRecover?: () => void;
  /**
   * Called after each failed step that looks like an outage, before the wait
   * (e.g. to tell a watching user that Redis is being waited for).
   */
  onWait?: (outage: { attempt: number; downSeconds: number; error: unknown }) => void;
  /** Stops waiting. */
  signal?: AbortSignal;
}

/** Retries loop steps across Redis outages, within a time limit. */
export class OutageGuard {
  readonly #redis: Config["redis"];
  readonly #clients: Redis[];
  readonly #options: OutageGuardOptions;

  constructor(redis: Config["redis"], clients: Redis[], options: OutageGuardOptions = {}) {
    this.#redis = redis;
    this.#clients = clients;
    this.#options = options;
  }

  /**
   * Runs `step`, retrying it while the failure looks like a Redis outage.
   *
   * @throws {DialogueError} `redis_unavailable` once the outage outlasts the limit;
   * any other error from `step` as it is.
   */
  async run<T>(step: () => Promise<T>): Promise<T> {
    let since = 0;
    for (let attempt = 1;; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (error instanceof DialogueError || !this.#isOutage(error)) throw error;
        since ||= Date.now();
        const downSeconds = (Date.now() - since) / 1000;
        if (downSeconds > this.#redis.max_unavailable_seconds || this.#gaveUp()) {
          throw new DialogueError(
            ErrorCode.RedisUnavailable,
            `Redis at ${
              describeRedis(this.#redis)
            } has been unreachable for more than ${this.#redis.max_unavailable_seconds} s: check that redis-server is running (raise redis.max_unavailable_seconds to wait longer)`,
            { cause: error },
          );
        }
        log("redis").warn("Redis unavailable ({error}); retrying", {
          error: (error as Error).message,
        });
        this.#options.onWait?.({ attempt, downSeconds, error });
        await sleep(backoffDelay(attempt, { baseMs: 200, maxMs: 2000 }), this.#options.signal);
        if (this.#options.signal?.aborted) throw error;
        this.#options.onRecover?.();
      }
    }
  }

  /** A connection-level failure, as opposed to a bug or a Redis error reply. */
  #isOutage(error: unknown): boolean {
    return isRedisOutage(this.#clients, error);
  }

  /** Whether ioredis stopped reconnecting (its retry strategy gave up). */
  #gaveUp(): boolean {
    return this.#clients.some((c) => c.status === "end");
  }
}

/** What {@linkcode recordFailureWhenBack} managed. */
/**
 * Whether `error` is a connection-level failure (Redis away, restarting or
 * loading) rather than a bug or an error reply: the kind worth waiting out.
 */
export function isRedisOutage(clients: readonly Redis[], error: unknown): boolean {
  if (clients.some((c) => c.status !== "ready")) return true;
  return /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|max retries per request|Stream isn't writeable|LOADING/i
    .test(String((error as Error)?.message ?? ""));
}

export type FailureRecord = "recorded" | "already_ended" | "gone" | "unreachable";

/**
 * After giving up on Redis: keeps trying, for up to `waitMs`, to record the
 * run as failed with `reason`, so the log says why it stopped once Redis is
 * back. Says what happened: recorded, the run had ended already, the run is
 * gone (Redis came back without its data), or Redis stayed away.
 */
export async function recordFailureWhenBack(
  redis: Config["redis"],
  conversationId: string,
  reason: string,
  waitMs: number,
): Promise<FailureRecord> {
  const giveUp = Date.now() + waitMs;
  for (let attempt = 1; Date.now() < giveUp; attempt++) {
    try {
      const client = await connectRedis(redis, { name: "manager-recorder" });
      try {
        const store = new ConversationStore(client);
        if (await store.finish(conversationId, "failed", "error", reason)) return "recorded";
        return await store.get(conversationId) ? "already_ended" : "gone";
      } finally {
        await closeRedis(client);
      }
    } catch {
      await sleep(backoffDelay(attempt, { baseMs: 500, maxMs: 5000 }));
    }
  }
  return "unreachable";
}
