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
import { isValidConversationId } from "../bus/keys.ts";
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

/**
 * How a flag's value is read: `integer` is a whole number ≥ `min`,
 * `conversation-id` is checked by {@linkcode checkConversationId}, `list` is
 * comma-separated (`--models a,b`).
 */
export type FlagType = "boolean" | "string" | "integer" | "conversation-id" | "list";

/** One flag of a command. */
export interface FlagSpec {
  readonly type: FlagType;
  /** Help text; a `\n` continues it on the next line. */
  readonly help: string;
  /** Placeholder of the value in the help. @default {"N", "ID", "A,B" or "VALUE" by type} */
  readonly value?: string;
  /** One-letter alias. */
  readonly short?: string;
  /** May be given several times; the value is then an array. @default {false} */
  readonly multiple?: boolean;
  /** Smallest value of an `integer` flag. @default {1} */
  readonly min?: number;
  /**
   * Config fields the flag sets (dotted paths), with its parsed value: e.g.
   * `--concurrency` (integer) sets `agents.concurrency`. The flag then wins
   * over the file and the environment, and the schema still checks it.
   */
  readonly config?: readonly string[];
  /** Help section the flag is listed under. @default {"Options"} */
  readonly section?: string;
}

/** A command's own flags, by name without `--`. */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type _Value<S extends FlagSpec> = S["type"] extends "boolean" ? boolean
  : S["type"] extends "integer" ? number
  : S["type"] extends "list" ? string[]
  : string;

/** The parsed values of a command's own flags: absent when not given. */
export type FlagValues<F extends FlagSpecs> = {
  -readonly [K in keyof F]?: F[K] extends { multiple: true } ? _Value<F[K]>[] : _Value<F[K]>;
};

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
  /** The configuration: --config file < environment < the config flags given < `extra`. */
  loadConfig(extra?: ConfigLayer): Promise<Config>;
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
    if (name === "help" || name in CONFIG_FLAG_SPECS) {
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
        ? raw.map((one) => _convert(name, spec, one))
        : _convert(name, spec, raw);
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

/**
 * Checks a conversation id the way every command does, so one given to
 * `observe` works with `analyze`, `clean` and `chat --resume` too.
 *
 * @param what how the user gave it, e.g. `--conversation`
 * @throws {DialogueError} `usage` naming `what` and the id.
 */
export function checkConversationId(id: string, what: string): string {
  if (isValidConversationId(id)) return id;
  throw usageError(
    `Invalid ${what} ${
      JSON.stringify(id)
    }: a conversation id has 1 to 128 letters, digits, '-', '_' or '.' (list them with 'deno task observe --list')`,
  );
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
      flagHelpLine(_label(name, spec), spec.help),
    ]);
  }
  const helpSection = sections.has("Options")
    ? "Options"
    : [...sections.keys()].at(-1) ?? "Options";
  sections.set(helpSection, [
    ...(sections.get(helpSection) ?? []),
    flagHelpLine(_label("help", _HELP), _HELP.help),
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
      loadConfig: (extra = {}) =>
        configFromFlags(parsed.configValues, mergeLayers(parsed.configLayer, extra)),
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

function _label(name: string, spec: FlagSpec): string {
  const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}`;
  if (spec.type === "boolean") return flag;
  const placeholder = spec.value ??
    { integer: "N", "conversation-id": "ID", list: "A,B", string: "VALUE" }[spec.type];
  return `${flag} ${placeholder}`;
}

function _convert(name: string, spec: FlagSpec, raw: unknown): unknown {
  if (spec.type === "boolean" || typeof raw !== "string") return raw;
  const flag = `--${name}`;
  switch (spec.type) {
    case "integer": {
      const min = spec.min ?? 1;
      if (!/^-?\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
        throw usageError(
          `Invalid ${flag} ${JSON.stringify(raw)}: expected a whole number ≥ ${min}`,
        );
      }
      return Number(raw);
    }
    case "conversation-id":
      return checkConversationId(raw, flag);
    case "list": {
      const items = raw.split(",").map((item) => item.trim()).filter(Boolean);
      if (items.length === 0) {
        throw usageError(
          `Invalid ${flag} ${JSON.stringify(raw)}: expected a comma-separated list, e.g. a,b`,
        );
      }
      return items;
    }
    default:
      return raw;
  }
}

/** The error for a flag the command does not take: not applicable, or unknown. */
function _foreignFlag<F extends FlagSpecs>(
  definition: CommandDefinition<F>,
  rawName: string,
  name: string,
  known: string[],
) {
  const command = `deno task ${definition.name}`;
  if (rawName.startsWith("--") && name in CONFIG_FLAG_SPECS) {
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

/**
 * The name in `candidates` nearest to `typed`: within an edit distance of a
 * quarter of its length (at least 1, a swap of neighbours counting as one
 * edit; on a tie the one sharing the longer start), or else the only one it
 * starts (for 3 letters or more).
 */
export function nearestName(typed: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(typed.length / 4));
  let best: { name: string; distance: number; prefix: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(typed, name);
    if (distance > limit) continue;
    // On a tie, the one sharing the longer start: --limt is --limit, not --list.
    let prefix = 0;
    while (prefix < typed.length && typed[prefix] === name[prefix]) prefix++;
    if (
      best === undefined || distance < best.distance ||
      (distance === best.distance && prefix > best.prefix)
    ) {
      best = { name, distance, prefix };
    }
  }
  if (best) return best.name;
  const prefixed = typed.length >= 3 ? candidates.filter((name) => name.startsWith(typed)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
      }
    }
  }
  return rows[a.length]![b.length]!;
}
