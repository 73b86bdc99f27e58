/**
 * A private redis-server for one `deno task chat` run when no Redis is
 * configured and none answers on the default port: started in a temporary
 * folder on a free port, stopped (and its folder removed) at the end.
 *
 * @module
 */
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";

/** A running private redis-server. */
export interface EmbeddedRedis {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** Whether something accepts TCP connections at host:port (within `timeoutMs`). */
export async function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname: host, port }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      }),
    ]);
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts redis-server from PATH.
 *
 * @throws {DialogueError} `redis_unavailable` when there is no redis-server or it will not start.
 */
export async function startEmbeddedRedis(): Promise<EmbeddedRedis> {
  const port = _freePort();
  const dir = await Deno.makeTempDir({ prefix: "dialogue-redis-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
      ],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (error instanceof Deno.errors.NotFound) {
      throw new DialogueError(
        ErrorCode.RedisUnavailable,
        "No Redis is configured, none answers on 127.0.0.1:6379, and redis-server is not on PATH: install Redis (apt-get install redis-server, brew install redis) or set REDIS_URL",
      );
    }
    throw error;
  }
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const giveUp = Date.now() + 5000;
  while (!(await isListening("127.0.0.1", port, 200))) {
    if (Date.now() > giveUp) {
      await stop();
      throw new DialogueError(
        ErrorCode.RedisUnavailable,
        `The private redis-server on port ${port} did not start within 5 s: start Redis yourself and set REDIS_URL`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop };
}

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
