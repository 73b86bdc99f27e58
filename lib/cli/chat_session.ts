/**
 * `deno task chat`: everything one command does. Checks Redis (starting a
 * private one when none is configured or running) and Ollama, starts the
 * manager and both agents as child processes, shows the run live, and prints
 * the analysis at the end.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { agentHost, agentModel, type Config, INHERITED_CONFIG_VAR } from "../config/config.ts";
import type { ConversationMeta } from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { watchConversation } from "../view/conversation_view.ts";
import { type EmbeddedRedis, isListening, startEmbeddedRedis } from "./embedded_redis.ts";
import { newConversationId } from "../bus/keys.ts";
import { ollamaBackendFor } from "../llm/ollama_backend.ts";
import { spawnRole } from "./process_roles.ts";
import { closeRedis, connectRedis } from "../bus/redis_connection.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import { formatAnalysisText } from "../analysis/report/analysis_report.ts";
import { TerminalRenderer } from "../view/terminal_renderer.ts";
import { log } from "../base/logger.ts";
import { endRun } from "../manager/run_ending.ts";
import { assertResumable } from "../manager/conversation_runner.ts";

/** Options of {@linkcode runChat}. */
export interface ChatOptions {
  config: Config;
  /** Story and personas file passed to the manager. */
  storyFile?: string;
  /** Continue this interrupted conversation instead of starting one. */
  resume?: string;
  /** Download missing models. @default false */
  pull?: boolean;
  /** Print the analysis at the end. @default true */
  analysis?: boolean;
  /** Ctrl-C: the run is ended as `interrupted`. */
  signal: AbortSignal;
  /** Where the live view and analysis go. @default a renderer on stdout */
  renderer?: TerminalRenderer;
  /** Writes the analysis text. @default console.log */
  print?: (text: string) => void;
}

/** How long children get to finish on their own before they are stopped. */
const GRACE_MS = 5000;

/** Runs one conversation end to end; returns the exit code (0 completed, 1 failed, 130 interrupted). */
export async function runChat(options: ChatOptions): Promise<number> {
  let { config } = options;
  const embedded = await _resolveRedis(options);
  if (embedded) config = { ...config, redis: { ...config.redis, url: embedded.url } };
  const children: { role: string; process: Deno.ChildProcess }[] = [];
  let redis: Redis | undefined;
  try {
    redis = await connectRedis(config.redis, { name: "chat" });
    await _checkModels(config, options);
    const id = options.resume ?? newConversationId();
    // Children's info lines would break up the live view: they log warnings
    // and errors only, unless the user asked for debug output.
    const childLogging = config.logging.level === "info"
      ? { ...config.logging, level: "warning" as const }
      : config.logging;
    const env = { [INHERITED_CONFIG_VAR]: JSON.stringify({ ...config, logging: childLogging }) };
    const managerArgs = options.resume
      ? ["--resume", id]
      : ["--conversation", id, ...(options.storyFile ? ["--story", options.storyFile] : [])];
    if (options.resume) await _checkResumable(redis, id);
    const manager = spawnRole("manager", { args: managerArgs, env });
    children.push({ role: "manager", process: manager });
    // A resumed run still reads as ended until its manager is back: wait, so
    // the view does not take the old ending for the new one.
    if (options.resume) await _waitUntilRunning(redis, id, manager);
    for (const agent of ["1", "2"]) {
      children.push({
        role: `agent ${agent}`,
        process: spawnRole("agent", { args: ["--id", agent, "--conversation", id], env }),
      });
    }
    const meta = await _watch(redis, id, children, { ...options, config });
    await _reap(children.map((c) => c.process));
    if (options.analysis ?? true) {
      const report = analyzeRun(await new ConversationStore(redis).transcript(id));
      (options.print ?? console.log)(
        "\n" + formatAnalysisText(report, {
          color: Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
        }),
      );
    }
    return meta.status === "completed" ? 0 : meta.status === "interrupted" ? 130 : 1;
  } finally {
    await _reap(children.map((c) => c.process), 0);
    await closeRedis(redis);
    await embedded?.stop();
  }
}

/**
 * A private redis-server when Redis is left at its default location
 * (no URL, 127.0.0.1:6379) and nothing listens there.
 */
