/**
 * Flag parsing shared by the entrypoints: the configuration flags every
 * process accepts, their mapping onto config fields, and turning a bad flag
 * into a one-line usage error.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, loadConfig } from "../config/config.ts";
import { coerceScalar, type ConfigLayer, mergeLayers, setPath } from "../config/config_layer.ts";
import { usageError } from "../base/dialogue_error.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Flags that set configuration fields, and the field each sets. */
export const CONFIG_FLAG_FIELDS: Readonly<Record<string, string[]>> = {
  "redis-url": ["redis.url"],
  "ollama-host": ["ollama.host"],
  "model": ["agents.model", "manager.model"],
  "manager-model": ["manager.model"],
  "agent1-model": ["agents.agent1.model"],
  "agent2-model": ["agents.agent2.model"],
  "max-turns": ["conversation.max_turns"],
  "duration": ["conversation.duration_seconds"],
  "topic": ["manager.topic"],
  "output": ["agents.output"],
  "temperature": ["generation.temperature"],
  "num-ctx": ["generation.num_ctx"],
  "seed": ["generation.seed"],
  "log-level": ["logging.level"],
  "log-format": ["logging.format"],
};

/** parseArgs options for the configuration flags (and --config, --help). */
export const CONFIG_FLAGS: Options = {
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(
    Object.keys(CONFIG_FLAG_FIELDS).map((name) => [name, { type: "string" as const }]),
  ),
};

/** Help text for the configuration flags, shared by every entrypoint's help. */
export const CONFIG_FLAGS_HELP =
  `Configuration (flags win over environment, which wins over --config):
  --config FILE          JSON/JSONC config file
  --redis-url URL        redis://[user:pass@]host:port/db or rediss:// (env REDIS_URL)
  --ollama-host URL      Ollama server (env OLLAMA_HOST) [http://127.0.0.1:11434]
  --model NAME           model for the manager and both agents (env DIALOGUE_MODEL) [llama3.2]
  --manager-model NAME   model that writes the scenario
  --agent1-model NAME    model of agent 1        --agent2-model NAME  model of agent 2
  --max-turns N          stop after N turns [50]
  --duration SECONDS     stop after this long; a running generation is cancelled [300]
  --topic TEXT           theme of the scenario the manager invents
  --output json|text     agents' reply format: structured JSON or plain text [json]
  --temperature X        sampling temperature [0.8]
  --num-ctx N            model context size in tokens [4096]
  --seed N               seed for reproducible runs
  --log-level LEVEL      debug|info|warning|error [info] (logs go to stderr)
  --log-format FORMAT    text|json [text]`;

/**
 * Parses flags strictly.
 *
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
    const { values, positionals } = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    // node's messages span lines; users get one line.
    const message = (error as Error).message.replace(/\. To specify a positional.*$/s, "")
      .split("\n").map((line) => line.trim()).filter(Boolean).join(" ");
    throw usageError(`${message} (see '${command} --help')`);
  }
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

/** Loads the configuration from --config, the environment and flags. */
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
