/**
 * `deno task batch`: runs every run of a batch's matrix through one manager
 * pool and `workers` agent pools (the supervisor `deno task chat` uses), at
 * most `max_parallel` at once, with a progress line; `--resume` runs only
 * what is missing. At the end, the comparison of the cells.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { type Config, parseConfig } from "../config/config.ts";
import { type ConfigLayer, mergeLayers } from "../config/config_layer.ts";
import { closeRedis, connectRedis, createRedis } from "../bus/redis_connection.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { conversationKeys, dispatchKeys, newConversationId } from "../bus/keys.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { backendsLine, resolveBackends } from "../llm/backend_resolution.ts";
import { checkModels } from "../cli/model_check.ts";
import { resolveRedis } from "../cli/redis_location.ts";
import { startPools } from "../cli/chat_session.ts";
import type { RestartPolicy, Supervisor } from "../cli/supervisor.ts";
import {
  createConversation,
  interruptConversations,
  requestResume,
} from "../manager/conversation_setup.ts";
import { FINISHED_STATUSES } from "../model/conversation_meta.ts";
import type { BatchSpec } from "./batch_file.ts";
import { type BatchRun, expandRuns } from "./batch_matrix.ts";
import { runConfig } from "./batch_run_config.ts";
import { BatchStore, newBatchId } from "./batch_store.ts";
import { type BatchRunState, readBatchState, readBatchTranscripts } from "./batch_runs.ts";
import { type BatchCounts, formatBatchProgress } from "./batch_progress.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import { compareBatch } from "../analysis/batch_comparison.ts";
import { formatBatchText } from "../analysis/report/batch_report.ts";

/** Options of {@linkcode runBatch}. */
export interface BatchOptions {
  /** The base configuration (`--config`, environment, flags). */
  config: Config;
  /** A new batch; exactly one of `spec` and `resume`. */
  spec?: BatchSpec;
  /** Continue this batch: only the runs that have not ended. */
  resume?: string;
  /** Runs in flight at once. @default the file's `max_parallel` */
  maxParallel?: number;
  /** Agent pool processes. @default 1 */
  workers?: number;
  /** Download missing models. @default false */
  pull?: boolean;
  /** Print the comparison at the end. @default true */
  analysis?: boolean;
  /** Ctrl-C: the runs in flight are ended as `interrupted` (resumable). */
  signal: AbortSignal;
  /** Writes the id line and the comparison. @default console.log */
  print?: (text: string) => void;
  /** Writes the progress line. @default stderr (rewritten in place on a terminal) */
  progress?: (line: string) => void;
  /** How children are restarted. @default the supervisor's */
  restartPolicy?: RestartPolicy;
}

/** How long the pools get to release their work and exit. */
const GRACE_MS = 5000;
/** Status sweep when no event arrives: events are best effort. */
const SWEEP_MS = 2000;

/**
 * Runs the batch; returns the exit code: 0 when every run completed, 130
 * when interrupted, 1 otherwise.
 *
 * @throws {DialogueError} `not_found` for an unknown `resume` id, the
 * backend and model errors of `deno task chat`.
 */
