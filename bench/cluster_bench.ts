/**
 * The same 1,000-conversation load as row (d) of `deno task bench`, on one
 * redis-server and on a local 3-master Redis Cluster: `deno task chat
 * --pairs N` against the zero-latency Ollama double, every turn read back
 * from Redis; turns/s (steady state) and the p99 gap between turns, both
 * ways, with their ratio. On one machine the cluster cannot be faster (three
 * servers share the cores with the system under test, and pipelines that name
 * keys of several masters are split): the figure is its cost.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-env --allow-read --allow-write --allow-run \
 *   --allow-sys=hostname,loadavg bench/cluster_bench.ts [--pairs 1000] [--turns 4]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RedisServer } from "../lib/testing/redis_server.ts";
import { RedisCluster } from "../lib/testing/redis_cluster.ts";
import { parseConfig } from "../lib/config/config.ts";
import { closeRedis, connectRedis } from "../lib/bus/redis_connection.ts";
import { bytes, ms, percentile, rate, ratio, steadyThroughput, table } from "./bench_stats.ts";
import { startDouble } from "./double_process.ts";
import { chatCommand, type ProjectRunResult, runProject } from "./project_run.ts";

const _log = (text: string) => console.error(`cluster bench: ${text}`);

if (import.meta.main) await main();

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      pairs: { type: "string", default: "1000" },
      turns: { type: "string", default: "4" },
      "time-limit": { type: "string", default: "90" },
    },
  });
  const pairs = Number(values.pairs);
  const maxTurns = Number(values.turns);
  const timeLimitMs = Number(values["time-limit"]) * 1000;
  const load = { pairs, maxTurns, concurrency: pairs };
  const double = await startDouble();
  const rows: string[][] = [];
  const figures: { rate: number; p99: number }[] = [];
  try {
    _log(`one redis-server: ${chatCommand(load)}`);
    const server = await RedisServer.start();
    const single = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
      name: "bench",
    });
    try {
      const run = await runProject({
        redis: single,
        redisUrl: server.url,
        doubleUrl: double.url,
        ...load,
        timeLimitMs,
      });
      figures.push(_row(rows, "one redis-server", run, [Number(await single.dbsize())]));
    } finally {
      await closeRedis(single);
      await server.stop();
    }

    _log("3-master local cluster (REDIS_CLUSTER_NODES)");
    const cluster = await RedisCluster.start();
    const nodes = cluster.nodes;
    const redis = await connectRedis(parseConfig({ redis: { cluster_nodes: nodes } }).redis, {
      name: "bench",
    });
    // chat inherits the environment: cluster_nodes wins over the REDIS_URL runProject sets.
    Deno.env.set("REDIS_CLUSTER_NODES", nodes.join(","));
    try {
      const run = await runProject({
        redis,
        redisUrl: `redis://${nodes[0]}`,
        doubleUrl: double.url,
        ...load,
        timeLimitMs,
      });
      const perNode = (await cluster.keysPerNode()).map((n) => n.keys);
      figures.push(_row(rows, "3-master cluster", run, perNode));
    } finally {
      Deno.env.delete("REDIS_CLUSTER_NODES");
      await closeRedis(redis);
      await cluster.stop();
    }
  } finally {
    await double.stop();
  }
  const [one, three] = figures as [{ rate: number; p99: number }, { rate: number; p99: number }];
  const loadavg = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(
    `DialogueLLM cluster bench — ${navigator.hardwareConcurrency} cores (load average at the end ${loadavg}), ` +
      `Deno ${Deno.version.deno}, Ollama double (own process, 0 ms/token); ${chatCommand(load)}`,
  );
  console.log(
    table([
      "Redis",
      "turns",
      "statuses",
      "turns/s",
      "p50 gap",
      "p99 gap",
      "peak RSS",
      "keys per master",
    ], rows),
  );
  console.log(
    `cluster / one server: turns/s ${ratio(three.rate / one.rate)}, p99 ${
      ratio(three.p99 / one.p99)
    }`,
  );
}

function _row(rows: string[][], name: string, run: ProjectRunResult, keys: number[]) {
  if (!run.available) {
    rows.push([name, "–", run.why, "–", "–", "–", "–", keys.join(" / ")]);
    return { rate: NaN, p99: NaN };
  }
  const gaps = run.turns.map((t) => t.gapMs);
  const turnRate = steadyThroughput(run.turns.map((t) => t.at));
  const p99 = percentile(gaps, 99);
  rows.push([
    name,
    String(run.turns.length),
    Object.entries(run.statuses).map(([s, n]) => `${n} ${s}`).join(", "),
    rate(turnRate),
    ms(percentile(gaps, 50)),
    ms(p99),
    bytes(run.peakRssBytes),
    keys.join(" / "),
  ]);
  return { rate: turnRate, p99 };
}
