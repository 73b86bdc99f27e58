/**
 * The processes `main.ts` starts, with the permissions each is granted —
 * the same ones their `deno.json` tasks grant (a test keeps the two equal).
 *
 * @module
 */

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
 * Permissions per role. Network: Redis and Ollama hosts are the user's to
 * choose. Env: ioredis' `debug` dependency lists the whole environment.
 * Read: config, story, prompt and CA files may live anywhere.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly string[]>> = {
  manager: [..._LOCAL_REDIS, "--allow-sys=hostname"],
  agent: [..._LOCAL_REDIS, "--allow-sys=hostname"],
  observer: _LOCAL_REDIS,
  analyze: _LOCAL_REDIS,
};

/** Options of {@linkcode spawnRole}. */
export interface SpawnRoleOptions {
  args: string[];
  env?: Record<string, string>;
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
  return new Deno.Command(command, {
    args,
    env: options.env ?? {},
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}
