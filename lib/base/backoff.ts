/**
 * Exponential backoff with jitter, and an abortable sleep.
 *
 * @module
 */

/** Options of {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Delay before the first retry. @default 500 */
  baseMs?: number;
  /** Largest delay. @default 8000 */
  maxMs?: number;
  /** Random source, injectable for tests. @default Math.random */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (1-based): `baseMs · 2^(attempt-1)`,
 * capped at `maxMs`, scaled by a random factor in [0.5, 1.5) so that many
 * clients retrying together spread out.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 8000;
  const raw = Math.min(base * 2 ** Math.max(0, attempt - 1), max);
  return raw * (0.5 + (options.random ?? Math.random)());
}

/** Longest `Retry-After` honoured: a server asking for more is retried sooner. */
export const MAX_RETRY_AFTER_MS = 30_000;

/**
 * The pause before retry number `attempt`: the backoff, or the server's
 * `Retry-After` when it asked for longer (capped at
 * {@linkcode MAX_RETRY_AFTER_MS}, so a hostile header cannot park a turn).
 */
export function retryDelay(
  attempt: number,
  retryAfterMs?: number,
  options: BackoffOptions = {},
): number {
  const backoff = backoffDelay(attempt, options);
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return backoff;
  return Math.max(backoff, Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
