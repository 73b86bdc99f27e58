/**
 * Ending runs whose deadline passed, for every conversation at once: the
 * running conversations sit in the {@linkcode dispatchKeys.deadlines} sorted
 * set, scored by deadline; a timer wakes at the nearest one (at most a
 * second later, so a deadline added by another process is seen in time)
 * and hands the due ids over. One pipeline per wake-up.
 *
 * @module
 */
import { sleep } from "../base/backoff.ts";
import type { Redis } from "ioredis";
import { dispatchKeys } from "../bus/keys.ts";
import { log } from "../base/logger.ts";

/** Options of {@linkcode DeadlineKeeper}. */
export interface DeadlineKeeperOptions {
  /** Ends the due runs (ids whose deadline is at or before now). */
  onDue: (ids: string[]) => Promise<void>;
  /** Longest sleep between two looks. @default 1000 */
  maxWaitMs?: number;
  /** Due ids handed over per look. @default 100 */
  batch?: number;
}

/**
 * How long to sleep before the next look: until the nearest deadline, but at
 * least 1 ms and at most `maxWaitMs`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { nextWakeMs } from "./deadline_keeper.ts";
 * strictEqual(nextWakeMs(1000, 1250, 1000), 250);
 * strictEqual(nextWakeMs(1000, undefined, 1000), 1000);
 * ```
 */
export function nextWakeMs(now: number, nearest: number | undefined, maxWaitMs: number): number {
  if (nearest === undefined) return maxWaitMs;
  return Math.min(maxWaitMs, Math.max(1, nearest - now));
}

/** Watches the deadlines of every running conversation. */
export class DeadlineKeeper {
  readonly #redis: Redis;
  readonly #options: Required<DeadlineKeeperOptions>;

  constructor(redis: Redis, options: DeadlineKeeperOptions) {
    this.#redis = redis;
    this.#options = { maxWaitMs: 1000, batch: 100, ...options };
  }

  /** Looks, ends, sleeps, until `signal` aborts. Redis errors are logged and retried. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let wait = this.#options.maxWaitMs;
      try {
        wait = await this.#look();
      } catch (error) {
        if (signal.aborted) return;
        log("manager").warn("Cannot check deadlines as Redis failed ({error}); retrying", {
          error: (error as Error).message,
        });
      }
      await sleep(wait, signal);
    }
  }

  /** One look; returns how long to sleep. */
  async #look(): Promise<number> {
    const now = Date.now();
    const replies = await this.#redis.pipeline()
      .zrangebyscore(dispatchKeys.deadlines, "-inf", now, "LIMIT", 0, this.#options.batch)
      .zrange(dispatchKeys.deadlines, 0, 0, "WITHSCORES")
      .exec() ?? [];
    for (const [error] of replies) if (error) throw error;
    const due = replies[0]![1] as string[];
    const nearest = replies[1]![1] as string[];
    if (due.length > 0) {
      await this.#options.onDue(due);
      // More may be due: look again at once.
      if (due.length === this.#options.batch) return 1;
    }
    const score = nearest[1] === undefined ? undefined : Number(nearest[1]);
    return nextWakeMs(
      Date.now(),
      score !== undefined && score > now ? score : undefined,
      this.#options.maxWaitMs,
    );
  }
}