export async function runBatch(options: BatchOptions): Promise<number> {
  const print = options.print ?? console.log;
  const batchId = options.resume ?? newBatchId();
  print(`batch ${batchId}`);
  const base = await resolveRedis(options.config, { command: "batch" });
  let redis: Redis | undefined;
  let supervisor: Supervisor | undefined;
  try {
    redis = await connectRedis(base.redis, { name: "batch" });
    const store = new BatchStore(redis);
    const spec = options.resume ? (await store.require(batchId)).spec : options.spec!;
    const configs = await _resolve(base, spec, options);
    if (!options.resume) await store.create({ id: batchId, created_at: Date.now(), spec });
    const { runs } = await readBatchState(redis, batchId);
    const todo = runs.filter((r) => !_ended(r));
    const counts: BatchCounts = {
      total: runs.length,
      done: runs.length - todo.length,
      failed: runs.filter((r) => r.status === "failed").length,
      running: 0,
      endedHere: 0,
      elapsedMs: 0,
    };
    if (options.resume) {
      print(`resuming: ${todo.length} of ${runs.length} runs left`);
    }
    const gaveUp = new AbortController();
    if (todo.length > 0) {
      supervisor = startPools(redis, configs.pools, options, (spec, reason) => {
        gaveUp.abort(
          new DialogueError(
            ErrorCode.Aborted,
            `The ${spec.name} process kept failing (${reason}); its output above says why. The batch is resumable: 'deno task batch --resume ${batchId}'`,
          ),
        );
      });
    }
    const interrupted = await _schedule(redis, todo, counts, {
      ...options,
      batchId,
      spec,
      configFor: configs.forRun,
      maxParallel: options.maxParallel ?? spec.max_parallel,
      gaveUp: gaveUp.signal,
    });
    if (gaveUp.signal.aborted) throw gaveUp.signal.reason;
    await supervisor?.stop({ graceMs: GRACE_MS });
    supervisor = undefined;
    if (interrupted) {
      print(`Interrupted: continue with 'deno task batch --resume ${batchId}'`);
      return 130;
    }
    if (options.analysis ?? true) {
      const { runs: ended } = await readBatchTranscripts(redis, batchId);
      const comparison = compareBatch(
        batchId,
        ended.map(({ run, transcript }) => ({ run, analysis: analyzeRun(transcript) })),
      );
      print("\n" + formatBatchText(comparison));
    }
    const { runs: final } = await readBatchState(redis, batchId);
    return final.every((r) => r.status === "completed") ? 0 : 1;
  } finally {
    await supervisor?.stop({ graceMs: 0 });
    await closeRedis(redis);
  }
}

