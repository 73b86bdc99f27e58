/**
 * `deno task chat`: everything one command does. Checks Redis (the local
 * store when none is configured or running, see `redis_location.ts`) and Ollama, creates one or
 * `--pairs N` conversations, runs them through one manager pool and a few
 * agent pool processes that it supervises (a child that dies is started
 * again and the runs go on from Redis), shows the run live, and prints the
 * analysis — or, for several runs, their comparison — at the end.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import type { Scenario } from "../model/story.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { log } from "../base/logger.ts";
import { checkModels } from "./model_check.ts";
import { backendsLine, resolveBackends } from "../llm/backend_resolution.ts";
import { watchPairs } from "./pairs_watch.ts";
import {
  createConversation,
  interruptConversations,
  requestResume,
} from "../manager/conversation_setup.ts";
import { readScenarioFile } from "../manager/scenario_writer.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import { formatAnalysisText } from "../analysis/report/analysis_report.ts";
import { compareRuns, formatComparisonText } from "../analysis/run_comparison.ts";
import { watchConversation } from "../view/conversation_view.ts";
import { TerminalRenderer } from "../view/terminal_renderer.ts";
import { resolveRedis } from "./redis_location.ts";
import { spawnRole } from "./process_roles.ts";
import { type ChildSpec, type RestartPolicy, Supervisor } from "./supervisor.ts";

/** Options of {@linkcode runChat}. */
export interface ChatOptions {
  config: Config;
  /** Story and personas file (every pair gets this scenario). */
  storyFile?: string;
  /** Continue this interrupted conversation instead of starting one. */
  resume?: string;
  /** Conversations run at once. @default 1 */
  pairs?: number;
  /** Agent pool processes. @default 1 */
  workers?: number;
  /** Download missing models. @default false */
  pull?: boolean;
  /** Print the analysis at the end. @default true */
  analysis?: boolean;
  /** Ctrl-C: the runs are ended as `interrupted` (resumable). */
  signal: AbortSignal;
  /** Where the live view and analysis go. @default a renderer on stdout */
  renderer?: TerminalRenderer;
  /** Writes the analysis text. @default console.log */
  print?: (text: string) => void;
  /** How children are restarted. @default DEFAULT_RESTART_POLICY */
  restartPolicy?: RestartPolicy;
}

/** How long children get to release their work and exit. */
const GRACE_MS = 5000;

/**
 * Runs the conversations end to end; returns the exit code: 0 when all
 * completed, 130 when interrupted, 1 otherwise.
 */
