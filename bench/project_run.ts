/**
 * The project's own figures for `deno task bench`: runs `deno task chat
 * --pairs N` (its command line read from deno.json, so the permissions are
 * the task's) against the bench's Redis and Ollama double, samples the
 * process tree meanwhile, and reads every turn back from Redis.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { conversationIndexKey, conversationKeys } from "../lib/bus/keys.ts";
import { decodeEntry } from "../lib/bus/stream_entry.ts";
import type { DialogMessage } from "../lib/model/dialog_message.ts";
import { TreeSampler } from "./process_tree.ts";
import { awaitChat } from "./chat_process.ts";

/** What {@linkcode runProject} runs. */
export interface ProjectRunOptions {
  redis: Redis;
  redisUrl: string;
  doubleUrl: string;
  pairs: number;
  maxTurns: number;
  /** `--concurrency` of the agent pool; the project's default when omitted. */
  concurrency?: number;
  /** Ends the run (Ctrl-C, as a user would) after this long. */
  timeLimitMs: number;
}

/** One turn as read back from Redis. */
export interface TurnFigures {
  conversation: string;
  seq: number;
  /** Response `queue_timestamp` (epoch ms). */
  at: number;
  /** This response's `queue_timestamp` minus the previous turn's (ms). */
  gapMs: number;
  /** `metadata.wall_time_ms`: request enqueued → response enqueued. */
  wallMs: number;
}

/** What a project run measured, or why it could not. */
export type ProjectRunResult =
  | {
    available: true;
    /** Turns 2.. of every conversation (turn 1 has no previous response). */
    turns: TurnFigures[];
    conversations: string[];
    peakProcesses: number;
    peakRssBytes: number;
    exitCode: number;
    /** Statuses of the conversations at the end, counted. */
    statuses: Record<string, number>;
  }
  | { available: false; why: string };

/**
 * The bench's config file: the loop detector warns instead of ending the run
 * (it still runs every turn), as the double's small vocabulary repeats itself.
 */
export const BENCH_CONFIG = "bench/bench_config.json";

/** The command a reader types to run the same thing. */
export function chatCommand(
  options: Omit<ProjectRunOptions, "redis" | "redisUrl" | "doubleUrl" | "timeLimitMs">,
): string {
  return `deno task chat --pairs ${options.pairs} --max-turns ${options.maxTurns}` +
    (options.concurrency ? ` --concurrency ${options.concurrency}` : "") +
    ` --config ${BENCH_CONFIG} --no-analysis`;
}

/** Runs chat and reads its turns back; never throws for a run that did not work. */
export async function runProject(options: ProjectRunOptions): Promise<ProjectRunResult> {
  const before = new Set(await options.redis.zrange(conversationIndexKey(), 0, -1));
  const args = [
    ...(await taskArgs("chat")),
    "--pairs",
    String(options.pairs),
    "--max-turns",
    String(options.maxTurns),
    ...(options.concurrency ? ["--concurrency", String(options.concurrency)] : []),
    "--config",
    BENCH_CONFIG,
    "--no-analysis",
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: _repoRoot(),
    env: { REDIS_URL: options.redisUrl, OLLAMA_HOST: options.doubleUrl, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const sampler = new TreeSampler(child.pid);
  const { status, stderr: errors } = await awaitChat(child, options.timeLimitMs);
  await sampler.stop();
  const ids = (await options.redis.zrange(conversationIndexKey(), 0, -1)).filter((id) =>
    !before.has(id)
  );
  const turns: TurnFigures[] = [];
  const statuses: Record<string, number> = {};
  for (const id of ids) {
    turns.push(...await readTurns(options.redis, id));
    const [state, reason] = await options.redis.hmget(
      conversationKeys(id).meta,
      "status",
      "stop_reason",
    );
    const status = `${state ?? "?"}${reason ? ` (${reason})` : ""}`;
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  if (turns.length === 0) {
    const reason = ids.length === 0
      ? "no conversation was created"
      : `no turns recorded (${Object.entries(statuses).map(([s, n]) => `${n} ${s}`).join(", ")})`;
    return { available: false, why: `${reason}; chat exited ${status.code}: ${_lastLine(errors)}` };
  }
  return {
    available: true,
    turns,
    conversations: ids,
    peakProcesses: sampler.peakProcesses,
    peakRssBytes: sampler.peakRssBytes,
    exitCode: status.code,
    statuses,
  };
}

/** Every accepted response of conversation `id` after its first, in turn order. */
export async function readTurns(redis: Redis, id: string): Promise<TurnFigures[]> {
  const keys = conversationKeys(id);
  const bySeq = new Map<number, DialogMessage>();
  for (const stream of [keys.responses(1), keys.responses(2)]) {
    for (const [, fields] of await redis.xrange(stream, "-", "+")) {
      try {
        const message = decodeEntry(fields);
        const seq = message.metadata.sequence_number;
        if (!bySeq.has(seq)) bySeq.set(seq, message);
      } catch {
        // an entry the project dead-letters is no turn
      }
    }
  }
  const ordered = [...bySeq.values()].sort((a, b) =>
    a.metadata.sequence_number - b.metadata.sequence_number
  );
  const turns: TurnFigures[] = [];
  for (let i = 1; i < ordered.length; i++) {
    const message = ordered[i]!;
    turns.push({
      conversation: id,
      seq: message.metadata.sequence_number,
      at: message.queue_timestamp,
      gapMs: message.queue_timestamp - ordered[i - 1]!.queue_timestamp,
      wallMs: message.metadata.wall_time_ms,
    });
  }
  return turns;
}

/** The argv of a deno.json task after `deno`, e.g. `["run", "--allow-net", …, "main.ts"]`. */
export async function taskArgs(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${_repoRoot()}/deno.json`));
  const entry = config.tasks?.[task];
  const command = typeof entry === "string" ? entry : entry?.command;
  if (typeof command !== "string" || !command.startsWith("deno ")) {
    throw new Error(`Cannot run task "${task}" as deno.json has no 'deno …' command for it`);
  }
  return command.split(/\s+/).slice(1);
}

function _repoRoot(): string {
  return new URL("..", import.meta.url).pathname;
}

/**
 * Why a run failed, from its stderr: the first line a child wrote about its
 * own failure (`manager: …`, `agent: …`, a logged error) and the last line.
 */
function _lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^at /.test(l));
  const child = lines.find((l) => /^(manager|agent|error)\b/i.test(l) || /\[(ERR|FTL)\]/.test(l));
  const last = lines.at(-1) ?? "no output";
  return (child && child !== last ? `${child} … ${last}` : last).slice(0, 400);
}
