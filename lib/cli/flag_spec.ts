/**
 * One flag of a command: its type, help and the config field it may set
 * ({@linkcode FlagSpec}), and reading its value as that type. Conversation
 * ids and consumer names are checked here, once for every command.
 *
 * @module
 */
import { usageError } from "../base/dialogue_error.ts";
import { isValidConversationId } from "../bus/keys.ts";

/**
 * How a flag's value is read: `integer` is a whole number from `min` to
 * `max`, `conversation-id` is checked by {@linkcode checkConversationId},
 * `consumer` (a stable worker name) by {@linkcode checkConsumerName}, `list`
 * is comma-separated (`--models a,b`).
 */
export type FlagType = "boolean" | "string" | "integer" | "conversation-id" | "consumer" | "list";

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
  /** Largest value of an `integer` flag. @default {Number.MAX_SAFE_INTEGER} */
  readonly max?: number;
  /** The values a `string` flag may take, e.g. `["1", "2"]`. */
  readonly choices?: readonly string[];
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

/**
 * Checks a consumer name (`--consumer`, the stable name of a pool process in
 * its consumer groups and heartbeats) the way every command does.
 *
 * @throws {DialogueError} `usage` naming `what` and the name.
 */
export function checkConsumerName(name: string, what: string): string {
  if (/^[0-9A-Za-z_.:-]{1,128}$/.test(name)) return name;
  throw usageError(
    `Invalid ${what} ${
      JSON.stringify(name)
    }: a consumer name has 1 to 128 letters, digits, '-', '_', '.' or ':'`,
  );
}

/** How a flag shows in the help: `-h, --help`, `--limit N`, `--id 1|2`. */
export function flagLabel(name: string, spec: FlagSpec): string {
  const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}`;
  if (spec.type === "boolean") return flag;
  const placeholder = spec.value ?? spec.choices?.join("|") ??
    { integer: "N", "conversation-id": "ID", consumer: "NAME", list: "A,B", string: "VALUE" }[
      spec.type
    ];
  return `${flag} ${placeholder}`;
}

/**
 * The value of flag `--name` read as its spec says (a `multiple` flag: one
 * of its values); a boolean passes through.
 *
 * @throws {DialogueError} `usage` naming the flag, the value and the expected form.
 */
export function flagValue(name: string, spec: FlagSpec, raw: unknown): unknown {
  if (spec.type === "boolean" || typeof raw !== "string") return raw;
  const flag = `--${name}`;
  switch (spec.type) {
    case "integer": {
      const min = spec.min ?? 1;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= min && n <= max)) {
        const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
        throw usageError(
          `Invalid ${flag} ${JSON.stringify(raw)}: expected a whole number ${range}`,
        );
      }
      return n;
    }
    case "conversation-id":
      return checkConversationId(raw, flag);
    case "consumer":
      return checkConsumerName(raw, flag);
    case "string":
      if (spec.choices && !spec.choices.includes(raw)) {
        throw usageError(
          `Invalid ${flag} ${JSON.stringify(raw)}: expected ${_oneOf(spec.choices)}`,
        );
      }
      return raw;
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

function _oneOf(choices: readonly string[]): string {
  return choices.length <= 2
    ? choices.join(" or ")
    : `one of ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
}
