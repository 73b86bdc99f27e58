/**
 * Taking over the tickets of pool processes that died: which consumers of a
 * group count as dead (a pure decision on their heartbeats), and claiming
 * what they held.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { log } from "../base/logger.ts";

/**
 * Consumers with pending entries whose last heartbeat is older than
 * `deadAfterMs` (or missing: a process that stopped cleanly deletes its own),
 * never `self`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { deadConsumers } from "./dead_consumers.ts";
 * deepStrictEqual(
 *   deadConsumers(["a", "b", "me", "gone"], { a: "9000", b: "1000", me: "0" }, 10_000, "me", 5000),
 *   ["b", "gone"],
 * );
 * ```
 */
export function deadConsumers(
  withPending: readonly string[],
  heartbeats: Readonly<Record<string, string>>,
  now: number,
  self: string,
  deadAfterMs: number,
): string[] {
  return withPending.filter((consumer) =>
    consumer !== self && now - Number(heartbeats[consumer] ?? 0) >= deadAfterMs
  );
}

/** Options of {@linkcode claimFromDeadConsumers}. */
export interface ClaimOptions {
  group: string;
  /** The consumer taking the entries over. */
  consumer: string;
  /** Heartbeats of every pool process (consumer → epoch ms), read once per round. */
  heartbeats: Readonly<Record<string, string>>;
  deadAfterMs: number;
  /** At most this many entries. */
  count: number;
}

/** Claims up to `count` entries of `stream` held by dead consumers; the raw entries. */
export async function claimFromDeadConsumers(
  redis: Redis,
  stream: string,
  options: ClaimOptions,
): Promise<[string, string[] | null][]> {
  const { group, consumer: self, count } = options;
  const summary = await redis.xpending(stream, group) as [
    number,
    string | null,
    string | null,
    [string, string][] | null,
  ];
  const holders = (summary[3] ?? []).map(([name]) => name);
  const out: [string, string[] | null][] = [];
  for (
    const dead of deadConsumers(holders, options.heartbeats, Date.now(), self, options.deadAfterMs)
  ) {
    if (out.length >= count) break;
    const pending = await redis.xpending(stream, group, "-", "+", count - out.length, dead) as [
      string,
      string,
      number,
      number,
    ][];
    if (pending.length === 0) continue;
    const claimed = await redis.xclaim(stream, group, self, 0, ...pending.map((p) => p[0])) as [
      string,
      string[] | null,
    ][];
    log("dispatch").info("Took over {n} ticket(s) of {consumer} on {stream}", {
      n: claimed.length,
      consumer: dead,
      stream,
    });
    out.push(...claimed);
  }
  return out;
}
