/**
 * K slots, one per parallel sequence of the embedded model's context: a
 * generation holds one from start to end, and calls beyond K wait in order.
 * Used on both sides of the host protocol, so the backend never sends more
 * than the host has sequences for.
 *
 * @module
 */

/** A counting semaphore whose waiters can give up through a signal. */
export class SequenceSlots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  /** @throws {RangeError} when `count` is not a positive integer. */
  constructor(count: number) {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot create sequence slots as the count must be a positive integer: current value is ${count}`,
      );
    }
    this.#free = count;
  }

  /** Slots free now. */
  get free(): number {
    return this.#free;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Waits for a slot; resolves with its release (calling it twice releases
   * once). Rejects with `signal.reason` when `signal` aborts first.
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert/strict";
   * import { SequenceSlots } from "./sequence_slots.ts";
   * const slots = new SequenceSlots(1);
   * const release = await slots.acquire();
   * const next = slots.acquire(); // waits
   * release();
   * (await next)();
   * strictEqual(slots.free, 1);
   * ```
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
}
