/**
 * Coalescing frequent updates: keys marked dirty are handed over together
 * at most once per interval, so a card streaming tokens is sent a few times
 * a second however many tokens arrive, and hundreds of cards cost one
 * message per interval.
 *
 * @module
 */

/** Options of {@linkcode UpdateBatcher}. */
export interface UpdateBatcherOptions {
  /** Time between flushes while updates keep coming. @default {250} */
  intervalMs?: number;
}

/** Collects dirty keys and flushes them at most once per interval. */
export class UpdateBatcher<K> {
  readonly #flush: (keys: K[]) => void;
  readonly #intervalMs: number;
  readonly #dirty = new Set<K>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param flush called with the keys marked since the last flush (never empty) */
  constructor(flush: (keys: K[]) => void, options: UpdateBatcherOptions = {}) {
    this.#flush = flush;
    this.#intervalMs = options.intervalMs ?? 250;
  }

  /** Marks `key`; the first mark after a flush schedules the next one. */
  mark(key: K): void {
    this.#dirty.add(key);
    this.#timer ??= setTimeout(() => this.flushNow(), this.#intervalMs);
  }

  /** Flushes what is marked now. */
  flushNow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty.size === 0) return;
    const keys = [...this.#dirty];
    this.#dirty.clear();
    this.#flush(keys);
  }

  /** Drops what is marked and stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty.clear();
  }
}
