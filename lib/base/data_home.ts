/**
 * The user's data folder, where the local Redis store keeps its data and
 * reports are written by default: `$DIALOGUE_HOME`, else
 * `$XDG_DATA_HOME/dialogue-llm`, else `~/.local/share/dialogue-llm`.
 *
 * @module
 */
import { join } from "node:path";
import { DialogueError, ErrorCode } from "./dialogue_error.ts";

/**
 * The data folder for environment lookup `env` (pure).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { dataHome } from "./data_home.ts";
 * strictEqual(dataHome((n) => n === "HOME" ? "/home/u" : undefined), "/home/u/.local/share/dialogue-llm");
 * ```
 *
 * @throws {DialogueError} `usage` when none of DIALOGUE_HOME, XDG_DATA_HOME and HOME is set.
 */
export function dataHome(env: (name: string) => string | undefined): string {
  const own = env("DIALOGUE_HOME");
  if (own) return own;
  const xdg = env("XDG_DATA_HOME");
  if (xdg) return join(xdg, "dialogue-llm");
  const home = env("HOME") ?? env("USERPROFILE");
  if (home) return join(home, ".local", "share", "dialogue-llm");
  throw new DialogueError(
    ErrorCode.Usage,
    "Cannot find a data folder as HOME is not set: set DIALOGUE_HOME (or REDIS_URL for Redis)",
  );
}
