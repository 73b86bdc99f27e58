/**
 * `deno task redis [status|start|stop]`: the local Redis every command uses
 * when none is configured — where it keeps its data, its address and pid,
 * whether it runs, and starting or stopping it.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import {
  ensureLocalRedis,
  localRedisHome,
  localRedisStatus,
  stopLocalRedis,
} from "./lib/cli/local_redis.ts";
import { formatLocalRedisStatus } from "./lib/cli/local_redis_status.ts";

const ACTIONS = ["status", "start", "stop"] as const;

/** `deno task redis`: flags, help and what it does. */
export const REDIS_COMMAND = defineCommand({
  name: "redis",
  usage: ["deno task redis [status | start | stop]"],
  summary: `The local Redis: the redis-server every command starts and uses when no Redis
is configured (REDIS_URL, --redis-url, config redis.url) and none answers on
127.0.0.1:6379. Its data (AOF) is kept in $DIALOGUE_HOME, else
$XDG_DATA_HOME/dialogue-llm, else ~/.local/share/dialogue-llm; it listens on
127.0.0.1 only and keeps running after the command that started it.
  status  folder, address, pid, running or not, size of the data (default)
  start   start it now (any command does so when it needs it)
  stop    stop it (its data stays; the next command starts it again)`,
  positionals: { name: "ACTION", help: "status, start or stop [status]" },
  flags: {},
  configFlags: [],
  async run({ positionals }) {
    if (positionals.length > 1) {
      throw usageError(`Expected one action, got ${positionals.length}: ${positionals.join(" ")}`);
    }
    const action = positionals[0] ?? "status";
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw usageError(
        `Unknown action ${
          JSON.stringify(action)
        }: expected status, start or stop (see 'deno task redis --help')`,
      );
    }
    const dir = localRedisHome((name) => Deno.env.get(name));
    if (action === "start") {
      const local = await ensureLocalRedis(dir);
      console.log(
        `${
          local.started ? "Started" : "Already running:"
        } ${local.url} (pid ${local.pid}), data in ${dir}`,
      );
    } else if (action === "stop") {
      const stopped = await stopLocalRedis(dir);
      console.log(
        stopped ? `Stopped the local Redis in ${dir}` : `The local Redis in ${dir} is not running`,
      );
    } else {
      console.log(formatLocalRedisStatus(await localRedisStatus(dir)));
    }
    return 0;
  },
});

/** `deno task redis --help`. */
export const REDIS_HELP = helpText(REDIS_COMMAND);

if (import.meta.main) await runCommand(REDIS_COMMAND);
