/**
 * Configuration: one zod schema, four sources. Lowest to highest precedence:
 * defaults, a JSON/JSONC file (`--config`), the environment, flags.
 *
 * @module
 */
import { z } from "zod";
import {
  coerceLevelName,
  type ConfigLayer,
  envLayer,
  isPlainObject,
  mergeLayers,
} from "./config_layer.ts";
import { usageError } from "../base/dialogue_error.ts";
import { logFormatProblem } from "../base/log_pattern.ts";
import { PROMPT_MAX_CHARS, readConfigFile, readNamedFiles } from "./config_files.ts";
import { joinProblems, problemLines } from "./config_problems.ts";
import { readInheritedConfig } from "./inherited_config.ts";
import { isRedisUrl, RedisSettings } from "./redis_settings.ts";
import { seconds, secondsForm } from "./seconds_field.ts";
import { BackendChoice, EmbeddedSettings, OpenAiSettings, roleModel } from "./backend_config.ts";

export type { ConfigLayer } from "./config_layer.ts";

/** A prompt template: inline text, or `{ "file": "path" }` read at load time. */
const PromptSource = z.union([
  z.string().min(1).max(PROMPT_MAX_CHARS),
  z.strictObject({ file: z.string().min(1) }),
]);

const AgentConfig = z.strictObject({
  /** Model for this agent; falls back to `agents.model`. */
  model: z.string().min(1).optional(),
  /** Ollama host for this agent; falls back to `ollama.host`. */
  host: z.string().min(1).optional(),
  /** Backend for this agent; falls back to `agents.backend`, then `backend`. */
  backend: BackendChoice.optional(),
  /** Sampling temperature for this agent; falls back to `generation.temperature`. */
  temperature: z.number().min(0).max(2).optional(),
});

