/**
 * Pacing for the test double's streamed bodies: delays that end at once when
 * the client leaves or the double closes, and byte streams whose
 * cancellation tells the generator behind them.
 *
 * @module
 */

/** Resolves true after `ms`, or false as soon as `signal` aborts; leaves no timer. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves when `signal` aborts. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

/**
 * A byte stream pulled from `source`. Cancelling it (the client went away)
 * aborts `gone`, which ends any pending delay at once.
 */
export function readableFrom(
  source: AsyncGenerator<Uint8Array>,
  gone: AbortController,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await source.next();
      try {
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch {
        // cancelled while this chunk was being made
      }
    },
    async cancel() {
      gone.abort();
      await source.return(undefined);
    },
  });
}