/** Backends resolved once per backend level, models checked once per pair; each run's config. */
async function _resolve(base: Config, spec: BatchSpec, options: BatchOptions) {
  const roles = spec.stories
    ? ["agent1", "agent2"] as const
    : ["manager", "agent1", "agent2"] as const;
  const resolved = new Map<string | null, Config>();
  for (const backend of spec.backends ?? [null]) {
    const layer: ConfigLayer = backend === null ? {} : { backend };
    const input = parseConfig(mergeLayers(base as unknown as ConfigLayer, layer));
    const result = await resolveBackends(input, {
      roles,
      pull: options.pull ?? false,
      signal: options.signal,
    });
    console.error(
      `batch: ${backend === null ? "" : `${backend}: `}${backendsLine(result.choices)}`,
    );
    resolved.set(backend, result.config);
  }
  const forRun = (run: BatchRun): Config => runConfig(resolved.get(run.cell.backend)!, spec, run);
  const seen = new Set<string>();
  for (const run of expandRuns(spec)) {
    const key = `${run.cell.backend}|${run.cell.agent1_model}|${run.cell.agent2_model}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await checkModels(forRun(run), {
      // With story files the manager writes no scenario: its model is not needed.
      ...(spec.stories ? { storyFile: "batch" } : {}),
      pull: options.pull ?? false,
      signal: options.signal,
    });
  }
  return { pools: resolved.values().next().value!, forRun };
}

function _ended(r: BatchRunState): boolean {
  return r.status === "completed" || r.status === "failed";
}

interface ScheduleOptions extends BatchOptions {
  batchId: string;
  spec: BatchSpec;
  configFor: (run: BatchRun) => Config;
  maxParallel: number;
  gaveUp: AbortSignal;
}

/**
 * Keeps `maxParallel` runs in flight until every one has ended; returns
 * whether it was interrupted (the runs in flight are then `interrupted`).
 */
async function _schedule(
  redis: Redis,
  todo: BatchRunState[],
  counts: BatchCounts,
  options: ScheduleOptions,
): Promise<boolean> {
  const { signal, gaveUp } = options;
  const queue = [...todo];
  const inFlight = new Map<string, BatchRunState>();
  const store = new BatchStore(redis);
  const started = performance.now();
  const show = options.progress ?? _progressWriter();
  const stop = AbortSignal.any([signal, gaveUp]);
  const guard = new OutageGuard(options.config.redis, [redis], { signal: stop });
  const subscriber = createRedis(options.config.redis, { name: "batch-events" });
  subscriber.on("error", () => {});
  let wake: () => void = () => {};
  subscriber.on("message", () => wake());
  // A new line when the counts change (the ETA alone moves every sweep).
  let last = "";
  const report = () => {
    counts.running = inFlight.size;
    counts.elapsedMs = performance.now() - started;
    const key = `${counts.done}/${counts.running}/${counts.failed}`;
    if (key !== last) show(formatBatchProgress(counts));
    last = key;
  };
  try {
    await subscriber.subscribe(dispatchKeys.events);
    while (!stop.aborted) {
      while (inFlight.size < options.maxParallel && queue.length > 0 && !stop.aborted) {
        const next = queue.shift()!;
        const id = await guard.run(() => _start(redis, store, next, options));
        inFlight.set(id, { ...next, id });
      }
      report();
      if (inFlight.size === 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, SWEEP_MS);
        function done() {
          clearTimeout(timer);
          stop.removeEventListener("abort", done);
          resolve();
        }
        wake = done;
        stop.addEventListener("abort", done, { once: true });
      });
      if (stop.aborted) break;
      const statuses = await guard.run(() => _statuses(redis, [...inFlight.keys()]));
      for (const [id, status] of statuses) {
        if (!status || !FINISHED_STATUSES.includes(status as never)) continue;
        inFlight.delete(id);
        if (status === "interrupted") continue; // Someone else stopped it: resumable, not done.
        counts.done++;
        counts.endedHere++;
        if (status === "failed") counts.failed++;
      }
    }
    if (stop.aborted && inFlight.size > 0) {
      await new OutageGuard(options.config.redis, [redis]).run(() =>
        interruptConversations(redis, options.config, inFlight.keys())
      ).catch((error) => log("batch").error("{error}", { error: String(error) }));
      inFlight.clear();
    }
    report();
    if (options.progress === undefined && Deno.stderr.isTerminal()) console.error();
    return signal.aborted;
  } finally {
    await closeRedis(subscriber);
  }
}

/** Creates (or resumes) the conversation of one run; its id. */
async function _start(
  redis: Redis,
  store: BatchStore,
  state: BatchRunState,
  options: ScheduleOptions,
): Promise<string> {
  const { run } = state;
  const config = options.configFor(run);
  if (state.id !== undefined && state.status !== undefined) {
    await requestResume(redis, config, state.id);
    return state.id;
  }
  // The batch learns the id first: a batch stopped before the conversation
  // exists creates it under that id on resume.
  const id = state.id ?? newConversationId();
  if (state.id === undefined) await store.setRun(options.batchId, run.key, id);
  const story = run.cell.story ? options.spec.stories![run.cell.story.index]!.scenario : undefined;
  await createConversation(redis, config, {
    id,
    ...(story ? { scenario: story } : {}),
    batch: { id: options.batchId, cell: run.cell.id, run: run.key },
  });
  return id;
}

async function _statuses(redis: Redis, ids: string[]): Promise<Map<string, string | null>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(conversationKeys(id).meta, "status");
  const replies = (await pipeline.exec()) ?? [];
  const out = new Map<string, string | null>();
  replies.forEach(([error, value], i) => {
    if (!error) out.set(ids[i]!, value as string | null);
  });
  return out;
}

/** Progress on stderr: rewritten in place on a terminal, else a line per change. */
function _progressWriter(): (line: string) => void {
  const encoder = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  return (line) => {
    Deno.stderr.writeSync(encoder.encode(tty ? `\r\x1b[2K${line}` : `${line}\n`));
  };
}
