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
 * Prints one table with the targets of issue 7; stops by itself in a few
 * minutes. Not a test: nothing fails when a target is not met.
 *
 * @module
 */
import { Redis } from "ioredis";
import { RedisServer } from "../lib/testing/redis_server.ts";
import {
  bytes,
  ms,
  percentile,
  rate,
  ratio,
  steadyThroughput,
  table,
  verdict,
} from "./bench_stats.ts";
import { type FloorResult, runFloor } from "./floor_round_trip.ts";
import { measureObserver, OBSERVE_COMMAND } from "./observer_latency.ts";
import { HISTORY_MESSAGES, REPLY_WORDS } from "./persona_load.ts";
import { chatCommand, type ProjectRunResult, runProject, type TurnFigures } from "./project_run.ts";
import { storageCost } from "./storage_cost.ts";

const MODEL = "llama3.2";
/** (c): enough turns that the last ones carry the full 40-message history. */
const SINGLE_TURNS = 100;
/** (d): conversations at once, and turns each (the run is cut at the time limit). */
const SCALES = [
  { pairs: 10, maxTurns: 30, timeLimitMs: 40_000 },
  { pairs: 100, maxTurns: 10, timeLimitMs: 50_000 },
  { pairs: 1000, maxTurns: 4, timeLimitMs: 90_000 },
] as const;
const GB = 1024 ** 3;

const _log = (text: string) => console.error(`bench: ${text}`);

/** One row of the printed table. */
type Row = [
  row: string,
  what: string,
  p50: string,
  p99: string,
  throughput: string,
  procs: string,
  rss: string,
  vs: string,
  target: string,
  status: string,
];

if (import.meta.main) await main();

