/**
 * One definition per command — name, flags, help and run — from which
 * parsing, validation and the `--help` text all follow, so every entrypoint
 * refuses the same mistakes the same way: a flag that does not apply to the
 * command names the command and its flags, an unknown flag suggests the
 * nearest one, a conversation id is checked by {@linkcode checkConversationId}.
 * Every such error is one line and exit code 2, before anything touches Redis.
 *
 * @example A command with one flag of its own
 * ```ts
 * import { defineCommand, helpText, parseCommand } from "./command.ts";
 * import { CONNECTION_FLAGS } from "./cli.ts";
 *
 * const list = defineCommand({
 *   name: "list",
 *   usage: ["deno task list [options]"],
 *   summary: "Lists things.",
 *   flags: { limit: { type: "integer", help: "at most N [20]" } },
 *   configFlags: CONNECTION_FLAGS,
 *   run: async ({ values }) => (console.log(values.limit ?? 20), 0),
 * });
 * parseCommand(list, ["--limit", "5"]).values.limit; // 5
 * helpText(list).startsWith("Usage: deno task list"); // true
 * ```
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { usageError } from "../base/dialogue_error.ts";
import type { Config, ConfigLayer } from "../config/config.ts";
import { mergeLayers, setPath } from "../config/config_layer.ts";
import {
  CONFIG_FLAG_SPECS,
  type ConfigFlagName,
  configFlagsHelp,
  configFromFlags,
  flagHelpLine,
  oneLineParseError,
} from "./cli.ts";
import { runEntrypoint } from "./entrypoint.ts";
import {
  checkConversationId,
  flagLabel,
  type FlagSpec,
  type FlagSpecs,
  flagValue,
  type FlagValues,
} from "./flag_spec.ts";
import { nearestName } from "./nearest_name.ts";
import { resolveRedis } from "./redis_location.ts";

export type { FlagSpec, FlagSpecs, FlagType, FlagValues } from "./flag_spec.ts";

/** The positional arguments a command takes (none unless given). */
export interface PositionalSpec {
  /** Placeholder in the help, e.g. `ID`. */
  readonly name: string;
  readonly help: string;
  /** Each one is a conversation id. @default {false} */
  readonly conversationIds?: boolean;
}

/** What a command's `run` gets. */
export interface CommandContext<F extends FlagSpecs> {
  values: FlagValues<F>;
  positionals: string[];
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /**
   * The configuration: --config file < environment < the config flags given < `extra`;
   * with no Redis configured and none on 127.0.0.1:6379, `redis.url` is the local
   * store's (found or started, see `redis_location.ts`) unless `options.redis` is
   * false (a command that will not use Redis this time, e.g. `analyze --input`).
   */
  loadConfig(extra?: ConfigLayer, options?: { redis?: boolean }): Promise<Config>;
}

/** Everything about one command. */
export interface CommandDefinition<F extends FlagSpecs> {
  /** `deno task <name>`; also the prefix of its error lines. */
  readonly name: string;
  /** Usage lines, each a whole command line. */
  readonly usage: readonly string[];
  /** What the command does, for the help. */
  readonly summary: string;
  readonly positionals?: PositionalSpec;
  /** Flags of this command only. */
  readonly flags: F;
  /** The shared configuration flags that make sense for this command. */
  readonly configFlags: readonly ConfigFlagName[];
  /** Does the work once the flags are valid; returns the exit code. */
  run(context: CommandContext<F>): Promise<number>;
}

/** What {@linkcode parseCommand} found. */
export interface ParsedCommand<F extends FlagSpecs> {
  /** `--help` or `-h` was given: print the help, nothing else. */
  help: boolean;
  values: FlagValues<F>;
  positionals: string[];
  /** Values of the configuration flags given (and `--config`), as typed. */
  configValues: Record<string, string>;
  /** What the command's own flags with a `config` field set, parsed. */
  configLayer: ConfigLayer;
}

const _HELP: FlagSpec = { type: "boolean", short: "h", help: "show this help" };

/**
 * Checks a command definition and returns it, typed for its flags.
 *
 * @throws {TypeError} when an own flag reuses a configuration flag's name or `help`.
 */
export function defineCommand<const F extends FlagSpecs>(
  definition: CommandDefinition<F>,
): CommandDefinition<F> {
  for (const name of Object.keys(definition.flags)) {
    if (name === "help" || Object.hasOwn(CONFIG_FLAG_SPECS, name)) {
      throw new TypeError(`Cannot define flag --${name} on ${definition.name}: it is shared`);
    }
  }
  return definition;
}

/**
 * Parses and validates `args` against a command definition.
 *
 * @throws {DialogueError} `usage`, one line naming the flag, the value and what to do.
 */
