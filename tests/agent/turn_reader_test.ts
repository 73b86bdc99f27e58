/**
 * readTurn() against a real redis-server: one pipeline per turn, only the
 * last `history_messages` responses read (and only once per conversation),
 * the accepted response of each turn used even when another entry sits
 * beside it on the stream.
 */
import type { Redis } from "ioredis";
import { assertEquals } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { agentForTurn, DialogMessage } from "../../lib/model/dialog_message.ts";
import { readTurn } from "../../lib/agent/turn_reader.ts";
import { ConversationCache } from "../../lib/agent/conversation_cache.ts";
import { createRunning, requestFor } from "./pool_rig.ts";

function response(id: string, seq: number, content = `reply ${seq}`): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: "assistant",
    content,
    metadata: { conversation_id: id, sequence_number: seq, agent_id: agentForTurn(seq) },
  });
}

/** A run at turn `turns` with every response accepted, and turn `turns + 1` routed. */
async function runAt(redis: Redis, id: string, turns: number): Promise<string> {
  const keys = conversationKeys(id);
  await createRunning(redis, id, { maxTurns: 1000 });
  for (let seq = 1; seq <= turns; seq++) {
    const entry = await redis.xadd(
      keys.responses(agentForTurn(seq)),
      "*",
      ...encodeEntry(response(id, seq)),
    );
    await redis.hset(keys.answered, String(seq), entry!);
  }
  await redis.hset(keys.meta, "turns", String(turns));
  const next = turns + 1;
  const request = await redis.xadd(
    keys.requests(agentForTurn(next)),
    "*",
    ...encodeEntry(requestFor(id, next)),
  );
  await redis.hset(keys.routed, String(next), request!);
  return request!;
}

async function withRedis(fn: (redis: Redis) => Promise<void>): Promise<void> {
  const server = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
    name: "test",
  });
  try {
    await fn(redis);
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
}

Deno.test("readTurn() reads a turn in one pipeline with only the last history_messages responses", async () => {
  await withRedis(async (redis) => {
    const id = "long-run";
    const request = await runAt(redis, id, 60);
    // An injected second answer to turn 59, newest on its stream, never accepted.
    await redis.xadd(
      conversationKeys(id).responses(1),
      "*",
      ...encodeEntry(response(id, 59, "INJECTED")),
    );
    const cache = new ConversationCache({ maxMessages: 5 });
    const read = await readTurn(redis, { conversation_id: id, agent: 1, seq: 61, request }, {
      cache,
      streamSlot: 1,
    });
    assertEquals(read.facts.request.kind, "ok");
    assertEquals(read.facts.routed, request);
    assertEquals(read.facts.meta, {
      status: "running",
      deadline: read.facts.meta!.deadline,
      turns: 60,
    });
    assertEquals(read.history.map((m) => m.content), [56, 57, 58, 59, 60].map((s) => `reply ${s}`));
    assertEquals(read.roundTrips, 1);
    // XRANGE request, HMGET meta, HGET routed, HMGET answered, one XREVRANGE … COUNT per slot.
    assertEquals(read.commands, 6);
  });
});

Deno.test("readTurn() reads no history once cached, and only the turns answered elsewhere since", async () => {
  await withRedis(async (redis) => {
    const id = "cached";
    const keys = conversationKeys(id);
    let request = await runAt(redis, id, 10);
    const cache = new ConversationCache({ maxMessages: 4 });
    await readTurn(redis, { conversation_id: id, agent: 1, seq: 11, request }, {
      cache,
      streamSlot: 1,
    });
    // This process answered turn 11 itself and keeps it.
    const own = response(id, 11);
    cache.append(id, [own]);
    await redis.hset(
      keys.answered,
      "11",
      (await redis.xadd(keys.responses(1), "*", ...encodeEntry(own)))!,
    );
    request = (await redis.xadd(keys.requests(2), "*", ...encodeEntry(requestFor(id, 12))))!;
    await redis.hset(keys.routed, "12", request);
    await redis.hset(keys.meta, "turns", "11");
    const warm = await readTurn(redis, { conversation_id: id, agent: 2, seq: 12, request }, {
      cache,
      streamSlot: 2,
    });
    assertEquals(warm.commands, 4, "no history read: request, meta, routed, answered");
    assertEquals(warm.history.map((m) => m.metadata.sequence_number), [8, 9, 10, 11]);

    // Turn 12 was answered by another worker; turn 13 comes here.
    const other = await redis.xadd(keys.responses(2), "*", ...encodeEntry(response(id, 12)));
    await redis.hset(keys.answered, "12", other!);
    request = (await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 13))))!;
    await redis.hset(keys.routed, "13", request);
    const next = await readTurn(redis, { conversation_id: id, agent: 1, seq: 13, request }, {
      cache,
      streamSlot: 1,
    });
    assertEquals(next.commands, 5, "one bounded read of the other slot's stream");
    assertEquals(next.history.map((m) => m.metadata.sequence_number), [9, 10, 11, 12]);
  });
});

Deno.test("readTurn() reports a missing request entry and a missing conversation", async () => {
  await withRedis(async (redis) => {
    const cache = new ConversationCache({ maxMessages: 4 });
    await runAt(redis, "gone-entry", 0);
    const read = await readTurn(redis, {
      conversation_id: "gone-entry",
      agent: 1,
      seq: 1,
      request: "1-1",
    }, { cache, streamSlot: 1 });
    assertEquals(read.facts.request, { kind: "missing" });
    const none = await readTurn(redis, {
      conversation_id: "nope",
      agent: 1,
      seq: 1,
      request: "1-1",
    }, {
      cache,
      streamSlot: 1,
    });
    assertEquals(none.facts.meta, undefined);
  });
});
