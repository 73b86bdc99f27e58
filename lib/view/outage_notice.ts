/**
 * Telling a watching user that Redis went away and when it is back. A short
 * outage raises no error at all (ioredis queues the commands and sends them
 * again after reconnecting), so the connection's own events are followed as
 * well as the failures {@linkcode OutageGuard} retries.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { TerminalRenderer } from "./terminal_renderer.ts";

/** Says once per outage that Redis is waited for, and once that it is back. */
export class OutageNotice {
  readonly #renderer: Pick<TerminalRenderer, "redisWaiting" | "redisBack">;
  readonly #limitSeconds: number;
  #since: number | undefined;
  #detach: () => void = () => {};

  /**
   * @param limitSeconds How long Redis is waited for (`redis.max_unavailable_seconds`).
   */
  constructor(
    renderer: Pick<TerminalRenderer, "redisWaiting" | "redisBack">,
    limitSeconds: number,
  ) {
    this.#renderer = renderer;
    this.#limitSeconds = limitSeconds;
  }

  /** Follows `redis`'s connection: lost (`reconnecting`) and back (`ready`). */
  attach(redis: Redis): void {
    const down = () => this.down();
    const up = () => this.up();
    redis.on("reconnecting", down);
    redis.on("ready", up);
    this.#detach = () => {
      redis.off("reconnecting", down);
      redis.off("ready", up);
    };
  }

  /** Stops following the connection (before it is closed on purpose). */
  detach(): void {
    this.#detach();
  }

  /** Redis is unreachable: says so unless it was said for this outage. */
  down(): void {
    if (this.#since !== undefined) return;
    this.#since = Date.now();
    this.#renderer.redisWaiting(this.#limitSeconds);
  }

  /** Redis answered: says it is back when an outage was announced. */
  up(): void {
    if (this.#since === undefined) return;
    const downMs = Date.now() - this.#since;
    this.#since = undefined;
    this.#renderer.redisBack(downMs);
  }
}
