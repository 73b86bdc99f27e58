/**
 * The private redis-server `deno task chat` starts when no Redis is
 * configured or running: it answers, stops cleanly, leaves no folder behind,
 * and says how to get Redis when redis-server is missing.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../helpers/assert.ts";
import { isListening, startEmbeddedRedis } from "../../lib/cli/embedded_redis.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs `fn` with environment variables set, restoring the old values afterwards. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  for (const [name, value] of Object.entries(vars)) Deno.env.set(name, value);
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

Deno.test("startEmbeddedRedis() starts a redis-server on 127.0.0.1 that answers PING", async () => {
  const embedded = await startEmbeddedRedis();
  try {
    assertEquals(embedded.url, `redis://127.0.0.1:${embedded.port}`);
    assert(await exists(embedded.dir), "its working folder exists while it runs");
    const redis = await connectRedis(parseConfig({ redis: { url: embedded.url } }).redis, {
      name: "embedded-test",
    });
    try {
      assertEquals(await redis.ping(), "PONG");
      // Nothing is persisted: a private server for one run.
      assertEquals(await redis.config("GET", "save"), ["save", ""]);
      assertEquals(await redis.config("GET", "appendonly"), ["appendonly", "no"]);
    } finally {
      await closeRedis(redis);
    }
  } finally {
    await embedded.stop();
  }
});

Deno.test("EmbeddedRedis.stop() ends the server and removes its folder", async () => {
  const embedded = await startEmbeddedRedis();
  assert(await isListening("127.0.0.1", embedded.port), "listening after start");
  await embedded.stop();
  assertEquals(await isListening("127.0.0.1", embedded.port), false, "not listening after stop");
  assertEquals(await exists(embedded.dir), false, "its folder is removed");
});

Deno.test("isListening() is true for an open port and false for a closed one", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch {
      // Listener closed.
    }
  })();
  try {
    assertEquals(await isListening("127.0.0.1", port), true);
  } finally {
    listener.close();
    await accepting;
  }
  assertEquals(await isListening("127.0.0.1", port), false);
});

Deno.test("without redis-server on PATH the error says to install Redis or set REDIS_URL", async () => {
  const emptyPath = await Deno.makeTempDir({ prefix: "dialogue_empty_path_" });
  // A private TMPDIR shows whether the server's folder is cleaned up on failure.
  const tmp = await Deno.makeTempDir({ prefix: "dialogue_tmp_" });
  try {
    const error = await withEnv(
      { PATH: emptyPath, TMPDIR: tmp },
      () => assertRejects(() => startEmbeddedRedis()),
    );
    assert(error instanceof DialogueError, `a DialogueError, got ${String(error)}`);
    assertEquals(error.code, ErrorCode.RedisUnavailable);
    assertStringIncludes(error.message, "redis-server");
    assertStringIncludes(error.message, "apt-get");
    assertStringIncludes(error.message, "REDIS_URL");
    assertEquals([...Deno.readDirSync(tmp)], [], "no folder left behind");
  } finally {
    await Deno.remove(emptyPath, { recursive: true });
    await Deno.remove(tmp, { recursive: true });
  }
});
