/**
 * Pipelines on Redis Cluster that may name keys of several slots. ioredis
 * refuses a cluster pipeline whose keys are not all served by one node ("All
 * keys in the pipeline should belong to the same slots allocation group");
 * ours mix a conversation's keys with a ticket stream or a global key (never
 * inside one MULTI or script). {@linkcode splitClusterPipelines} makes
 * `cluster.pipeline()` record the commands and, on `exec()`, send them as
 * consecutive runs that each go to one node, one run after the other, so
 * every command still executes after the ones queued before it; the replies
 * come back in the order queued, as from one pipeline. A pipeline of reads
 * only (e.g. the metadata of hundreds of conversations) has no order to keep:
 * it is sent as one pipeline per node, all at once.
 *
 * @module
 */
import type { Cluster } from "ioredis";
import { keySlot } from "./key_slot.ts";

type _Reply = [Error | null, unknown];
interface _Call {
  name: string | symbol;
  args: unknown[];
}
// deno-lint-ignore no-explicit-any
type _AnyPipeline = any;

/**
 * Replaces `cluster.pipeline` by one that splits by node (see the module doc).
 * `cluster.multi()` is left alone: a transaction must stay within one slot.
 */
export function splitClusterPipelines(cluster: Cluster): void {
  const original = cluster.pipeline.bind(cluster) as () => _AnyPipeline;
  // deno-lint-ignore no-explicit-any
  (cluster as any).pipeline = (commands?: unknown[][]) => {
    const calls: _Call[] = [];
    for (const [name, ...args] of commands ?? []) calls.push({ name: String(name), args });
    const recorder: _AnyPipeline = new Proxy({}, {
      get(_target, prop) {
        if (prop === "exec") return () => _exec(cluster, original, calls);
        if (prop === "length") return calls.length;
        if (prop === "then") return undefined;
        return (...args: unknown[]) => {
          calls.push({ name: prop, args });
          return recorder;
        };
      },
    });
    return recorder;
  };
}

/** The runs of `calls` that one node serves each, in order (keyless commands join any run). */
export function nodeRuns<T>(nodes: readonly (string | undefined)[], calls: readonly T[]): T[][] {
  const runs: T[][] = [];
  let runNode: string | undefined;
  for (let i = 0; i < calls.length; i++) {
    const node = nodes[i];
    const last = runs.at(-1);
    if (last && (node === undefined || runNode === undefined || node === runNode)) {
      last.push(calls[i]!);
      runNode ??= node;
      continue;
    }
    runs.push([calls[i]!]);
    runNode = node;
  }
  return runs;
}

async function _exec(
  cluster: Cluster,
  original: () => _AnyPipeline,
  calls: _Call[],
): Promise<_Reply[]> {
  if (calls.length === 0) return [];
  // A pipeline never executed only holds its queue: it is the way to learn
  // each command's keys as ioredis sees them (scripts included).
  const probe = original();
  for (const call of calls) probe[call.name](...call.args);
  const queue = probe._queue as { getKeys(): (string | Uint8Array)[] }[];
  // deno-lint-ignore no-explicit-any
  const slots = (cluster as any).slots as string[][] | undefined;
  const nodes = queue.map((command) => {
    const key = command.getKeys()[0];
    if (key === undefined) return undefined;
    const slot = keySlot(key);
    return slots?.[slot]?.[0] ?? `slot:${slot}`;
  });
  const send = async (run: _Call[]): Promise<_Reply[]> => {
    const pipeline = original();
    for (const call of run) pipeline[call.name](...call.args);
    return await pipeline.exec() as _Reply[];
  };
  if (calls.every((call) => _READS.has(String(call.name).toLowerCase()))) {
    const byNode = new Map<string | undefined, number[]>();
    nodes.forEach((node, i) => byNode.set(node, [...(byNode.get(node) ?? []), i]));
    const out: _Reply[] = new Array(calls.length);
    await Promise.all([...byNode.values()].map(async (indexes) => {
      const replies = await send(indexes.map((i) => calls[i]!));
      indexes.forEach((at, i) => out[at] = replies[i]!);
    }));
    return out;
  }
  const out: _Reply[] = [];
  for (const run of nodeRuns(nodes, calls)) out.push(...await send(run));
  return out;
}

/** Commands that only read: a pipeline of these alone may go to every node at once. */
const _READS = new Set([
  "get",
  "exists",
  "type",
  "ttl",
  "pttl",
  "hget",
  "hmget",
  "hgetall",
  "hlen",
  "hexists",
  "xrange",
  "xrevrange",
  "xlen",
  "xpending",
  "xinfo",
  "zrange",
  "zrangebyscore",
  "zrevrange",
  "zrevrangebyscore",
  "zscore",
  "zcard",
  "smembers",
  "scard",
  "sismember",
  "xread",
  "xreadbuffer",
  "xrangebuffer",
  "xrevrangebuffer",
  "hgetallbuffer",
  "hgetbuffer",
]);
