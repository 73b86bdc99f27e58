/**
 * The generations in flight per conversation, so that a cancel on a run's
 * control channel (the run ended) aborts exactly those generations.
 *
 * @module
 */

/**
 * Abort controllers of in-flight generations, by conversation id.
 *
 * @example
 * ```ts
 * import { RunCancels } from "./run_cancels.ts";
 * const cancels = new RunCancels();
 * const { signal, done } = cancels.open("c1");
 * cancels.cancel("c1");
 * console.assert(signal.aborted);
 * done();
 * ```
 */
export class RunCancels {
  readonly #byRun = new Map<string, Set<AbortController>>();

  /** Registers a generation of `id`; call `done` when it is over. */
  open(id: string): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    let set = this.#byRun.get(id);
    if (!set) this.#byRun.set(id, set = new Set());
    set.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        set.delete(controller);
        if (set.size === 0 && this.#byRun.get(id) === set) this.#byRun.delete(id);
      },
    };
  }

  /** Aborts every generation of `id` in flight; returns how many. */
  cancel(id: string): number {
    const set = this.#byRun.get(id);
    if (!set) return 0;
    for (const controller of set) controller.abort();
    return set.size;
  }

  /** Generations in flight, all conversations together. */
  get size(): number {
    let n = 0;
    for (const set of this.#byRun.values()) n += set.size;
    return n;
  }
}
