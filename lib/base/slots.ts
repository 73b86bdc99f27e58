/**
 * A counting semaphore: at most `size` holders at once, the others waiting
 * in arrival order, each able to give up through a signal. The manager pool
 * bounds its scenario writings with it; the embedded backend its model's
 * parallel sequences (on both sides of the host protocol, so the backend
 * never sends more generations than the host has sequences for).
 *
 * @module
 */

/**
 * At most `size` holders at once.
 *
 * @example Run tasks two at a time
 * ```ts
 * import { Slots } from "./slots.ts";
 * const slots = new Slots(2);
 * await Promise.all([1, 2, 3].map((n) => slots.run(() => Promise.resolve(n))));
 * ```
 *
 * @example Hold a slot by hand
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Slots } from "./slots.ts";
 * const slots = new Slots(1);
 * const release = await slots.acquire();
 * const next = slots.acquire(); // waits
 * release();
 * (await next)();
 * strictEqual(slots.free, 1);
 * ```
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  /** @throws {RangeError} when `size` is not a positive integer. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create slots as the size must be a positive integer: current value is ${size}`,
      );
    }
    this.#free = size;
  }

  /** Slots free now. */
  get free(): number {
    return this.#free;
  }

  /** Holders waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Waits for a slot; resolves with its release (calling it twice releases
   * once). Rejects with `signal.reason` when `signal` aborts first.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const abort = () => {
        const at = this.#waiting.indexOf(grant);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal!.reason);
      };
      const grant = () => {
        signal?.removeEventListener("abort", abort);
        resolve(release);
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.#waiting.push(grant);
    });
  }

  /** Runs `fn` once a slot is free, releasing it when `fn` settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
