/**
 * transitionStatus() against a real redis-server: the guarded Lua script
 * applies the state machine atomically, sets and removes fields only on a
 * legal change, and never revives an ended run.
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { transitionStatus } from "../../lib/bus/status_transition.ts";

async function withRedis(fn: (redis: Redis) => Promise<void>): Promise<void> {
  const server = await RedisServer.start();
  const redis = await connectRedis({ ...parseConfig({}).redis, url: server.url }, { name: "test" });
  try {
    await fn(redis);
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
}

async function seed(redis: Redis, id: string, status: string): Promise<void> {
  await redis.hset(conversationKeys(id).meta, { id, status, ended_at: "5", stop_reason: "x" });
}

Deno.test("transitionStatus() refuses to set a failed run back to running and changes nothing", async () => {
  await withRedis(async (redis) => {
    await seed(redis, "c1", "failed");
    const result = await transitionStatus(redis, "c1", "running", {
      set: { started_at: 1 },
      remove: ["ended_at"],
    });
    assert.deepEqual(result, { changed: false, previous: "failed" });
    const meta = await redis.hgetall(conversationKeys("c1").meta);
    assert.equal(meta.status, "failed");
    assert.equal(meta.ended_at, "5");
    assert.equal(meta.started_at, undefined);
  });
});

Deno.test("transitionStatus() refuses every illegal move out of completed", async () => {
  await withRedis(async (redis) => {
    await seed(redis, "c1", "completed");
    for (const to of ["pending", "running", "failed", "interrupted"] as const) {
      assert.equal((await transitionStatus(redis, "c1", to)).changed, false, to);
    }
    assert.equal(await redis.hget(conversationKeys("c1").meta, "status"), "completed");
  });
});

Deno.test("transitionStatus() resumes an interrupted run: fields removed and set in the same step", async () => {
  await withRedis(async (redis) => {
    await seed(redis, "c1", "interrupted");
    const result = await transitionStatus(redis, "c1", "running", {
      set: { resumed_at: 42, paused_ms: 7 },
      remove: ["ended_at", "stop_reason"],
    });
    assert.deepEqual(result, { changed: true, previous: "interrupted" });
    const meta = await redis.hgetall(conversationKeys("c1").meta);
    assert.equal(meta.status, "running");
    assert.equal(meta.resumed_at, "42");
    assert.equal(meta.paused_ms, "7");
    assert.equal(meta.ended_at, undefined);
    assert.equal(meta.stop_reason, undefined);
  });
});

Deno.test("transitionStatus() on an unknown conversation changes nothing and creates no key", async () => {
  await withRedis(async (redis) => {
    assert.deepEqual(await transitionStatus(redis, "nope", "running"), {
      changed: false,
      previous: "",
    });
    assert.equal(await redis.exists(conversationKeys("nope").meta), 0);
  });
});

Deno.test("two processes racing to end a run: exactly one transition wins", async () => {
  await withRedis(async (redis) => {
    await seed(redis, "c1", "running");
    const results = await Promise.all([
      transitionStatus(redis, "c1", "completed", { set: { stop_reason: "max_turns" } }),
      transitionStatus(redis, "c1", "interrupted", { set: { stop_reason: "interrupted" } }),
      transitionStatus(redis, "c1", "failed", { set: { stop_reason: "error" } }),
    ]);
    assert.equal(results.filter((r) => r.changed).length, 1);
    const meta = await redis.hgetall(conversationKeys("c1").meta);
    const winner = ["completed", "interrupted", "failed"][results.findIndex((r) => r.changed)];
    assert.equal(meta.status, winner);
  });
});
