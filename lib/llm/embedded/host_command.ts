/**
 * How the embedded model's host process is started: the deno binary to run
 * (and to let it fork), its explicit permissions, and the few environment
 * variables it inherits.
 *
 * @module
 */
import { join } from "node:path";
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";

/**
 * The permissions the host runs with, beside `--allow-run` for the deno
 * binary itself (node-llama-cpp forks it once to test its native binary
 * before loading it). Read: the model, node-llama-cpp's files and the
 * platform's; env: node-llama-cpp's settings; ffi: the llama.cpp addon; sys:
 * the home folder and uid node-llama-cpp asks for. No network, no writes.
 */
export const HOST_PERMISSIONS = [
  "--allow-read",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys=homedir,uid",
] as const;

/**
 * The command that runs deno, and the binary the host's node-llama-cpp will
 * fork (its own, canonical path). `deno` by name is what `--allow-run=deno`
 * grants; `Deno.execPath()` is used when only it is granted.
 */
export function hostCommand(): { command: string; binary: string } {
  const granted = (command: string) =>
    Deno.permissions.querySync({ name: "run", command }).state === "granted";
  if (granted("deno")) return { command: "deno", binary: _onPath("deno") ?? Deno.execPath() };
  const exec = Deno.execPath();
  if (granted(exec)) return { command: exec, binary: exec };
  throw new DialogueError(
    ErrorCode.LlmUnavailable,
    `Cannot start the embedded model process as running deno is not permitted: grant --allow-run=deno (the model runs in a deno child process)`,
  );
}

/** The real path of `name` on PATH, or undefined when it cannot be told. */
function _onPath(name: string): string | undefined {
  try {
    for (const dir of (Deno.env.get("PATH") ?? "").split(Deno.build.os === "windows" ? ";" : ":")) {
      if (!dir) continue;
      try {
        return Deno.realPathSync(join(dir, Deno.build.os === "windows" ? `${name}.exe` : name));
      } catch {
        // not in this folder
      }
    }
  } catch {
    // no permission to read PATH or the folders
  }
  return undefined;
}

/** Variables the host inherits: where Deno, npm packages and temp files live. */
const _HOST_ENV = [
  "PATH",
  "HOME",
  "USERPROFILE",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "TMPDIR",
  "TMP",
  "TEMP",
  "LANG",
];

/** The host's whole environment: {@linkcode _HOST_ENV} as far as they are set and readable. */
export function hostEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of _HOST_ENV) {
    try {
      const value = Deno.env.get(name);
      if (value !== undefined) out[name] = value;
    } catch {
      // Not permitted to read it: the host goes without.
    }
  }
  return out;
}
