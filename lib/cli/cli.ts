/**
 * The configuration flags a command may take (`--redis-url`, `--model`, …):
 * the config field each sets, its help line, and loading the configuration
 * from them. Commands pick the ones that make sense for them in their
 * definition ({@linkcode defineCommand} in `command.ts`).
 *
 * `CONFIG_FLAGS`, `CONFIG_FLAGS_HELP` and `parseFlags` are the older API of
 * the entrypoints not yet defined with `command.ts`; they go once none uses them.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, loadConfig } from "../config/config.ts";
import { coerceScalar, type ConfigLayer, mergeLayers, setPath } from "../config/config_layer.ts";
import { usageError } from "../base/dialogue_error.ts";
import { flagLabel, type FlagSpec } from "./flag_spec.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Every configuration flag: `config` names the fields it sets (its value is
 * checked by the config schema, so a bad one names the field); `--config`
 * names the file itself.
 */
export const CONFIG_FLAG_SPECS = {
  config: { type: "string", value: "FILE", help: "JSON/JSONC config file" },
  "redis-url": {
    type: "string",
    value: "URL",
    config: ["redis.url"],
    help: "redis://[user:pass@]host:port/db or rediss:// (env REDIS_URL)",
  },
  "ollama-host": {
    type: "string",
    value: "URL",
    config: ["ollama.host"],
    help: "Ollama server (env OLLAMA_HOST) [http://127.0.0.1:11434]",
  },
  backend: {
    type: "string",
    value: "NAME",
    config: ["backend", "agents.backend", "manager.backend"],
    help: "auto|ollama|openai|embedded for every role (env DIALOGUE_BACKEND)\n" +
      "[auto: Ollama when it answers, else the embedded model]",
  },
  "manager-backend": {
    type: "string",
    value: "NAME",
    config: ["manager.backend"],
    help: "backend of the manager",
  },
  "agent1-backend": {
    type: "string",
    value: "NAME",
    config: ["agents.agent1.backend"],
    help: "backend of agent 1",
  },
  "agent2-backend": {
    type: "string",
    value: "NAME",
    config: ["agents.agent2.backend"],
    help: "backend of agent 2",
  },
  "openai-base-url": {
    type: "string",
    value: "URL",
    config: ["openai.base_url"],
    help: "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1\n" +
      "(env OPENAI_BASE_URL; key from OPENAI_API_KEY)",
  },
  "model-file": {
    type: "string",
    value: "PATH",
    config: ["embedded.model"],
    help: "GGUF model for the embedded backend, or hf:OWNER/REPO/FILE.gguf\n" +
      "(env DIALOGUE_MODEL_FILE)",
  },
  model: {
    type: "string",
    value: "NAME",
    config: ["agents.model", "manager.model"],
    help: "model for the manager and both agents (env DIALOGUE_MODEL) [llama3.2]",
  },
  "manager-model": {
    type: "string",
    value: "NAME",
    config: ["manager.model"],
    help: "model that writes the scenario",
  },
  "agent1-model": {
    type: "string",
    value: "NAME",
    config: ["agents.agent1.model"],
    help: "model of agent 1",
  },
  "agent2-model": {
    type: "string",
    value: "NAME",
    config: ["agents.agent2.model"],
    help: "model of agent 2",
  },
  "max-turns": {
    type: "string",
    value: "N",
    config: ["conversation.max_turns"],
    help: "stop after N turns [50]",
  },
  duration: {
    type: "string",
    value: "TIME",
    config: ["conversation.duration_seconds"],
    help: "stop after this long (seconds, or 90s, 10m, 1h); a running\n" +
      "generation is cancelled [300]",
  },
  topic: {
    type: "string",
    value: "TEXT",
    config: ["manager.topic"],
    help: "theme of the scenario the manager invents",
  },
  output: {
    type: "string",
    value: "json|text",
    config: ["agents.output"],
    help: "agents' reply format: structured JSON or plain text [json]",
  },
  temperature: {
    type: "string",
    value: "X",
    config: ["generation.temperature"],
    help: "sampling temperature [0.8]",
  },
  "num-ctx": {
    type: "string",
    value: "N",
    config: ["generation.num_ctx"],
    help: "model context size in tokens [4096]",
  },
  seed: {
    type: "string",
    value: "N",
    config: ["generation.seed"],
    help: "seed for reproducible runs",
  },
  "log-level": {
    type: "string",
    value: "LEVEL",
    config: ["logging.level"],
    help: "debug|info|warning|error, any case [info] (logs go to stderr)",
  },
  "log-format": {
    type: "string",
    value: "FORMAT",
    config: ["logging.format"],
    help: "text|json, or a pattern like '%(asctime)s %(levelname)s\n" +
      "%(message)s' [text]",
  },
} as const satisfies Record<string, FlagSpec>;

