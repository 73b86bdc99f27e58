/**
 * `deno task bench`: the engine's cost per turn and at scale, side by side
 * with its floors, on a private redis-server and a zero-latency Ollama
 * double (100-word replies, 40-message history in every request):
 *
 * - (a) raw floor: request/response round trip through two streams with
 *   consumer groups and XACK, ioredis, two processes;
 * - (b) same-work floor: (a) plus one streaming call to the double per turn;
 * - (c) the project's turn (`deno task chat --pairs 1`), read back from Redis;
 * - (d) 10, 100 and 1,000 concurrent conversations against (b) at the same
 *   concurrency: turns/s, p99 turn, processes, total RSS;
 * - (e) observer latency, token published → on `deno task observe`'s stdout;
 * - (f) Redis bytes per stored message against its content bytes.
 *
 * Prints one table with the targets of issue 7 and stops by itself in about
 * three minutes. Not a test: a target that is not met fails nothing.
 *
 * @module
 */
import { Redis } from "ioredis";
import { RedisServer } from "../lib/testing/redis_server.ts";
import {
  floorRow,
  formatReport,
  type Measured,
  observerRow,
  projectTurnRow,
  scaleRow,
  storageRow,
} from "./bench_report.ts";
import { percentile, steadyThroughput } from "./bench_stats.ts";
import { startDouble } from "./double_process.ts";
import { type FloorOptions, runFloor } from "./floor_round_trip.ts";
import { measureObserver, OBSERVE_COMMAND } from "./observer_latency.ts";
import { HISTORY_MESSAGES, REPLY_WORDS } from "./persona_load.ts";
import { chatCommand, type ProjectRunResult, runProject } from "./project_run.ts";
import { type StorageCost, storageCost } from "./storage_cost.ts";

const MODEL = "llama3.2";
/** (c): enough turns that the last 100 carry the full 40-message history. */
const SINGLE = { pairs: 1, maxTurns: 140 };
/** (d): conversations at once and turns each; a run still going at its time limit is cut. */
const SCALES = [
  { pairs: 10, maxTurns: 30, timeLimitMs: 40_000 },
  { pairs: 100, maxTurns: 10, timeLimitMs: 50_000 },
  { pairs: 1000, maxTurns: 4, timeLimitMs: 90_000 },
] as const;

const _log = (text: string) => console.error(`bench: ${text}`);

if (import.meta.main) await main();

async function main(): Promise<void> {
  const began = performance.now();
  const server = await RedisServer.start();
  const double = await startDouble();
  const redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
  const floor = (conversations: number, turns: number, extra: Partial<FloorOptions> = {}) =>
    runFloor({
      redisUrl: server.url,
      model: MODEL,
      conversations,
      turns,
      timeLimitMs: 30_000,
      ...extra,
    });
  const project = (
    options: { pairs: number; maxTurns: number; concurrency?: number },
    timeLimitMs: number,
  ) => runProject({ redis, redisUrl: server.url, doubleUrl: double.url, ...options, timeLimitMs });
  const measureStorage = async (run: ProjectRunResult): Promise<StorageCost | undefined> =>
    run.available ? await storageCost(redis, run.conversations) : undefined;
  try {
    _log(`redis ${server.url}, double ${double.url}; warming up`);
    await floor(1, 200, { doubleUrl: double.url });
    _log("(a) raw floor");
    const raw = await floor(1, 3000);
    _log("(b) same-work floor");
    const same = await floor(1, 600, { doubleUrl: double.url });
    const rawP50 = percentile(raw.latencies, 50);

    _log("(c) the project, 1 conversation; (f) its storage");
    let single = await project(SINGLE, 60_000);
    let storage = await measureStorage(single);
    await redis.flushall();

    const scales: Measured[] = [];
    for (const scale of SCALES) {
      const history = Math.max(1, Math.min(HISTORY_MESSAGES, Math.round((scale.maxTurns - 1) / 2)));
      _log(`(d) ${scale.pairs} conversations: floor, then the project`);
      const base = await floor(scale.pairs, Math.max(600, scale.pairs * 4), {
        doubleUrl: double.url,
        history,
      });
      const options = { pairs: scale.pairs, maxTurns: scale.maxTurns, concurrency: scale.pairs };
      const run = await project(options, scale.timeLimitMs);
      await redis.flushall();
      const what = `(b), ${scale.pairs} in flight, ${history}-msg history`;
      scales.push({ row: floorRow(`(d) ${scale.pairs} floor`, what, base) });
      scales.push(
        scaleRow(
          scale.pairs,
          run,
          steadyThroughput(base.completions),
          chatCommand(options),
          scale.pairs === 1000,
        ),
      );
    }

    _log("(e) observer latency");
    const observed = await measureObserver({
      redis,
      redisUrl: server.url,
      tokens: 400,
      intervalMs: 5,
    });

    if (!single.available) {
      _log("(c) again, at the end");
      await redis.flushall();
      single = await project(SINGLE, 60_000);
      storage = await measureStorage(single);
    }
    const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
    const heading = `DialogueLLM engine bench — ${navigator.hardwareConcurrency} cores ` +
      `(load average at the end ${load}), ` +
      `Deno ${Deno.version.deno}, private redis-server, Ollama double (own process): 0 ms/token, ` +
      `${REPLY_WORDS}-word replies, ${HISTORY_MESSAGES}-message history per request`;
    console.log(formatReport(heading, [
      { row: floorRow("(a)", "raw floor: 2-stream round trip, groups + XACK", raw) },
      { row: floorRow("(b)", "same work: (a) + 1 streaming call to the double", same, rawP50) },
      projectTurnRow(single, percentile(same.latencies, 50), chatCommand(SINGLE)),
      ...scales,
      observerRow(observed, OBSERVE_COMMAND),
      storageRow(storage),
    ], performance.now() - began));
  } finally {
    redis.disconnect();
    await double.stop();
    await server.stop();
  }
}
