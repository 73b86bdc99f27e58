/**
 * The Lua scripts of `lib/bus/lua/`, read once per process and registered on
 * each connection as commands, so every call after the first is an EVALSHA
 * (ioredis falls back to EVAL once when the server does not know the SHA,
 * e.g. after a restart). Each `.lua` file starts with its KEYS/ARGV/output
 * contract.
 *
 * @module
 */
import type { Redis } from "ioredis";

/** Number of keys each script takes, by file name. */
const SCRIPT_KEYS = {
  transition: 1,
  add_once: 2,
  record_response: 4,
  accept_response: 4,
} as const;

/** Name of a script in `lib/bus/lua/`. */
export type ScriptName = keyof typeof SCRIPT_KEYS;

const _sources = new Map<ScriptName, string>();
const _registered = new WeakSet<Redis>();

function _source(name: ScriptName): string {
  let text = _sources.get(name);
  if (text === undefined) {
    text = Deno.readTextFileSync(new URL(`./lua/${name}.lua`, import.meta.url));
    _sources.set(name, text);
  }
  return text;
}

/** Registers every script on `redis` (once per connection). */
export function registerScripts(redis: Redis): void {
  if (_registered.has(redis)) return;
  for (const [name, numberOfKeys] of Object.entries(SCRIPT_KEYS)) {
    redis.defineCommand(`dlg_${name}`, { numberOfKeys, lua: _source(name as ScriptName) });
  }
  _registered.add(redis);
}

/**
 * Calls script `name` with its keys then its arguments, by SHA.
 *
 * @example
 * ```ts ignore
 * const [changed, previous] = await runScript(redis, "transition", [metaKey], ["running", ",pending,", "0"]);
 * ```
 */
export async function runScript<T = unknown>(
  redis: Redis,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<T> {
  registerScripts(redis);
  // deno-lint-ignore no-explicit-any
  return await (redis as any)[`dlg_${name}`](...keys, ...args) as T;
}

/** Queues script `name` on a pipeline or transaction (registered on its connection). */
export function pipeScript(
  // deno-lint-ignore no-explicit-any
  pipeline: any,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): void {
  pipeline[`dlg_${name}`](...keys, ...args);
}
