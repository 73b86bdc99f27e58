/**
 * Waiting for a promise that cannot itself be cancelled (a reply of the
 * model process), up to an abort signal.
 *
 * @module
 */

/**
 * `promise`, or a rejection with `signal.reason` as soon as `signal` aborts,
 * after calling `onAbort` (to tell whoever works on it to stop). The promise
 * keeps running; its outcome is then ignored.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { untilAborted } from "./until_aborted.ts";
 * const never = new Promise<void>(() => {});
 * await rejects(untilAborted(never, AbortSignal.abort(new Error("stop"))), /stop/);
 * ```
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void = () => {},
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