export async function runChat(options: ChatOptions): Promise<number> {
  let config = await _resolveRedis(options);
  let redis: Redis | undefined;
  let supervisor: Supervisor | undefined;
  let ids: string[] = [];
  try {
    redis = await connectRedis(config.redis, { name: "chat" });
    // Backends resolved once here (after Redis, without which nothing runs):
    // the children inherit concrete choices.
    const resolved = await resolveBackends(config, {
      roles: options.storyFile || options.resume
        ? ["agent1", "agent2"]
        : ["manager", "agent1", "agent2"],
      pull: options.pull ?? false,
      signal: options.signal,
    });
    config = resolved.config;
    console.error(`chat: ${backendsLine(resolved.choices)}`);
    await checkModels(config, options);
    ids = await _prepare(redis, config, options);
    const gaveUp = new AbortController();
    supervisor = startPools(redis, config, options, (spec, reason) => {
      gaveUp.abort(
        new DialogueError(
          ErrorCode.Aborted,
          `The ${spec.name} process kept failing (${reason}); its output above says why. The runs are left resumable: 'deno task chat --resume ${
            ids[0]
          }'`,
        ),
      );
    });
    const metas = await _watch(redis, ids, { ...options, config }, gaveUp.signal);
    if (gaveUp.signal.aborted) throw gaveUp.signal.reason;
    await supervisor.stop({ graceMs: GRACE_MS });
    supervisor = undefined;
    if (options.analysis ?? true) await _report(redis, ids, options);
    if (metas.every((m) => m.status === "completed")) return 0;
    return metas.some((m) => m.status === "interrupted") ? 130 : 1;
  } catch (error) {
    if (error instanceof DialogueError && error.code === ErrorCode.RedisUnavailable && ids.length) {
      throw new DialogueError(
        ErrorCode.RedisUnavailable,
        `${error.message}. The run${ids.length > 1 ? "s are" : " is"} left as ${
          ids.length > 1 ? "they were" : "it was"
        }: once Redis is back, continue with 'deno task chat --resume ${ids[0]}'${
          ids.length > 1 ? " (and the other ids, listed by 'deno task observe --list')" : ""
        }`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await supervisor?.stop({ graceMs: 0 });
    await closeRedis(redis);
  }
}

/** Creates the conversations (or resumes one); their ids. */
async function _prepare(redis: Redis, config: Config, options: ChatOptions): Promise<string[]> {
  if (options.resume) {
    await requestResume(redis, config, options.resume);
    return [options.resume];
  }
  const scenario: Scenario | undefined = options.storyFile
    ? await readScenarioFile(options.storyFile)
    : undefined;
  const ids: string[] = [];
  for (let i = 0; i < (options.pairs ?? 1); i++) {
    ids.push(await createConversation(redis, config, scenario ? { scenario } : {}));
  }
  return ids;
}

/**
 * Starts one manager pool and `workers` agent pools as children fed `config`
 * on their stdin, restarted when they die (`deno task chat` and `deno task batch`).
 */
export function startPools(
  redis: Redis,
  config: Config,
  options: Pick<ChatOptions, "workers" | "restartPolicy">,
  onGiveUp: (spec: ChildSpec, reason: string) => void,
): Supervisor {
  // Children's info lines would break up the live view: they log warnings
  // and errors only, unless the user asked for debug output.
  const childLogging = config.logging.level === "info"
    ? { ...config.logging, level: "warning" as const }
    : config.logging;
  // On each child's stdin, never in its environment (`ps eww` shows that):
  // a restarted child is fed the same text through a fresh pipe.
  const childConfig = JSON.stringify({ ...config, logging: childLogging });
  const supervisor = new Supervisor({
    spawn: (spec: ChildSpec) => spawnRole(spec.role, { args: spec.args, config: childConfig }),
    ...(options.restartPolicy ? { policy: options.restartPolicy } : {}),
    // A child that died with Redis away would only fail again: wait for it.
    canRestart: async () => await redis.ping().then(() => true, () => false),
    onGiveUp,
  });
  // Stable consumer names: a restarted child takes its own unfinished work back at once.
  const tag = `chat-${Deno.pid}-${crypto.randomUUID().slice(0, 4)}`;
  supervisor.start({
    name: "manager",
    role: "manager",
    args: ["--pool", "--consumer", `${tag}-manager`],
  });
  for (let i = 1; i <= (options.workers ?? 1); i++) {
    supervisor.start({
      name: `agent worker ${i}`,
      role: "agent",
      args: ["--consumer", `${tag}-agent-${i}`],
    });
  }
  return supervisor;
}

/**
 * Shows the runs until all have ended; after Ctrl-C they are interrupted
 * (resumable). Rides out Redis outages up to the configured limit.
 */
async function _watch(
  redis: Redis,
  ids: string[],
  options: ChatOptions,
  gaveUp: AbortSignal,
): Promise<ConversationMeta[]> {
  const { config } = options;
  const stop = new AbortController();
  gaveUp.addEventListener("abort", () => stop.abort(), { once: true });
  const interrupt = async () => {
    await new OutageGuard(config.redis, [redis]).run(() =>
      interruptConversations(redis, config, ids)
    ).catch((error) => log("chat").error("{error}", { error: String(error) }));
    stop.abort();
  };
  if (options.signal.aborted) await interrupt();
  else options.signal.addEventListener("abort", interrupt, { once: true });
  try {
    if (ids.length === 1) {
      return [
        await watchConversation(redis, ids[0]!, options.renderer ?? new TerminalRenderer(), {
          signal: stop.signal,
          redisConfig: config.redis,
        }),
      ];
    }
    return await watchPairs(redis, ids, { ...options, signal: stop.signal });
  } finally {
    options.signal.removeEventListener("abort", interrupt);
  }
}

/** The analysis of one run, or the comparison of several. */
async function _report(redis: Redis, ids: string[], options: ChatOptions): Promise<void> {
  const store = new ConversationStore(redis);
  const print = options.print ?? console.log;
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  if (ids.length === 1) {
    const report = analyzeRun(await store.transcript(ids[0]!));
    print("\n" + formatAnalysisText(report, { color }));
    return;
  }
  const analyses = [];
  for (const id of ids) analyses.push(analyzeRun(await store.transcript(id)));
  const completed = analyses.filter((a) => a.conversation.status === "completed").length;
  print(
    `\n${completed} of ${ids.length} runs completed.\n` +
      formatComparisonText(compareRuns(analyses)),
  );
}

/**
 * The configuration with Redis located: `deno task chat` has done this in its
 * `loadConfig` already (a no-op then); a caller of `runChat` with a config of
 * its own gets the same local store, which outlives the run.
 */
async function _resolveRedis(options: ChatOptions): Promise<Config> {
  return await resolveRedis(options.config, { command: "chat" });
}
