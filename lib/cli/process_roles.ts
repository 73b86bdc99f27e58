/**
 * The processes `main.ts` starts, with the permissions each is granted —
 * the same ones their `deno.json` tasks grant (a test keeps the two equal).
 *
 * @module
 */
import { INHERITED_CONFIG_VAR } from "../config/config.ts";
import { ENV_VARS } from "../config/config_layer.ts";
import { INHERITED_FROM_STDIN } from "../config/inherited_config.ts";

/** Entrypoints that run as their own processes. */
export type Role = "manager" | "agent" | "observer" | "analyze";

/**
 * What every command needs to find or start the local Redis: write for its
 * folder, lock and record; run for redis-server (`local_redis.ts`).
 */
const _LOCAL_REDIS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-run=redis-server",
];

/**
 * What a process that may generate with the embedded backend needs on top:
 * running `deno` for the model's own process (lib/llm/embedded/), which
 * holds the native addon so that its crash cannot take this one down.
 */
const _MODEL_RUNNER = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-run=redis-server,deno",
];

/**
 * Permissions per role, as their deno.json tasks grant them. Network: Redis
 * and the LLM hosts are the user's to choose. Env: ioredis' `debug`
 * dependency lists the whole environment. Read: config, story, prompt, CA
 * and model files may live anywhere.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly string[]>> = {
  manager: [..._MODEL_RUNNER, "--allow-sys=hostname"],
  agent: [..._MODEL_RUNNER, "--allow-sys=hostname"],
  observer: _LOCAL_REDIS,
  // Its judge and embedder use Ollama or an OpenAI-compatible server: it
  // runs no program but the local Redis.
  analyze: _LOCAL_REDIS,
};

/** Options of {@linkcode spawnRole}. */
export interface SpawnRoleOptions {
  args: string[];
  /** Added to the child's environment. */
  env?: Record<string, string>;
  /**
   * The merged configuration as JSON, secrets included. Written to the
   * child's stdin and closed (the child finds `DIALOGUE_CONFIG_FROM=stdin`);
   * the configuration variables (`REDIS_URL`, …) are left out of the child's
   * environment, since this text already holds what they said.
   */
  config?: string;
}

/**
 * Starts an entrypoint as a child process. From source it runs the `.ts`
 * file with this Deno; from a `deno compile` binary it runs the sibling
 * binary `dialogue-<role>`.
 */
export function spawnRole(role: Role, options: SpawnRoleOptions): Deno.ChildProcess {
  const exec = Deno.execPath();
  const compiled = !/(^|[\\/])deno(\.exe)?$/.test(exec);
  const script = new URL(`../../${role}.ts`, import.meta.url).pathname;
  // Named explicitly: Deno looks for deno.json from the cwd, which may be anywhere.
  const denoConfig = new URL("../../deno.json", import.meta.url).pathname;
  const [command, args] = compiled
    ? [exec.replace(/[^\\/]+$/, `dialogue-${role}`), options.args]
    : [exec, [
      "run",
      "--quiet",
      `--config=${denoConfig}`,
      ...ROLE_PERMISSIONS[role],
      script,
      ...options.args,
    ]];
  if (options.config === undefined) {
    return new Deno.Command(command, {
      args,
      env: options.env ?? {},
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  }
  const child = new Deno.Command(command, {
    args,
    clearEnv: true,
    env: { ...childEnv(Deno.env.toObject()), ...options.env },
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  _feed(child.stdin, options.config);
  return child;
}

/**
 * The environment of a child that gets its configuration on stdin: the
 * parent's, without the variables the configuration is made of (which may
 * hold credentials, e.g. `REDIS_URL`) or an older inherited config, plus the
 * marker telling the child to read stdin.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { childEnv } from "./process_roles.ts";
 * deepStrictEqual(childEnv({ HOME: "/home/a", REDIS_URL: "redis://:pw@h" }), {
 *   HOME: "/home/a",
 *   DIALOGUE_CONFIG_FROM: "stdin",
 * });
 * ```
 */
export function childEnv(parent: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (!(name in ENV_VARS) && name !== "DIALOGUE_CONFIG_JSON") env[name] = value;
  }
  env[INHERITED_CONFIG_VAR] = INHERITED_FROM_STDIN;
  return env;
}

/** Writes the configuration and closes the pipe; a child that died first is the supervisor's concern. */
function _feed(stdin: WritableStream<Uint8Array>, text: string): void {
  const writer = stdin.getWriter();
  writer.write(new TextEncoder().encode(text))
    .then(() => writer.close())
    .catch(() => writer.abort().catch(() => {}));
}
