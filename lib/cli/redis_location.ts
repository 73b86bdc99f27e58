/**
 * Which Redis a command uses: the configured one (`REDIS_URL`, `--redis-url`,
 * config `redis.url`, or a host/port other than 127.0.0.1:6379); else
 * whatever answers on 127.0.0.1:6379; else the local store
 * (`local_redis.ts`), found or started. The decision is pure
 * ({@linkcode isDefaultRedis}); {@linkcode resolveRedis} is the thin I/O
 * step around it that every command's `loadConfig` runs.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { ensureLocalRedis, localRedisHome } from "./local_redis.ts";
import { isListening } from "./redis_probe.ts";

/** Whether Redis is left at its default location: no URL, no cluster, host 127.0.0.1, port 6379. */
export function isDefaultRedis(redis: Config["redis"]): boolean {
  return !redis.url && !redis.cluster_nodes && redis.host === "127.0.0.1" && redis.port === 6379;
}

/** Options of {@linkcode resolveRedis}. */
export interface ResolveRedisOptions {
  /** Prefix of the one stderr line naming the local store, e.g. `observe`. */
  command: string;
  /** Environment lookup (for the data folder). @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** Where the one line goes. @default console.error */
  say?: (line: string) => void;
}

/**
 * The configuration with `redis.url` pointing at the local store when Redis
 * is left at its default location and nothing answers there; otherwise
 * `config` as it is. Children of `deno task chat` inherit the resolved URL,
 * so only the command the user typed says which Redis it uses.
 *
 * @throws {DialogueError} `redis_unavailable` when the local store cannot be started.
 */
export async function resolveRedis(config: Config, options: ResolveRedisOptions): Promise<Config> {
  const { redis } = config;
  if (!isDefaultRedis(redis)) return config;
  if (await isListening(redis.host, redis.port)) return config;
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const local = await ensureLocalRedis(localRedisHome(env));
  (options.say ?? console.error)(
    `${options.command}: Redis: the local store at 127.0.0.1:${local.port}${
      local.started ? " (started)" : ""
    }, data in ${local.dir}; 'deno task redis stop' stops it`,
  );
  return { ...config, redis: { ...config.redis, url: local.url } };
}
