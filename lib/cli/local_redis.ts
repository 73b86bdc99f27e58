/**
 * The local store: one persistent redis-server per user, used when no Redis
 * is configured and none answers on 127.0.0.1:6379. Its data (AOF, fsync
 * every second) lives in the user's data folder ({@linkcode localRedisHome});
 * it listens on 127.0.0.1 only, on a port recorded in `redis.json` there so
 * that every later command finds it. It is started detached (redis-server
 * `--daemonize yes`) so it outlives the command that started it; a lock file
 * (`redis.lock`, created atomically) makes two commands starting at once
 * share one server. `deno task redis stop` stops it.
 *
 * Why TCP on loopback rather than a unix socket: every part of the system
 * (config `redis.url`, the children of `deno task chat`, Redis Cluster
 * support, Deno's `--allow-net`) speaks `redis://host:port`; a socket would
 * need a config field of its own and read/write permissions on its path in
 * every process, and socket paths are limited to ~100 bytes.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { dataHome } from "../base/data_home.ts";
import { isListening, redisPid, shutdownRedis } from "./redis_probe.ts";
import { installIfSafe, REDIS_SERVER } from "./preflight.ts";

/** What `redis.json` in the data folder holds. */
export const LocalRedisRecord = z.object({
  port: z.number().int().min(1).max(65535),
  pid: z.number().int().positive(),
  started_at: z.string(),
});
/** The recorded address of the local store. */
export type LocalRedisRecord = z.infer<typeof LocalRedisRecord>;

/** The local store's state, as `deno task redis status` shows it. */
export interface LocalRedisStatus {
  dir: string;
  /** `redis://127.0.0.1:PORT`, when a port was ever recorded. */
  url?: string;
  port?: number;
  pid?: number;
  running: boolean;
  /** Bytes of the data files (AOF and RDB) in the folder. */
  dataBytes: number;
}

/** A running local store. */
export interface LocalRedis {
  url: string;
  port: number;
  pid: number;
  dir: string;
  /** Whether this call started it (false: it was already running). */
  started: boolean;
}

/** Options of {@linkcode ensureLocalRedis}. */
export interface EnsureLocalRedisOptions {
  /** Give up waiting for another command's start (or our own) after this long. @default 15000 */
  timeoutMs?: number;
}

const _RECORD = "redis.json";
const _LOCK = "redis.lock";
/** A lock older than this was left by a command that died while starting the server. */
const _STALE_LOCK_MS = 10_000;

/**
 * The local store's folder: the user's data folder ({@linkcode dataHome}).
 *
 * @throws {DialogueError} `usage` when none of DIALOGUE_HOME, XDG_DATA_HOME and HOME is set.
 */
export function localRedisHome(env: (name: string) => string | undefined): string {
  return dataHome(env);
}