export function parseCommand<F extends FlagSpecs>(
  definition: CommandDefinition<F>,
  args: readonly string[],
): ParsedCommand<F> {
  const specs = _specsOf(definition);
  const options: NonNullable<ParseArgsConfig["options"]> = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, {
      type: spec.type === "boolean" ? "boolean" as const : "string" as const,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    }]),
  );
  // Loose pass first, so an unknown flag is named before anything it upsets.
  const loose = parseArgs({ args: [...args], options, strict: false, tokens: true });
  for (const token of loose.tokens) {
    if (token.kind === "option" && !Object.hasOwn(specs, token.name)) {
      throw _foreignFlag(definition, token.rawName, token.name, Object.keys(specs));
    }
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: definition.positionals !== undefined,
    });
  } catch (error) {
    throw usageError(`${oneLineParseError(error)} (see 'deno task ${definition.name} --help')`);
  }
  const configValues: Record<string, string> = {};
  for (const name of definition.configFlags) {
    const raw = parsed.values[name];
    if (typeof raw === "string") configValues[name] = raw;
  }
  const help = parsed.values.help === true;
  const values: Record<string, unknown> = {};
  let configLayer: ConfigLayer = {};
  if (!help) {
    for (const [name, spec] of Object.entries(definition.flags)) {
      const raw = parsed.values[name];
      if (raw === undefined) continue;
      values[name] = Array.isArray(raw)
        ? raw.map((one) => flagValue(name, spec, one))
        : flagValue(name, spec, raw);
      for (const path of spec.config ?? []) {
        configLayer = mergeLayers(configLayer, setPath(path, values[name]));
      }
    }
    if (definition.positionals?.conversationIds) {
      for (const id of parsed.positionals) checkConversationId(id, "conversation id");
    }
  }
  return {
    help,
    values: values as FlagValues<F>,
    positionals: parsed.positionals,
    configValues,
    configLayer,
  };
}

/** The `--help` text of a command, generated from its definition. */
export function helpText<F extends FlagSpecs>(definition: CommandDefinition<F>): string {
  const [first, ...more] = definition.usage;
  const parts = [
    [`Usage: ${first}`, ...more.map((line) => `       ${line}`)].join("\n"),
    definition.summary,
  ];
  const positionals = definition.positionals;
  if (positionals) parts.push(`Arguments:\n${flagHelpLine(positionals.name, positionals.help)}`);
  const sections = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(definition.flags)) {
    const section = spec.section ?? "Options";
    sections.set(section, [
      ...(sections.get(section) ?? []),
      flagHelpLine(flagLabel(name, spec), spec.help),
    ]);
  }
  const helpSection = sections.has("Options")
    ? "Options"
    : [...sections.keys()].at(-1) ?? "Options";
  sections.set(helpSection, [
    ...(sections.get(helpSection) ?? []),
    flagHelpLine(flagLabel("help", _HELP), _HELP.help),
  ]);
  for (const [section, lines] of sections) parts.push(`${section}:\n${lines.join("\n")}`);
  if (definition.configFlags.length > 0) parts.push(configFlagsHelp(definition.configFlags));
  return parts.join("\n\n");
}

/**
 * Runs a command as the process's entrypoint: parses `Deno.args`, prints the
 * help or calls `run`, and exits with its code (2 for a usage error).
 */
export async function runCommand<F extends FlagSpecs>(
  definition: CommandDefinition<F>,
): Promise<never> {
  return await runEntrypoint(definition.name, async (signal) => {
    const parsed = parseCommand(definition, Deno.args);
    if (parsed.help) {
      console.log(helpText(definition));
      return 0;
    }
    return await definition.run({
      values: parsed.values,
      positionals: parsed.positionals,
      signal,
      loadConfig: async (extra = {}, options = {}) => {
        const config = await configFromFlags(
          parsed.configValues,
          mergeLayers(parsed.configLayer, extra),
        );
        return options.redis === false
          ? config
          : await resolveRedis(config, { command: definition.name });
      },
    });
  });
}

/** Own flags, then the config flags the command takes, then --help. */
function _specsOf<F extends FlagSpecs>(definition: CommandDefinition<F>): Record<string, FlagSpec> {
  return {
    ...definition.flags,
    ...Object.fromEntries(definition.configFlags.map((name) => [name, CONFIG_FLAG_SPECS[name]])),
    help: _HELP,
  };
}

/** The error for a flag the command does not take: not applicable, or unknown. */
function _foreignFlag<F extends FlagSpecs>(
  definition: CommandDefinition<F>,
  rawName: string,
  name: string,
  known: string[],
) {
  const command = `deno task ${definition.name}`;
  if (rawName.startsWith("--") && Object.hasOwn(CONFIG_FLAG_SPECS, name)) {
    return usageError(
      `Flag ${rawName} does not apply to ${command}: its flags are ${
        known.map((flag) => `--${flag}`).join(", ")
      }`,
    );
  }
  const long = rawName.startsWith("--");
  const nearest = long ? nearestName(name, known) : undefined;
  const elsewhere = long && nearest === undefined
    ? nearestName(name, Object.keys(CONFIG_FLAG_SPECS))
    : undefined;
  const hint = nearest !== undefined
    ? `: did you mean --${nearest}?`
    : elsewhere !== undefined
    ? `: the nearest, --${elsewhere}, does not apply to it`
    : "";
  return usageError(`Unknown flag ${rawName} for ${command}${hint} (see '${command} --help')`);
}