/** Name of a configuration flag (without `--`). */
export type ConfigFlagName = keyof typeof CONFIG_FLAG_SPECS;

/** Every configuration flag, for the commands that run conversations. */
export const ALL_CONFIG_FLAGS = Object.keys(CONFIG_FLAG_SPECS) as readonly ConfigFlagName[];

/** What every command that talks to Redis takes: the config file, Redis, logging. */
export const CONNECTION_FLAGS: readonly ConfigFlagName[] = [
  "config",
  "redis-url",
  "log-level",
  "log-format",
];

/** Flags that set configuration fields, and the field each sets. */
export const CONFIG_FLAG_FIELDS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(CONFIG_FLAG_SPECS).flatMap(([name, spec]) =>
    "config" in spec ? [[name, spec.config]] : []
  ),
);

/** Column at which help lines start their description. */
const _HELP_COLUMN = 25;

/**
 * One help line: `label` (e.g. `--limit N`) then `help` at a fixed column;
 * a `\n` in `help` continues it on the next line at that column.
 */
export function flagHelpLine(label: string, help: string): string {
  const left = `  ${label}`;
  const indent = " ".repeat(_HELP_COLUMN);
  const body = help.split("\n").join(`\n${indent}`);
  return left.length <= _HELP_COLUMN - 2
    ? `${left.padEnd(_HELP_COLUMN)}${body}`
    : `${left}\n${indent}${body}`;
}

/** The help section listing the given configuration flags. */
export function configFlagsHelp(names: readonly ConfigFlagName[]): string {
  const lines = names.map((name) => {
    const spec: FlagSpec = CONFIG_FLAG_SPECS[name];
    return flagHelpLine(flagLabel(name, spec), spec.help);
  });
  return `Configuration (flags win over environment, which wins over --config):\n${
    lines.join("\n")
  }`;
}

/** The nested config layer the configuration flags define. */
export function configLayerFromFlags(values: Record<string, unknown>): ConfigLayer {
  let layer: ConfigLayer = {};
  for (const [flag, paths] of Object.entries(CONFIG_FLAG_FIELDS)) {
    const raw = values[flag];
    if (typeof raw !== "string") continue;
    for (const path of paths) layer = mergeLayers(layer, setPath(path, coerceScalar(path, raw)));
  }
  return layer;
}

/**
 * Loads the configuration from --config, the environment and flags.
 *
 * @throws {DialogueError} `usage` naming the bad field, its value and the expected form.
 */
export async function configFromFlags(
  values: Record<string, unknown>,
  extra: ConfigLayer = {},
): Promise<Config> {
  const file = typeof values.config === "string" ? values.config : undefined;
  return await loadConfig({
    ...(file ? { file } : {}),
    flags: mergeLayers(configLayerFromFlags(values), extra),
  });
}

/**
 * parseArgs options for every configuration flag (and --help).
 *
 * @deprecated Define the command with `defineCommand` (command.ts) instead.
 */
export const CONFIG_FLAGS: Options = {
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(
    Object.keys(CONFIG_FLAG_SPECS).map((name) => [name, { type: "string" as const }]),
  ),
};

/**
 * Help text for every configuration flag.
 *
 * @deprecated Define the command with `defineCommand` (command.ts) instead.
 */
export const CONFIG_FLAGS_HELP = configFlagsHelp(ALL_CONFIG_FLAGS);

/**
 * Parses flags strictly.
 *
 * @deprecated Define the command with `defineCommand` (command.ts) instead.
 * @throws {DialogueError} `usage` naming the bad flag and pointing at --help.
 */
export function parseFlags(
  args: string[],
  options: Options,
  command: string,
  allowPositionals = false,
): {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
} {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw usageError(`${oneLineParseError(error)} (see '${command} --help')`);
  }
}

/** node's parseArgs messages span lines and suggest `--`; users get one line. */
export function oneLineParseError(error: unknown): string {
  return String((error as Error).message).replace(/\. To specify a positional.*$/s, "")
    .split("\n").map((line) => line.trim()).filter(Boolean).join(" ");
}
