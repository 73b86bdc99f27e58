/**
 * Every key matching a pattern, on one Redis or on every master of a
 * cluster (SCAN on a cluster connection would scan only the node it lands
 * on). For tests, audits and tooling; commands find conversations through the
 * index instead.
 *
 * @module
 */
import type { Cluster, Redis } from "ioredis";
import { isCluster } from "./redis_connection.ts";

/**
 * The keys matching `pattern` (a SCAN `MATCH` glob), every master scanned.
 *
 * @example
 * ```ts ignore
 * const left = await scanKeys(redis, "dialogue:{c1}:*");
 * ```
 */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const client = redis as Redis | Cluster;
  const nodes = isCluster(client) ? client.nodes("master") : [client];
  const found = await Promise.all(nodes.map(async (node) => {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
    return keys;
  }));
  return found.flat();
}