async function main(): Promise<void> {
  const began = performance.now();
  const server = await RedisServer.start();
  const double = await _startDouble();
  const redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    _log(`redis ${server.url}, double ${double.url}; warming up`);
    await runFloor(_floor(server.url, double.url, 1, 200));

    _log("(a) raw floor");
    const raw = await runFloor({ ..._floor(server.url, undefined, 1, 3000) });
    _log("(b) same-work floor");
    const same = await runFloor(_floor(server.url, double.url, 1, 600));
    const sameP50 = percentile(same.latencies, 50);
    rows.push(_floorRow("(a)", "raw floor: 2-stream round trip, groups + XACK", raw, undefined));
    rows.push(
      _floorRow(
        "(b)",
        "same work: (a) + 1 streaming call to the double",
        same,
        percentile(raw.latencies, 50),
      ),
    );

    _log("(c) the project, 1 conversation");
    const single = { pairs: 1, maxTurns: SINGLE_TURNS };
    let project = await runProject({
      redis,
      redisUrl: server.url,
      doubleUrl: double.url,
      ...single,
      timeLimitMs: 60_000,
    });
    const singleRow = (result: ProjectRunResult): Row[] => {
      if (!result.available) {
        return [[
          "(c)",
          "project turn (chat --pairs 1)",
          `not available yet: ${result.why}`,
          "",
          "",
          "",
          "",
          "",
          "p50 ≤ 2×(b)",
          "–",
        ]];
      }
      const full = result.turns.filter((t) => t.seq > HISTORY_MESSAGES);
      const turns = full.length >= 20 ? full : result.turns;
      const gaps = turns.map((t) => t.gapMs);
      const p50 = percentile(gaps, 50);
      notes.push(
        `(c) ${turns.length} turns${
          turns === full
            ? ` after turn ${HISTORY_MESSAGES} (full history)`
            : " (history not yet full)"
        }; ` +
          `turn = gap between consecutive responses' queue_timestamp; wall_time_ms p50 ${
            ms(percentile(turns.map((t) => t.wallMs), 50))
          }; ` +
          `statuses ${JSON.stringify(result.statuses)}; ${chatCommand(single)}`,
      );
      return [[
        "(c)",
        "project turn (chat --pairs 1)",
        ms(p50),
        ms(percentile(gaps, 99)),
        rate(1000 / (gaps.reduce((a, b) => a + b, 0) / gaps.length)),
        String(result.peakProcesses),
        bytes(result.peakRssBytes),
        `${ratio(p50 / sameP50)} (b)`,
        "p50 ≤ 2×(b)",
        verdict(p50 <= 2 * sameP50),
      ]];
    };

    _log("(f) storage");
    const storageRow = async (result: ProjectRunResult): Promise<Row> => {
      if (!result.available) {
        return [
          "(f)",
          "Redis bytes per stored message",
          `not available yet: needs (c)`,
          "",
          "",
          "",
          "",
          "",
          "≤ 2×content + 300 B",
          "–",
        ];
      }
      const cost = await storageCost(redis, result.conversations);
      const limit = 2 * cost.contentBytes + 300;
      notes.push(
        `(f) ${cost.messages} messages on the request/response streams; mean stored entry ${
          bytes(cost.entryBytes)
        } (fields + values)`,
      );
      return [
        "(f)",
        `Redis bytes/message (content ${bytes(cost.contentBytes)})`,
        bytes(cost.bytesPerMessage),
        "",
        "",
        "",
        "",
        `${ratio(cost.bytesPerMessage / cost.contentBytes)} content`,
        `≤ ${bytes(limit)}`,
        verdict(cost.bytesPerMessage <= limit),
      ];
    };
    let storage = await storageRow(project);
    await redis.flushall();

    const scaleRows: Row[] = [];
    for (const scale of SCALES) {
      _log(`(d) ${scale.pairs} conversations: floor`);
      const floor = await runFloor(
        _floor(
          server.url,
          double.url,
          scale.pairs,
          Math.max(600, scale.pairs * 4),
          30_000,
          _meanHistory(scale.maxTurns),
        ),
      );
      const floorRate = steadyThroughput(floor.completions);
      _log(`(d) ${scale.pairs} conversations: project`);
      const options = { pairs: scale.pairs, maxTurns: scale.maxTurns, concurrency: scale.pairs };
      const run = await runProject({
        redis,
        redisUrl: server.url,
        doubleUrl: double.url,
        ...options,
        timeLimitMs: scale.timeLimitMs,
      });
      await redis.flushall();
      const label = `(d) ${scale.pairs}`;
      scaleRows.push([
        `${label} floor`,
        `(b), ${scale.pairs} in flight, ${_meanHistory(scale.maxTurns)}-msg history`,
        ms(percentile(floor.latencies, 50)),
        ms(percentile(floor.latencies, 99)),
        rate(floorRate),
        String(floor.processes),
        "",
        "",
        "",
        "",
      ]);
      if (!run.available) {
        scaleRows.push([
          label,
          `project, ${scale.pairs} conversations`,
          `not available yet: ${run.why}`,
          "",
          "",
          "",
          "",
          "",
          "",
          "–",
        ]);
        continue;
      }
      const gaps = run.turns.map((t: TurnFigures) => t.gapMs);
      const turnRate = steadyThroughput(run.turns.map((t) => t.at));
      const last = scale.pairs === 1000;
      const met = run.peakRssBytes <= 1.5 * GB && turnRate >= 0.5 * floorRate;
      scaleRows.push([
        label,
        `project, ${scale.pairs} conversations`,
        ms(percentile(gaps, 50)),
        ms(percentile(gaps, 99)),
        rate(turnRate),
        String(run.peakProcesses),
        bytes(run.peakRssBytes),
        `${ratio(turnRate / floorRate)} floor`,
        last ? "RSS ≤ 1.5 GB, ≥ 0.5× floor" : "",
        last ? verdict(met) : "",
      ]);
      notes.push(
        `(d) ${scale.pairs}: ${run.turns.length} turns, statuses ${
          JSON.stringify(run.statuses)
        }, chat exit ${run.exitCode}; ${chatCommand(options)}`,
      );
    }

    _log("(e) observer latency");
    const observed = await measureObserver({
      redis,
      redisUrl: server.url,
      tokens: 400,
      intervalMs: 5,
    });
    const observerRow: Row = observed.available
      ? [
        "(e)",
        `observer: token published → stdout${observed.lost ? ` (${observed.lost} lost)` : ""}`,
        ms(percentile(observed.latencies, 50)),
        ms(percentile(observed.latencies, 99)),
        "",
        "1",
        "",
        "",
        "p99 ≤ 5 ms",
        verdict(percentile(observed.latencies, 99) <= 5),
      ]
      : [
        "(e)",
        "observer latency",
        `not available yet: ${observed.why}`,
        "",
        "",
        "",
        "",
        "",
        "p99 ≤ 5 ms",
        "–",
      ];
    notes.push(
      `(e) ${
        observed.available ? observed.latencies.length : 0
      } tokens, one every 5 ms; ${OBSERVE_COMMAND}`,
    );

    if (!project.available) {
      _log("(c) again, at the end");
      await redis.flushall();
      project = await runProject({
        redis,
        redisUrl: server.url,
        doubleUrl: double.url,
        ...single,
        timeLimitMs: 60_000,
      });
      storage = await storageRow(project);
    }
    rows.push(...singleRow(project), ...scaleRows, observerRow, storage);
    _print(rows, notes, performance.now() - began, server);
  } finally {
    redis.disconnect();
    double.child.kill("SIGTERM");
    await double.child.status;
    await server.stop();
  }
}

