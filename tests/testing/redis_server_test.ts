import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisServer } from "../../lib/testing/redis_server.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs `fn` with a connected client and always quits it. */
async function withClient<T>(
  url: string,
  fn: (client: Redis) => Promise<T>,
  password?: string,
): Promise<T> {
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    ...(password === undefined ? {} : { password }),
  });
  // Connection errors (e.g. NOAUTH on the ready check) also reject the
  // commands; without a listener ioredis prints them as unhandled.
  client.on("error", () => {});
  try {
    return await fn(client);
  } finally {
    await client.quit();
  }
}

Deno.test("RedisServer.start() runs a server on a free port that answers PING", async () => {
  const server = await RedisServer.start();
  try {
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.ok(await exists(server.dir));
    assert.equal(await withClient(server.url, (c) => c.ping()), "PONG");
  } finally {
    await server.stop();
  }
});

Deno.test("RedisServer.stop() ends the process and removes its directory", async () => {
  const server = await RedisServer.start();
  await server.stop();
  assert.equal(await exists(server.dir), false);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: server.port }),
  );
});

Deno.test("RedisServer.kill() then restart() keeps data written to the AOF", async () => {
  const server = await RedisServer.start({ args: ["--appendonly", "yes"] });
  try {
    await withClient(server.url, (c) => c.set("dialogue:test:aof", "kept"));
    await server.kill();
    assert.ok(await exists(server.dir), "kill() keeps the directory");
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    );
    await server.restart();
    assert.equal(
      await withClient(server.url, (c) => c.get("dialogue:test:aof")),
      "kept",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("RedisServer.restart() without appendonly starts empty on the same port", async () => {
  const server = await RedisServer.start();
  try {
    const port = server.port;
    await withClient(server.url, (c) => c.set("dialogue:test:volatile", "1"));
    await server.kill();
    await server.restart();
    assert.equal(server.port, port);
    assert.equal(
      await withClient(server.url, (c) => c.exists("dialogue:test:volatile")),
      0,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("RedisServer passes extra args such as requirepass to redis-server", async () => {
  const server = await RedisServer.start({ args: ["--requirepass", "pw"] });
  try {
    assert.equal(await withClient(server.url, (c) => c.ping(), "pw"), "PONG");
    await assert.rejects(
      withClient(server.url, (c) => c.get("x")),
      /NOAUTH/,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("RedisServer.start() rejects with redis-server's output when it cannot start", async () => {
  await assert.rejects(
    RedisServer.start({ args: ["--no-such-directive", "1"] }),
    (error: Error) => {
      assert.match(
        error.message,
        /^Cannot start redis-server on port \d+ as it exited with code 1/,
      );
      assert.match(error.message, /Bad directive or wrong number of arguments/);
      return true;
    },
  );
});

Deno.test("RedisServer.start() says how to install redis-server when it is not on PATH", async () => {
  const path = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", "/nonexistent");
  try {
    await assert.rejects(
      RedisServer.start(),
      new Error(
        "redis-server not found on PATH: install it (apt-get install redis-server) to run the tests",
      ),
    );
  } finally {
    Deno.env.set("PATH", path);
  }
});
