/**
 * A counting semaphore: at most `size` calls of {@linkcode Slots.run} at
 * once, the others waiting in arrival order. The manager pool bounds its
 * scenario writings (LLM calls) with it.
 *
 * @module
 */

/**
 * At most `size` tasks at once.
 *
 * @example
 * ```ts
 * import { Slots } from "./slots.ts";
 * const slots = new Slots(2);
 * await Promise.all([1, 2, 3].map((n) => slots.run(() => Promise.resolve(n))));
 * ```
 */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create slots as the size must be a positive integer: current value is ${size}`,
      );
    }
    this.#free = size;
  }

  /** Runs `fn` once a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
