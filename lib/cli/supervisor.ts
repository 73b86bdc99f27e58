/**
 * Keeping `deno task chat`'s children alive. A child that exits while the
 * run goes on (a crash, SIGKILL, SIGTERM from outside) is started again under
 * the same consumer name, so it takes its own unfinished tickets back at once
 * and the run continues from Redis. A child that keeps dying is given up on
 * after a few restarts in a short window, with the reason.
 *
 * @module
 */
import { log } from "../base/logger.ts";
import type { Role } from "./process_roles.ts";

/** When to stop restarting a child. */
export interface RestartPolicy {
  /** Restarts allowed within `windowMs`. @default 5 */
  maxRestarts: number;
  /** @default 60000 */
  windowMs: number;
  /** First delay before a restart; doubles with each recent restart. @default 100 */
  baseDelayMs: number;
  /** @default 5000 */
  maxDelayMs: number;
}

/** The default restart policy. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  maxRestarts: 5,
  windowMs: 60_000,
  baseDelayMs: 100,
  maxDelayMs: 5000,
};

/** What to do after a child exited on its own. */
export type RestartDecision =
  | { restart: true; delayMs: number }
  | { restart: false; reason: string };

/**
 * Whether to start a child again, given the times of its earlier restarts.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { decideRestart, DEFAULT_RESTART_POLICY } from "./supervisor.ts";
 * deepStrictEqual(decideRestart([], 1000, DEFAULT_RESTART_POLICY), { restart: true, delayMs: 100 });
 * ```
 */
export function decideRestart(
  restartsAt: readonly number[],
  now: number,
  policy: RestartPolicy,
): RestartDecision {
  const recent = restartsAt.filter((t) => now - t < policy.windowMs).length;
  if (recent >= policy.maxRestarts) {
    return {
      restart: false,
      reason: `it exited ${recent + 1} times within ${Math.round(policy.windowMs / 1000)} s`,
    };
  }
  return { restart: true, delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** recent) };
}

/** One supervised child. */
export interface ChildSpec {
  /** Shown in messages, e.g. `manager` or `agent worker 1`. */
  name: string;
  role: Role;
  args: string[];
}

/** Starts a child process; injected so tests and compiled binaries choose how. */
export type Spawner = (spec: ChildSpec) => Deno.ChildProcess;

/** Options of a {@linkcode Supervisor}. */
export interface SupervisorOptions {
  spawn: Spawner;
  policy?: RestartPolicy;
  /**
   * Asked before each restart; false holds the restart (e.g. Redis is away,
   * so a new child would only fail too). Polled until it says yes.
   */
  canRestart?: () => Promise<boolean>;
  /** A child was given up on. */
  onGiveUp?: (spec: ChildSpec, reason: string) => void;
  /** A child exited and is being restarted (for tests and logs). */
  onRestart?: (spec: ChildSpec, status: Deno.CommandStatus) => void;
}

/** Runs and restarts a set of children until stopped. */
export class Supervisor {
  readonly #opts: SupervisorOptions & { policy: RestartPolicy };
  readonly #children = new Map<string, { spec: ChildSpec; process: Deno.ChildProcess }>();
  readonly #restarts = new Map<string, number[]>();
  readonly #watchers = new Set<Promise<void>>();
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#opts = { policy: DEFAULT_RESTART_POLICY, ...options };
  }

  /** Starts a child and keeps it running until {@linkcode stop}. */
  start(spec: ChildSpec): void {
    const process = this.#opts.spawn(spec);
    this.#children.set(spec.name, { spec, process });
    const watcher = this.#watch(spec, process).finally(() => this.#watchers.delete(watcher));
    this.#watchers.add(watcher);
  }

  /** Process ids of the running children (for tests and figures). */
  pids(): Record<string, number> {
    return Object.fromEntries([...this.#children].map(([name, c]) => [name, c.process.pid]));
  }

  /**
   * Stops every child: `signal` first (they release their work and exit),
   * SIGKILL after `graceMs`.
   */
  async stop(options: { signal?: Deno.Signal; graceMs?: number } = {}): Promise<void> {
    this.#stopping = true;
    const children = [...this.#children.values()].map((c) => c.process);
    for (const child of children) _kill(child, options.signal ?? "SIGTERM");
    const exited = Promise.all(children.map((c) => c.status));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), options.graceMs ?? 5000)),
    ]);
    clearTimeout(timer);
    if (late) { for (const child of children) _kill(child, "SIGKILL"); }
    await exited;
    await Promise.all(this.#watchers);
  }

  async #watch(spec: ChildSpec, process: Deno.ChildProcess): Promise<void> {
    const status = await process.status;
    if (this.#stopping) return;
    const history = this.#restarts.get(spec.name) ?? [];
    const decision = decideRestart(history, Date.now(), this.#opts.policy);
    if (!decision.restart) {
      this.#children.delete(spec.name);
      log("chat").error("Giving up on the {name} process: {reason}", {
        name: spec.name,
        reason: decision.reason,
      });
      this.#opts.onGiveUp?.(spec, decision.reason);
      return;
    }
    log("chat").warn("The {name} process exited ({how}); starting it again", {
      name: spec.name,
      how: status.signal ? `signal ${status.signal}` : `code ${status.code}`,
    });
    this.#opts.onRestart?.(spec, status);
    await new Promise((r) => setTimeout(r, decision.delayMs));
    while (!this.#stopping && this.#opts.canRestart && !await this.#opts.canRestart()) {
      await new Promise((r) => setTimeout(r, 500));
    }
    if (this.#stopping) return;
    history.push(Date.now());
    this.#restarts.set(spec.name, history);
    this.start(spec);
  }
}

function _kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited.
  }
}
