/**
 * LiveBatcher against a real redis-server: tokens coalesced into few
 * writes, in order, never awaited, and capped per turn.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { LiveEvent } from "../../lib/model/live_event.ts";
import { LiveBatcher } from "../../lib/agent/live_batcher.ts";

async function withRedis(fn: (redis: Redis, reader: Redis) => Promise<void>): Promise<void> {
  const server = await RedisServer.start();
  const config = parseConfig({ redis: { url: server.url } }).redis;
  const redis = await connectRedis(config, { name: "test" });
  const reader = await connectRedis(config, { name: "reader", blocking: true });
  try {
    await fn(redis, reader);
  } finally {
    await closeRedis(reader, redis);
    await server.stop();
  }
}

async function events(redis: Redis, id: string): Promise<LiveEvent[]> {
  return (await redis.xrange(conversationKeys(id).live, "-", "+")).map(([, f]) =>
    LiveEvent.parse(JSON.parse(f[1]!))
  );
}

Deno.test("LiveBatcher coalesces a burst of tokens into one write between the turn's events, in order", async () => {
  await withRedis(async (redis) => {
    const live = new LiveBatcher(redis, "c1", { seq: 1, agent: 1 });
    live.event({ type: "turn_start", seq: 1, agent: 1, model: "m", at: 0 });
    const words = Array.from({ length: 1000 }, (_, i) => `w${i} `);
    for (const word of words) live.token(word);
    live.end({ type: "turn_end", seq: 1, agent: 1, message_id: "r1" });
    // Nothing was awaited: a command sent after the batcher's writes sees them all.
    await redis.ping();
    const got = await events(redis, "c1");
    assertEquals(got[0]?.type, "turn_start");
    assertEquals(got.at(-1)?.type, "turn_end");
    const tokens = got.filter((e) => e.type === "token");
    assertEquals(tokens.map((e) => e.type === "token" ? e.text : "").join(""), words.join(""));
    assertEquals(tokens.length, 2, "one event per 4000 characters");
    assert(tokens.every((e) => e.type === "token" && e.text.length <= 4000));
    assertEquals(live.writes, 3, "the start, one full batch, the rest with the end");
  });
});

Deno.test("LiveBatcher writes tokens that wait longer than flushMs without waiting for more", async () => {
  await withRedis(async (redis, reader) => {
    const live = new LiveBatcher(redis, "c2", { seq: 2, agent: 2 }, { flushMs: 10 });
    live.token("Hello");
    const reply = await reader.xread("BLOCK", 2000, "STREAMS", conversationKeys("c2").live, "0");
    const [, fields] = reply![0]![1][0]!;
    assertEquals(JSON.parse(fields[1]!), { type: "token", seq: 2, agent: 2, text: "Hello" });
  });
});

Deno.test("LiveBatcher stops publishing a turn's tokens past its byte cap and says so once", async () => {
  await withRedis(async (redis) => {
    const live = new LiveBatcher(redis, "c3", { seq: 1, agent: 1 }, { maxTurnBytes: 1000 });
    for (let i = 0; i < 100; i++) live.token("0123456789é"); // 12 bytes each
    live.end({ type: "turn_end", seq: 1, agent: 1, message_id: "r1" });
    await redis.ping();
    const got = await events(redis, "c3");
    const text = got.map((e) => e.type === "token" ? e.text : "").join("");
    assertEquals(new TextEncoder().encode(text).length, 996, "whole tokens up to the cap");
    const notices = got.filter((e) => e.type === "notice");
    assertEquals(notices.length, 1);
    assertStringIncludes(notices[0]!.type === "notice" ? notices[0]!.text : "", "1000 bytes");
    assert(live.capped);
    assertEquals(got.at(-1)?.type, "turn_end", "the turn still ends on the live stream");
  });
});