/** The full configuration. Every field has a default. */
export const Config = z.strictObject({
  /**
   * Backend of every role unless a role sets its own: `auto` (Ollama when it
   * answers, else the embedded model when one is configured or cached),
   * `ollama`, `openai` or `embedded`; env DIALOGUE_BACKEND, flag --backend.
   */
  backend: BackendChoice.default("auto"),
  redis: RedisSettings.prefault({}),
  ollama: z.strictObject({
    host: z.string().min(1).default("http://127.0.0.1:11434"),
    /**
     * Several Ollama hosts served as one pool (lib/llm/host_pool.ts): each call goes to the
     * least-loaded host with a free slot; a busy one (503/429) is backed off. Used by every role
     * whose host is `host` (not by an agent slot with a host of its own). Env OLLAMA_HOSTS
     * (`URL[=CONCURRENCY],…`).
     */
    hosts: z.array(z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** Calls the host serves at once (its OLLAMA_NUM_PARALLEL). */
      concurrency: z.number().int().min(1).max(1024).default(1),
    })).min(1).max(64).optional(),
    /** A generation that takes longer than this is cancelled. */
    request_timeout_ms: z.number().int().positive().default(300_000),
    keep_alive: z.string().min(1).default("5m"),
    /** Extra HTTP headers (e.g. Authorization for a proxy); never logged. */
    headers: z.record(z.string(), z.string()).optional(),
  }).prefault({}),
  openai: OpenAiSettings.prefault({}),
  embedded: EmbeddedSettings.prefault({}),
  manager: z.strictObject({
    model: z.string().min(1).default("llama3.2"),
    host: z.string().min(1).optional(),
    /** Backend of the manager; falls back to `backend`. */
    backend: BackendChoice.optional(),
    /** Theme of the scenario the manager invents. */
    topic: z.string().min(1).max(2000).default("any theme you like"),
    /** Attempts at a valid scenario before giving up. */
    max_attempts: z.number().int().min(1).max(10).default(3),
  }).prefault({}),
  agents: z.strictObject({
    model: z.string().min(1).default("llama3.2"),
    /** Backend of both agents unless one sets its own; falls back to `backend`. */
    backend: BackendChoice.optional(),
    agent1: AgentConfig.prefault({}),
    agent2: AgentConfig.prefault({}),
    /** `json`: structured ConversationContent; `text`: plain replies. */
    output: z.enum(["json", "text"]).default("json"),
    /** Attempts at a valid reply per turn. */
    max_attempts: z.number().int().min(1).max(10).default(3),
    /**
     * Generations one pool worker keeps in flight. Match the backend's
     * capacity: Ollama serves `OLLAMA_NUM_PARALLEL` requests at once (1 by
     * default), so more only queue there.
     */
    concurrency: z.number().int().min(1).max(1024).default(1),
    /** Models a pool worker serves (those its host has); unset serves every model asked for. */
    models: z.array(z.string().min(1)).max(100).optional(),
  }).prefault({}),
  dispatch: z.strictObject({
    /**
     * Ticket streams per role. One is right for a single Redis; on Redis
     * Cluster use a few per master so the work spreads over them.
     */
    partitions: z.number().int().min(1).max(256).default(1),
    /** How often pool processes record that they are alive (ms). */
    heartbeat_ms: z.number().int().min(100).max(60_000).default(1000),
    /**
     * A pool process silent for this long is presumed dead and the tickets
     * it held are taken over at once (ms).
     */
    dead_after_ms: z.number().int().min(500).max(600_000).default(5000),
  }).prefault({}),
  conversation: z.strictObject({
    /** Also `"90s"`, `"10m"`, `"1h"` (as `--duration` takes it). */
    duration_seconds: seconds(z.number({ error: secondsForm }).positive().max(7 * 24 * 3600))
      .default(300),
    max_turns: z.number().int().positive().max(100_000).default(50),
    /** Most recent messages an agent sends to its model. */
    history_messages: z.number().int().positive().default(40),
    /** Character budget for that history; the oldest turns go first. */
    history_chars: z.number().int().positive().default(24_000),
    /** What a detected loop (the agents repeating each other) does: nothing, a notice, or end the run. */
    loop_action: z.enum(["off", "warn", "stop"]).default("stop"),
    /**
     * What a stale conversation (six turns in a row with little new said)
     * does. A softer signal than a loop, so it only warns by default.
     */
    stale_action: z.enum(["off", "warn", "stop"]).default("warn"),
    /**
     * What an echoing agent (restating its partner's previous turn in two of
     * its own turns in a row) does. Warns by default: a lexical sign that a
     * run degrades, not a proof, and a run stopped for it is lost, while a
     * notice lets the person watching decide.
     */
    echo_action: z.enum(["off", "warn", "stop"]).default("warn"),
    /**
     * What a collapsing run (diversity falling while the turns shrink, the
     * vocabularies merge or phrases recur) does. Warns by default: collapse
     * is a trend measured against the opening, so it is softer than a loop,
     * which still stops the run by default when the collapse ends in one.
     */
    collapse_action: z.enum(["off", "warn", "stop"]).default("warn"),
    /**
     * A request or response left unacknowledged this long by a process that
     * stopped is taken over by another process serving the same role.
     */
    claim_idle_seconds: seconds(z.number({ error: secondsForm }).positive().max(3600)).default(
      30,
    ),
    /** Longest reply in tokens (Ollama `num_predict`). */
    max_reply_tokens: z.number().int().positive().default(400),
  }).prefault({}),
  generation: z.strictObject({
    temperature: z.number().min(0).max(2).default(0.8),
    num_ctx: z.number().int().min(256).default(4096),
    seed: z.number().int().optional(),
  }).prefault({}),
  prompts: z.strictObject({
    scenario: PromptSource.optional(),
    agent_system: PromptSource.optional(),
    first_turn: PromptSource.optional(),
  }).prefault({}),
  logging: z.strictObject({
    /** In any case; `warn` is `warning` (as Python's logging names them). */
    level: z.preprocess(
      coerceLevelName,
      z.enum(["debug", "info", "warning", "error"], {
        error: 'expected one of "debug", "info", "warning" (or "warn"), "error", in any case',
      }),
    ).default("info"),
    /**
     * `text`, `json` (JSON lines), or a Python-logging pattern such as
     * `%(asctime)s - %(name)s - %(levelname)s - %(message)s` (fields:
     * `LOG_PATTERN_FIELDS` in lib/base/logger.ts).
     */
    format: z.string().min(1).superRefine((format, ctx) => {
      const problem = logFormatProblem(format);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }).default("text"),
  }).prefault({}),
  retention: z.strictObject({
    /** Expire a finished conversation's keys after this many seconds; unset keeps them. */
    seconds: seconds(z.number({ error: secondsForm }).int().positive()).optional(),
  }).prefault({}),
  reports: z.strictObject({
    /** Where `analyze --html` writes; unset: `reports` in the local store's data folder. */
    dir: z.string().min(1).optional(),
  }).prefault({}),
});
/** The validated configuration. */
export type Config = z.infer<typeof Config>;