function _floor(
  redisUrl: string,
  doubleUrl: string | undefined,
  conversations: number,
  turns: number,
  timeLimitMs = 20_000,
  history = HISTORY_MESSAGES,
) {
  return {
    redisUrl,
    ...(doubleUrl ? { doubleUrl } : {}),
    conversations,
    turns,
    model: MODEL,
    timeLimitMs,
    history,
  };
}

/** History the project's prompts carry on average over a run of `maxTurns` turns. */
function _meanHistory(maxTurns: number): number {
  return Math.max(1, Math.min(HISTORY_MESSAGES, Math.round((maxTurns - 1) / 2)));
}

function _floorRow(
  row: string,
  what: string,
  result: FloorResult,
  rawP50: number | undefined,
): Row {
  const p50 = percentile(result.latencies, 50);
  return [
    row,
    what,
    ms(p50),
    ms(percentile(result.latencies, 99)),
    rate(steadyThroughput(result.completions)),
    String(result.processes),
    "",
    rawP50 === undefined ? "" : `${ratio(p50 / rawP50)} (a)`,
    "",
    "",
  ];
}

/** The double as its own process (`deno task fake-ollama`'s module), zero latency, 100-word replies. */
async function _startDouble(): Promise<{ url: string; child: Deno.ChildProcess }> {
  const script = new URL("../lib/testing/ollama/fake_ollama.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      script,
      "--port",
      "0",
      "--words",
      String(REPLY_WORDS),
      "--no-split",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot start the Ollama double: ${text}`);
    text += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return { url: /http:\/\/\S+/.exec(text)![0], child };
}

function _print(rows: Row[], notes: string[], elapsedMs: number, server: RedisServer): void {
  const header = [
    "row",
    "what",
    "p50",
    "p99",
    "throughput",
    "procs",
    "RSS",
    "ratio",
    "target",
    "status",
  ];
  console.log(
    `\nDialogueLLM engine bench — ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, ` +
      `redis-server on ${server.url}, Ollama double: 0 ms/token, ${REPLY_WORDS}-word replies, ` +
      `${HISTORY_MESSAGES}-message history per request\n`,
  );
  console.log(table(header, rows));
  console.log("\nNotes:");
  const ordered = [...notes].sort((a, b) => a.slice(0, 3).localeCompare(b.slice(0, 3)));
  for (const note of ordered) console.log(`  ${note}`);
  console.log(
    "  throughput = turns between the 10th and 90th percentile completion / that time; (d) runs the agent pool with --concurrency = conversations and the floor with as many round trips in flight; processes and RSS = peak over chat and all its children (VmRSS, via ps); the project's history grows from 0 to 40 messages, so each (d) floor sends the mean history of its run",
  );
  console.log(`\nReproduce: deno task bench   (took ${(elapsedMs / 1000).toFixed(0)} s)`);
}