async function _resolveRedis(options: ChatOptions): Promise<EmbeddedRedis | undefined> {
  const { redis } = options.config;
  const isDefault = !redis.url && redis.host === "127.0.0.1" && redis.port === 6379;
  if (!isDefault) return undefined;
  if (await isListening(redis.host, redis.port)) return undefined;
  const embedded = await startEmbeddedRedis();
  console.error(
    `chat: no Redis at ${redis.host}:${redis.port}; started a private redis-server on port ${embedded.port} for this run (it stops at the end; set REDIS_URL to keep runs)`,
  );
  return embedded;
}

async function _checkModels(config: Config, options: ChatOptions): Promise<void> {
  const wanted = new Map<string, Set<string>>();
  const add = (host: string, model: string) =>
    wanted.set(host, (wanted.get(host) ?? new Set()).add(model));
  if (!options.storyFile && !options.resume) {
    add(config.manager.host ?? config.ollama.host, config.manager.model);
  }
  for (const agent of [1, 2] as const) add(agentHost(config, agent), agentModel(config, agent));
  for (const [host, models] of wanted) {
    const backend = ollamaBackendFor(config.ollama, host);
    for (const model of models) {
      await backend.ensureModel(model, {
        pull: options.pull ?? false,
        signal: options.signal,
        onProgress: _progressBar(model),
      });
    }
  }
}

/**
 * Shows the run. A child that exits while the run is active ends it as
 * failed (naming the child); after Ctrl-C the run is marked interrupted if
 * the manager has not done so within the grace period.
 */
async function _watch(
  redis: Redis,
  id: string,
  children: { role: string; process: Deno.ChildProcess }[],
  options: ChatOptions,
): Promise<ConversationMeta> {
  const store = new ConversationStore(redis);
  const watchStop = new AbortController();
  for (const child of children) {
    child.process.status.then(async (status) => {
      if (options.signal.aborted || watchStop.signal.aborted) return;
      // Give a clean exit's own status update a moment to land first.
      await new Promise((r) => setTimeout(r, 300));
      const why = `the ${child.role} process exited with code ${status.code} before the run ended`;
      if (!await store.get(id)) return watchStop.abort();
      const ended = await endRun(redis, id, {
        status: "failed",
        reason: "error",
        detail: why,
        retentionSeconds: options.config.retention.seconds,
      });
      if (ended) log("chat").error("{why}", { why });
    }).catch(() => {});
  }
  const onAbort = () => {
    // The children may not share our terminal (a supervisor signalled only
    // us): pass the interrupt on. A child treats signals that arrive together
    // as one, so Ctrl-C in a terminal still means one graceful stop.
    for (const child of children) {
      try {
        child.process.kill("SIGINT");
      } catch {
        // Already exited.
      }
    }
    setTimeout(async () => {
      await endRun(redis, id, {
        status: "interrupted",
        reason: "interrupted",
        retentionSeconds: options.config.retention.seconds,
      }).catch(() => {});
      watchStop.abort();
    }, GRACE_MS);
  };
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await watchConversation(redis, id, options.renderer ?? new TerminalRenderer(), {
      signal: watchStop.signal,
      redisConfig: options.config.redis,
    });
  } finally {
    options.signal.removeEventListener("abort", onAbort);
  }
}

/** @throws {DialogueError} when `id` does not exist or cannot be resumed. */
async function _checkResumable(redis: Redis, id: string): Promise<void> {
  assertResumable(await new ConversationStore(redis).require(id));
}

/** Until the resumed run is running again, its manager exits, or 30 s pass. */
async function _waitUntilRunning(
  redis: Redis,
  id: string,
  manager: Deno.ChildProcess,
): Promise<void> {
  let exited = false;
  manager.status.then(() => exited = true);
  const store = new ConversationStore(redis);
  const giveUp = Date.now() + 30_000;
  while (!exited && Date.now() < giveUp) {
    if ((await store.require(id)).status === "running") return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for children to exit, then stops those still running. */
async function _reap(children: Deno.ChildProcess[], graceMs = GRACE_MS): Promise<void> {
  const exited = Promise.all(children.map((c) => c.status));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => timer = setTimeout(() => r(true), graceMs)),
  ]);
  clearTimeout(timer);
  if (!timedOut) return;
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }
  await exited;
}

function _progressBar(model: string) {
  let last = "";
  return (status: string, fraction?: number) => {
    const bar = fraction === undefined
      ? status
      : `${"█".repeat(Math.round(fraction * 30)).padEnd(30, "░")} ${(fraction * 100).toFixed(0)}%`;
    const line = `pulling ${model}: ${bar}`;
    if (line === last) return;
    last = line;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${line.padEnd(70)}`));
    if (status === "success") Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  };
}
