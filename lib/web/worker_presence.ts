/**
 * Whether pools are up to serve a new run, from the heartbeats every pool
 * process records (`dispatchKeys.heartbeats`): a pure decision with the
 * liveness rule takeover uses ({@linkcode deadConsumers}), so the page says
 * "no worker" exactly when the pools would count each other dead.
 *
 * @module
 */
import { deadConsumers } from "../bus/dead_consumers.ts";

/** Live pool processes by role. */
export interface WorkerPresence {
  /** Manager pools (they write scenarios and route turns). */
  managers: number;
  /** Agent pools (they generate the turns). */
  agents: number;
}

/**
 * Counts the live managers and agents among `heartbeats` (consumer name →
 * epoch ms). A consumer's role is in its name: `manager-…` or `…-manager`
 * for managers, `agent-…` or `…-agent-N` for agents.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { workerPresence } from "./worker_presence.ts";
 * deepStrictEqual(
 *   workerPresence({ "manager-h-1-ab": "9000", "agent-pool-h-2-cd": "1000", "t-agent-1": "9500" }, 10_000, 5000),
 *   { managers: 1, agents: 1 },
 * );
 * ```
 */
export function workerPresence(
  heartbeats: Readonly<Record<string, string>>,
  now: number,
  deadAfterMs: number,
): WorkerPresence {
  const names = Object.keys(heartbeats);
  const dead = new Set(deadConsumers(names, heartbeats, now, "", deadAfterMs));
  let managers = 0;
  let agents = 0;
  for (const name of names) {
    if (dead.has(name)) continue;
    if (/(^|-)manager(-|$)/.test(name)) managers++;
    else if (/(^|-)agent(-|$)/.test(name)) agents++;
  }
  return { managers, agents };
}

/** What the page says about the pools, or undefined when a run can start. */
export function workersMissing(presence: WorkerPresence): string | undefined {
  const missing = [
    presence.managers === 0 && "no manager pool ('deno task manager --pool')",
    presence.agents === 0 && "no agent pool ('deno task agent')",
  ].filter(Boolean);
  if (missing.length === 0) return undefined;
  return `No worker is up: ${
    missing.join(" and ")
  } is running, so a new run would wait. Start them, or use 'deno task chat'.`;
}
