/**
 * One backend over several LLM hosts (config `ollama.hosts`): each call goes
 * to the least-loaded host with a free slot of its `concurrency`; a host
 * that answers busy (503, 429) or refuses the connection is backed off
 * (its Retry-After when it gave one, else exponential) and the call moves to
 * another host. Only a call that streamed nothing yet moves, so no token is
 * shown twice; one cut mid-reply is thrown as before and the agent's own
 * attempts retry it. The choice ({@linkcode chooseHost}) is a pure function.
 *
 * @module
 */
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { retryDelay } from "../base/backoff.ts";
import type {
  BackendKind,
  ChatOptions,
  ChatRequest,
  ChatResult,
  EmbedOptions,
  EnsureModelOptions,
  LlmBackend,
} from "./llm_backend.ts";

/** One host of the pool as configured. */
export interface PoolHost {
  url: string;
  /** Calls the host serves at once (Ollama's `OLLAMA_NUM_PARALLEL`). */
  concurrency: number;
}

/** What the choice looks at for one host. */
export interface HostLoad {
  inFlight: number;
  concurrency: number;
  /** Epoch ms before which the host is left alone (0: not backed off). */
  backoffUntil: number;
}

/**
 * The host a call goes to: the one with the lowest share of its concurrency
 * in use among those with a free slot and not backed off at `now` (the first
 * such on a tie); undefined when none is free.
 *
 * @example
 * ```ts
 * chooseHost([{ inFlight: 1, concurrency: 1, backoffUntil: 0 }, { inFlight: 1, concurrency: 4, backoffUntil: 0 }], 0); // 1
 * ```
 */
export function chooseHost(hosts: readonly HostLoad[], now: number): number | undefined {
  let best: number | undefined;
  let bestShare = Infinity;
  hosts.forEach((host, i) => {
    if (host.backoffUntil > now || host.inFlight >= host.concurrency) return;
    const share = host.inFlight / host.concurrency;
    if (share < bestShare) [best, bestShare] = [i, share];
  });
  return best;
}

/** Whether `error` says the host is busy or away (worth another host), not that the call is wrong. */
export function isBusyHost(error: unknown): boolean {
  if (!(error instanceof DialogueError)) return false;
  if (error.code === ErrorCode.LlmUnavailable) return true;
  return error.code === ErrorCode.LlmTransient &&
    (error.retryAfterMs !== undefined || /\b(503|429)\b/.test(error.message));
}

/** Options of a {@linkcode HostPool}. */
export interface HostPoolOptions {
  /** Busy answers one call may meet before its last error is thrown. @default 20 */
  maxBusy?: number;
  /** First backoff of a busy host; doubles per busy answer in a row. @default 500 */
  backoffBaseMs?: number;
  /** Longest backoff. @default 15000 */
  backoffMaxMs?: number;
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number;
}

interface _Host extends HostLoad {
  url: string;
  backend: LlmBackend;
  busyInARow: number;
}

/** An {@linkcode LlmBackend} spreading calls over hosts (see the module doc). */
export class HostPool implements LlmBackend {
  readonly kind: BackendKind;
  readonly description: string;
  readonly #hosts: _Host[];
  readonly #options: Required<HostPoolOptions>;
  #wake: (() => void)[] = [];

  /** `make` builds the backend of one host (one per URL). */
  constructor(
    hosts: readonly PoolHost[],
    make: (url: string) => LlmBackend,
    options: HostPoolOptions = {},
  ) {
    if (hosts.length === 0) {
      throw new RangeError("Cannot build a host pool of no host: list one or more");
    }
    this.#hosts = hosts.map((h) => ({
      url: h.url,
      concurrency: h.concurrency,
      inFlight: 0,
      backoffUntil: 0,
      busyInARow: 0,
      backend: make(h.url),
    }));
    this.kind = this.#hosts[0]!.backend.kind;
    this.description = `${this.#hosts.length} hosts (${
      this.#hosts.map((h) => h.backend.description).join(", ")
    })`;
    this.#options = {
      maxBusy: 20,
      backoffBaseMs: 500,
      backoffMaxMs: 15_000,
      now: Date.now,
      ...options,
    };
  }

  /** Calls each host has in flight, by URL (for logs and tests). */
  load(): Record<string, number> {
    return Object.fromEntries(this.#hosts.map((h) => [h.url, h.inFlight]));
  }

  async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
    let streamed = false;
    const onToken = (text: string) => {
      streamed = true;
      options.onToken?.(text);
    };
    return await this.#call(
      (backend) => backend.chat(request, { ...options, onToken }),
      options.signal,
      () => !streamed,
    );
  }

  async embed(
    model: string,
    texts: readonly string[],
    options: EmbedOptions = {},
  ): Promise<number[][]> {
    return await this.#call(
      (backend) => backend.embed(model, texts, options),
      options.signal,
      () => true,
    );
  }

  /** Every host must have the model: a call may go to any of them. */
  async ensureModel(model: string, options: EnsureModelOptions = {}): Promise<void> {
    await Promise.all(this.#hosts.map((h) => h.backend.ensureModel(model, options)));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#hosts.map((h) => h.backend.close()));
  }

  async #call<T>(
    run: (backend: LlmBackend) => Promise<T>,
    signal: AbortSignal | undefined,
    movable: () => boolean,
  ): Promise<T> {
    for (let busy = 0;; busy++) {
      const host = await this.#acquire(signal);
      try {
        const out = await run(host.backend);
        host.busyInARow = 0;
        return out;
      } catch (error) {
        if (!isBusyHost(error) || !movable() || busy + 1 >= this.#options.maxBusy) throw error;
        host.busyInARow++;
        const delay = retryDelay(host.busyInARow, (error as DialogueError).retryAfterMs, {
          baseMs: this.#options.backoffBaseMs,
          maxMs: this.#options.backoffMaxMs,
        });
        host.backoffUntil = this.#options.now() + delay;
      } finally {
        host.inFlight--;
        this.#notify();
      }
    }
  }

  async #acquire(signal: AbortSignal | undefined): Promise<_Host> {
    while (true) {
      if (signal?.aborted) throw new DialogueError(ErrorCode.Aborted, "Generation cancelled");
      const now = this.#options.now();
      const i = chooseHost(this.#hosts, now);
      if (i !== undefined) {
        const host = this.#hosts[i]!;
        host.inFlight++;
        return host;
      }
      // Wait for a slot to free, a backoff to end, or the caller to give up.
      const ends = this.#hosts.map((h) => h.backoffUntil).filter((t) => t > now);
      await new Promise<void>((resolve) => {
        const timer = ends.length > 0 ? setTimeout(done, Math.min(...ends) - now) : undefined;
        signal?.addEventListener("abort", done, { once: true });
        this.#wake.push(done);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
      });
    }
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }
}