/**
 * Set to `stdin` by `main.ts` for its children: the already-merged config
 * arrives as JSON on standard input, never in the environment, where `ps eww`
 * would show its secrets (lib/config/inherited_config.ts).
 */
export const INHERITED_CONFIG_VAR = "DIALOGUE_CONFIG_FROM";

/** Where configuration comes from. */
export interface LoadConfigOptions {
  /** Path of a JSON/JSONC config file. */
  file?: string;
  /** Values from flags, as a nested partial config. */
  flags?: ConfigLayer;
  /** Environment lookup. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** Where a child reads its parent's config. @default Deno.stdin */
  stdin?: { readable: ReadableStream<Uint8Array>; isTerminal(): boolean };
}

/**
 * Loads, merges and validates the configuration, then reads the files it
 * names (`prompts.*.file`, `redis.ca_file`).
 *
 * @throws {DialogueError} `usage` with one line per problem: the field, the
 * value (unless secret) and the expected form.
 */
export async function loadConfig(
  options: LoadConfigOptions = {},
): Promise<Config> {
  const env = options.env ?? _readEnv;
  const layers: ConfigLayer[] = [];
  if (options.file) layers.push(await readConfigFile(options.file));
  layers.push(envLayer(env));
  // A child of main.ts inherits its parent's environment too: the parent's
  // merged config (flags included) must win over it.
  const inherited = env(INHERITED_CONFIG_VAR);
  if (inherited) {
    const text = await readInheritedConfig(INHERITED_CONFIG_VAR, inherited, options.stdin);
    layers.push(_parseInherited(text));
  }
  if (options.flags) layers.push(options.flags);
  const config = parseConfig(layers.reduce(mergeLayers, {}));
  return await readNamedFiles(config);
}

/**
 * Validates a merged layer.
 *
 * @throws {DialogueError} `usage` with one line per invalid field, all of them at once.
 */
export function parseConfig(layer: ConfigLayer): Config {
  const result = Config.safeParse(layer);
  if (result.success) return result.data;
  throw usageError(joinProblems(problemLines(Config, layer, result.error.issues)));
}

/** Model an agent slot uses (on the embedded backend, the model file's name). */
export function agentModel(config: Config, agent: 1 | 2): string {
  return roleModel(config, agent === 1 ? "agent1" : "agent2");
}

/** Ollama host an agent slot uses. */
export function agentHost(config: Config, agent: 1 | 2): string {
  return config.agents[agent === 1 ? "agent1" : "agent2"].host ??
    config.ollama.host;
}

/** Sampling temperature an agent slot uses. */
export function agentTemperature(config: Config, agent: 1 | 2): number {
  return config.agents[agent === 1 ? "agent1" : "agent2"].temperature ??
    config.generation.temperature;
}

function _readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function _parseInherited(raw: string): ConfigLayer {
  try {
    const value = JSON.parse(raw);
    if (isPlainObject(value)) return value;
  } catch { /* reported below */ }
  throw usageError(
    `Cannot read the configuration on stdin (${INHERITED_CONFIG_VAR}) as it is not a JSON object: unset ${INHERITED_CONFIG_VAR}`,
  );
}

export { isRedisUrl };