/** The recorded address in `dir`, or `undefined` when there is none (or it is unreadable). */
export async function readLocalRedisRecord(dir: string): Promise<LocalRedisRecord | undefined> {
  try {
    const parsed = LocalRedisRecord.safeParse(
      JSON.parse(await Deno.readTextFile(join(dir, _RECORD))),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds the local store in `dir`, starting it when it is not running.
 *
 * @throws {DialogueError} `redis_unavailable` when redis-server is not on PATH or will not start.
 */
export async function ensureLocalRedis(
  dir: string,
  options: EnsureLocalRedisOptions = {},
): Promise<LocalRedis> {
  const giveUp = Date.now() + (options.timeoutMs ?? 15_000);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  while (true) {
    const running = await _running(dir);
    if (running) return { ...running, dir, started: false };
    const lock = await _tryLock(dir);
    if (lock) {
      try {
        // Another command may have finished starting it just before we locked.
        const now = await _running(dir);
        if (now) return { ...now, dir, started: false };
        return { ...await _start(dir, giveUp), dir, started: true };
      } finally {
        lock.close();
        await Deno.remove(join(dir, _LOCK)).catch(() => {});
      }
    }
    if (Date.now() > giveUp) {
      throw new DialogueError(
        ErrorCode.RedisUnavailable,
        `Cannot start the local Redis in ${dir} as another command holds ${
          join(dir, _LOCK)
        }: wait and retry, or remove that file if no command is running`,
      );
    }
    // Another command is starting it: its record appears in a moment.
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The local store's folder, address, pid, whether it runs, and its data size. */
export async function localRedisStatus(dir: string): Promise<LocalRedisStatus> {
  const record = await readLocalRedisRecord(dir);
  const running = record !== undefined && (await redisPid(record.port)) === record.pid;
  return {
    dir,
    ...(record ? { url: `redis://127.0.0.1:${record.port}`, port: record.port } : {}),
    ...(record && running ? { pid: record.pid } : {}),
    running,
    dataBytes: await _dataBytes(dir),
  };
}

/**
 * Stops the local store in `dir` (it writes its AOF first); the record is
 * kept, so the next start reuses the port when it is free.
 *
 * @returns whether it was running.
 * @throws {DialogueError} `redis_unavailable` when it does not stop within 10 s.
 */
export async function stopLocalRedis(dir: string): Promise<boolean> {
  const running = await _running(dir);
  if (!running) return false;
  if (!(await shutdownRedis(running.port))) {
    throw new DialogueError(
      ErrorCode.RedisUnavailable,
      `Cannot stop the local Redis (pid ${running.pid}, port ${running.port}) as it still answers after 10 s: kill ${running.pid}`,
    );
  }
  return true;
}

/** The recorded server, when it is the one answering on its port. */
async function _running(
  dir: string,
): Promise<{ url: string; port: number; pid: number } | undefined> {
  const record = await readLocalRedisRecord(dir);
  if (!record) return undefined;
  if ((await redisPid(record.port)) !== record.pid) return undefined;
  return { url: `redis://127.0.0.1:${record.port}`, port: record.port, pid: record.pid };
}

/** The lock file, created atomically; `undefined` when another command holds it. */
async function _tryLock(dir: string): Promise<Deno.FsFile | undefined> {
  const path = join(dir, _LOCK);
  try {
    const file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    return file;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    const stat = await Deno.stat(path).catch(() => undefined);
    if (stat?.mtime && Date.now() - stat.mtime.getTime() > _STALE_LOCK_MS) {
      await Deno.remove(path).catch(() => {});
    }
    return undefined;
  }
}

/** Starts redis-server detached on the recorded port (if free) or a free one; records it. */
async function _start(
  dir: string,
  giveUp: number,
  installed = false,
): Promise<{ url: string; port: number; pid: number }> {
  const previous = await readLocalRedisRecord(dir);
  const port = previous && !(await isListening("127.0.0.1", previous.port, 200))
    ? previous.port
    : _freePort();
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--daemonize",
        "yes",
        "--pidfile",
        join(dir, "redis.pid"),
        "--logfile",
        join(dir, "redis.log"),
      ],
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn().status;
  } catch (error) {
    // NotCapable: --allow-run=redis-server found no such program on PATH at startup.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      // As root with apt-get, or with brew, install it and start it (lib/cli/preflight.ts).
      const installStarted = Date.now();
      if (!installed && await installIfSafe("chat", REDIS_SERVER)) {
        return await _start(dir, giveUp + Date.now() - installStarted, true);
      }
      throw new DialogueError(
        ErrorCode.RedisUnavailable,
        "No Redis is configured, none answers on 127.0.0.1:6379, and redis-server is not on PATH: install Redis (apt-get install redis-server, brew install redis) or set REDIS_URL",
      );
    }
    throw error;
  }
  const logHint = `see ${join(dir, "redis.log")}, or set REDIS_URL`;
  if (!status.success) {
    throw new DialogueError(
      ErrorCode.RedisUnavailable,
      `Cannot start the local Redis in ${dir} as redis-server exited with code ${status.code}: ${logHint}`,
    );
  }
  let pid: number | undefined;
  while ((pid = await redisPid(port, 200)) === undefined) {
    if (Date.now() > giveUp) {
      throw new DialogueError(
        ErrorCode.RedisUnavailable,
        `Cannot start the local Redis in ${dir} as it does not answer on port ${port}: ${logHint}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const record: LocalRedisRecord = { port, pid, started_at: new Date().toISOString() };
  // Written whole, then renamed: a reader never sees half a record.
  const tmp = join(dir, `${_RECORD}.${Deno.pid}.tmp`);
  await Deno.writeTextFile(tmp, JSON.stringify(record) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, join(dir, _RECORD));
  return { url: `redis://127.0.0.1:${port}`, port, pid };
}

async function _dataBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (path: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = join(path, entry.name);
      if (entry.isDirectory) await walk(full);
      else if (entry.isFile && /\.(aof|rdb)$|\.manifest$/.test(entry.name)) {
        total += (await Deno.stat(full)).size;
      }
    }
  };
  await walk(dir).catch(() => {});
  return total;
}

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
