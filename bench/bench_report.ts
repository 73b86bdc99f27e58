/**
 * The table `deno task bench` prints: one row per figure, with its target
 * and whether it is met, and the notes that say how each was measured.
 *
 * @module
 */
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
import type { FloorResult } from "./floor_round_trip.ts";
import type { ObserverResult } from "./observer_latency.ts";
import { HISTORY_MESSAGES } from "./persona_load.ts";
import type { ProjectRunResult } from "./project_run.ts";
import type { StorageCost } from "./storage_cost.ts";

/** One row; absent cells print empty. */
export interface Row {
  row: string;
  what: string;
  p50?: string;
  p99?: string;
  throughput?: string;
  procs?: string;
  rss?: string;
  ratio?: string;
  target?: string;
  status?: string;
}

/** A row with a figure and the note that explains it. */
export interface Measured {
  row: Row;
  note?: string;
}

const _GB = 1024 ** 3;

/** A row that could not be measured; why goes in its note. */
export function unavailable(row: string, what: string, why: string, target?: string): Measured {
  return {
    row: { row, what, p50: "not available yet", ...(target ? { target, status: "–" } : {}) },
    note: `${row} not available yet: ${why}`,
  };
}

/** (a), (b) or a (d) floor. */
export function floorRow(row: string, what: string, result: FloorResult, baseP50?: number): Row {
  const p50 = percentile(result.latencies, 50);
  return {
    row,
    what,
    p50: ms(p50),
    p99: ms(percentile(result.latencies, 99)),
    throughput: rate(steadyThroughput(result.completions)),
    procs: String(result.processes),
    ...(baseP50 === undefined ? {} : { ratio: `${ratio(p50 / baseP50)} (a)` }),
  };
}

/** (c): the project's turn against (b)'s p50; turns with the full history when there are enough. */
export function projectTurnRow(
  result: ProjectRunResult,
  sameP50: number,
  command: string,
): Measured {
  const what = "project turn (chat --pairs 1)";
  const target = "p50 ≤ 2×(b)";
  if (!result.available) return unavailable("(c)", what, result.why, target);
  const full = result.turns.filter((t) => t.seq > HISTORY_MESSAGES);
  const turns = full.length >= 20 ? full : result.turns;
  const gaps = turns.map((t) => t.gapMs);
  const p50 = percentile(gaps, 50);
  const which = turns === full
    ? `after turn ${HISTORY_MESSAGES} (full history)`
    : "(history not yet full)";
  return {
    row: {
      row: "(c)",
      what,
      p50: ms(p50),
      p99: ms(percentile(gaps, 99)),
      throughput: rate(1000 / (gaps.reduce((a, b) => a + b, 0) / gaps.length)),
      procs: String(result.peakProcesses),
      rss: bytes(result.peakRssBytes),
      ratio: `${ratio(p50 / sameP50)} (b)`,
      target,
      status: verdict(p50 <= 2 * sameP50),
    },
    note: `(c) ${turns.length} turns ${which}; turn = gap between consecutive responses' ` +
      `queue_timestamp; wall_time_ms p50 ${ms(percentile(turns.map((t) => t.wallMs), 50))}; ` +
      `statuses ${JSON.stringify(result.statuses)}; ${command}`,
  };
}

/** (d): the project at one scale against the floor at the same concurrency. */
export function scaleRow(
  pairs: number,
  result: ProjectRunResult,
  floorRate: number,
  command: string,
  withTarget: boolean,
): Measured {
  const row = `(d) ${pairs}`;
  const what = `project, ${pairs} conversations`;
  const target = withTarget ? "RSS ≤ 1.5 GB, ≥ 0.5× floor" : undefined;
  if (!result.available) return unavailable(row, what, result.why, target);
  const gaps = result.turns.map((t) => t.gapMs);
  const turnRate = steadyThroughput(result.turns.map((t) => t.at));
  const met = result.peakRssBytes <= 1.5 * _GB && turnRate >= 0.5 * floorRate;
  return {
    row: {
      row,
      what,
      p50: ms(percentile(gaps, 50)),
      p99: ms(percentile(gaps, 99)),
      throughput: rate(turnRate),
      procs: String(result.peakProcesses),
      rss: bytes(result.peakRssBytes),
      ratio: `${ratio(turnRate / floorRate)} floor`,
      ...(target ? { target, status: verdict(met) } : {}),
    },
    note:
      `(d) ${pairs}: ${result.turns.length} turns, statuses ${JSON.stringify(result.statuses)}, ` +
      `chat exit ${result.exitCode}; ${command}`,
  };
}

/** (e): observer latency. */
export function observerRow(result: ObserverResult, command: string): Measured {
  const target = "p99 ≤ 5 ms";
  if (!result.available) return unavailable("(e)", "observer latency", result.why, target);
  const p99 = percentile(result.latencies, 99);
  return {
    row: {
      row: "(e)",
      what: `observer: token published → stdout${result.lost ? ` (${result.lost} lost)` : ""}`,
      p50: ms(percentile(result.latencies, 50)),
      p99: ms(p99),
      procs: "1",
      target,
      status: verdict(p99 <= 5),
    },
    note: `(e) ${result.latencies.length} tokens, one every 5 ms; ${command}`,
  };
}

/** (f): stream memory per message against its content. */
export function storageRow(cost: StorageCost | undefined): Measured {
  const what = "Redis bytes per stored message";
  if (cost === undefined) {
    return unavailable("(f)", what, "it needs the run of (c)", "≤ 2×content + 300 B");
  }
  const limit = 2 * cost.contentBytes + 300;
  return {
    row: {
      row: "(f)",
      what: `Redis bytes/message (content ${bytes(cost.contentBytes)})`,
      p50: bytes(cost.bytesPerMessage),
      ratio: `${ratio(cost.bytesPerMessage / cost.contentBytes)} content`,
      target: `≤ ${bytes(limit)}`,
      status: verdict(cost.bytesPerMessage <= limit),
    },
    note: `(f) ${cost.messages} messages on the request/response streams of (c); mean stored ` +
      `entry ${bytes(cost.entryBytes)} (fields + values); MEMORY USAGE … SAMPLES 0`,
  };
}

/** The whole report: a heading, the table, the notes, the command. */
export function formatReport(heading: string, rows: Measured[], elapsedMs: number): string {
  const columns: (keyof Row)[] = [
    "row",
    "what",
    "p50",
    "p99",
    "throughput",
    "procs",
    "rss",
    "ratio",
    "target",
    "status",
  ];
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
  const notes = rows.flatMap((m) => m.note ? [m.note] : []);
  return [
    heading,
    "",
    table(header, rows.map((m) => columns.map((c) => m.row[c] ?? ""))),
    "",
    "Notes:",
    ...notes.map((n) => `  ${n}`),
    "  throughput = turns completed between the 10th and 90th percentile completion time / " +
    "that time; (d) runs the agent pool with --concurrency = conversations and the floor " +
    "with as many round trips in flight; procs and RSS = peak over chat and all its children " +
    "(VmRSS, read with ps); the project's history grows from 0 to 40 messages, so each (d) " +
    "floor sends the mean history of its run",
    "",
    `Reproduce: deno task bench   (took ${(elapsedMs / 1000).toFixed(0)} s)`,
  ].join("\n");
}
