/**
 * StreamQueue against a private redis-server: consumer groups, acknowledgement,
 * dead-lettering, redelivery after a restart and idempotent appends.
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { consumerName, conversationKeys, newConversationId } from "../../lib/bus/keys.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { decodeEntry, encodeEntry, readWholeStream } from "../../lib/bus/stream_entry.ts";
import { StreamQueue, type StreamQueueOptions } from "../../lib/bus/stream_queue.ts";

const GROUP = "agents";

interface Rig {
  redis: Redis;
  /** A queue with consumer `c1` on its own pair of connections. */
  queue(consumer?: string, options?: Partial<StreamQueueOptions>): Promise<StreamQueue>;
  id: string;
  keys: ReturnType<typeof conversationKeys>;
}

/** Runs `fn` against a fresh redis-server; closes every client and the server afterwards. */
async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const server = await RedisServer.start();
  const config = { ...parseConfig({}).redis, url: server.url };
  const clients: Redis[] = [];
  try {
    const redis = await connectRedis(config, { name: "test" });
    clients.push(redis);
    const id = newConversationId();
    const keys = conversationKeys(id);
    await fn({
      redis,
      id,
      keys,
      async queue(consumer = "c1", options = {}) {
        const own = await connectRedis(config, { name: `${consumer}` });
        clients.push(own);
        const blocking = await connectRedis(config, { name: `${consumer}-read`, blocking: true });
        clients.push(blocking);
        return new StreamQueue(own, blocking, {
          group: GROUP,
          consumer,
          deadLetter: keys.deadLetter,
          blockMs: 50,
          ...options,
        });
      },
    });
  } finally {
    await closeRedis(...clients.reverse());
    await server.stop();
  }
}

function message(conversationId: string, seq: number, content = `turn ${seq}`): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000 + seq,
    message_id: `${conversationId}-m${seq}`,
    role: "user",
    content,
    metadata: { conversation_id: conversationId, sequence_number: seq, agent_id: 1 },
  });
}

/** Number of entries of `stream` the group has delivered but not acknowledged. */
async function pendingCount(redis: Redis, stream: string): Promise<number> {
  const summary = await redis.xpending(stream, GROUP) as [number, ...unknown[]];
  return Number(summary[0]);
}

Deno.test("encodeEntry() and decodeEntry() round-trip a message, filling its defaults", () => {
  const m = message("c-enc", 3);
  const fields = encodeEntry(m);
  assert.deepEqual(fields.slice(0, 4), ["seq", "3", "role", "user"]);
  assert.deepEqual(decodeEntry(fields), m);
});

Deno.test("decodeEntry() gives a reason for each kind of invalid entry", () => {
  assert.throws(() => decodeEntry(["seq", "1"]), /no 'data' field/);
  assert.throws(() => decodeEntry(["data", "{oops"]), /'data' is not JSON/);
  const wrong = {
    ...message("c-dec", 1),
    metadata: { conversation_id: "c", sequence_number: "1" },
  };
  assert.throws(() => decodeEntry(["data", JSON.stringify(wrong)]), /metadata\.sequence_number/);
  // A value that happens to be "data" is not mistaken for the field name.
  assert.throws(() => decodeEntry(["seq", "data"]), /no 'data' field/);
});

Deno.test("StreamQueue.add() rejects an invalid message without writing it", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const q = await queue();
    const bad = { ...message(id, 1), role: "narrator" } as unknown as DialogMessage;
    await assert.rejects(() => q.add(keys.requests(1), bad));
    assert.equal(await redis.xlen(keys.requests(1)), 0);
  });
});

Deno.test("StreamQueue.read() returns an added message through the consumer group", async () => {
  await withRig(async ({ id, keys, queue }) => {
    const q = await queue();
    const stream = keys.requests(1);
    await q.ensureGroup([stream]);
    const m = message(id, 1);
    const entryId = await q.add(stream, m);
    assert.match(entryId, /^\d+-\d+$/);
    assert.deepEqual(await q.read([stream]), [{ stream, id: entryId, message: m }]);
  });
});

Deno.test("StreamQueue.ensureGroup() can run twice and creates the stream", async () => {
  await withRig(async ({ redis, keys, queue }) => {
    const q = await queue();
    await q.ensureGroup([keys.requests(1)]);
    await q.ensureGroup([keys.requests(1)]);
    assert.equal(await redis.exists(keys.requests(1)), 1);
    const groups = await redis.xinfo("GROUPS", keys.requests(1)) as unknown[][];
    assert.equal(groups.length, 1);
  });
});

Deno.test("StreamQueue.read() waits on the blocking connection for an entry added later", async () => {
  await withRig(async ({ id, keys, queue }) => {
    const reader = await queue("reader");
    const writer = await queue("writer");
    const stream = keys.requests(2);
    await reader.ensureGroup([stream]);
    const started = Date.now();
    const read = reader.read([stream], { blockMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    const entryId = await writer.add(stream, message(id, 2));
    const entries = await read;
    assert.deepEqual(entries.map((e) => e.id), [entryId]);
    assert.ok(Date.now() - started < 4000, "the read returned when the entry arrived");
  });
});

Deno.test("StreamQueue.read() returns nothing once blockMs passes without entries", async () => {
  await withRig(async ({ keys, queue }) => {
    const q = await queue();
    await q.ensureGroup([keys.requests(1)]);
    assert.deepEqual(await q.read([keys.requests(1)], { blockMs: 30 }), []);
  });
});

Deno.test("StreamQueue.ack() keeps the entry in the stream but clears it from pending", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const q = await queue();
    const stream = keys.requests(1);
    await q.ensureGroup([stream]);
    await q.add(stream, message(id, 1));
    const [entry] = await q.read([stream]);
    assert.ok(entry);
    assert.equal(await pendingCount(redis, stream), 1);
    await q.ack(entry);
    assert.equal(await pendingCount(redis, stream), 0);
    assert.equal(await redis.xlen(stream), 1, "the stream is the log: nothing is deleted");
    assert.deepEqual((await readWholeStream(redis, stream)).map((e) => e.id), [entry.id]);
  });
});

Deno.test("StreamQueue.read() moves invalid entries to the dead-letter stream and acknowledges them", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const q = await queue();
    const stream = keys.requests(1);
    await q.ensureGroup([stream]);
    const wrongTypes = JSON.stringify({
      ...message(id, 2),
      metadata: { conversation_id: id, sequence_number: "two" },
    });
    const badJson = await redis.xadd(stream, "*", "seq", "1", "data", "{not json");
    const badTypes = await redis.xadd(stream, "*", "seq", "2", "data", wrongTypes);
    const noData = await redis.xadd(stream, "*", "seq", "3", "role", "user");
    const goodId = await q.add(stream, message(id, 4));

    const entries = await q.read([stream]);
    assert.deepEqual(entries.map((e) => e.id), [goodId]);

    const dead = await redis.xrange(keys.deadLetter, "-", "+");
    const rows = dead.map(([, fields]) => {
      const row: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) row[fields[i]!] = fields[i + 1]!;
      return row;
    });
    assert.deepEqual(rows.map((r) => r.source_id), [badJson, badTypes, noData]);
    for (const row of rows) assert.equal(row.source, stream);
    assert.match(rows[0]!.reason!, /'data' is not JSON/);
    assert.match(rows[1]!.reason!, /metadata\.sequence_number/);
    assert.match(rows[2]!.reason!, /no 'data' field/);
    assert.ok(rows[0]!.raw!.includes("{not json"), "the raw entry is kept for inspection");

    const pending = await redis.xpending(stream, GROUP, "-", "+", 10) as [string, ...unknown[]][];
    assert.deepEqual(
      pending.map(([entryId]) => entryId),
      [goodId],
      "only the valid entry is pending",
    );
    assert.equal(await redis.xlen(stream), 4, "invalid entries stay in the log");
  });
});

Deno.test("StreamQueue.read() keeps returning valid entries that follow an invalid one", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const q = await queue();
    const stream = keys.requests(1);
    await q.ensureGroup([stream]);
    await redis.xadd(stream, "*", "data", "[]");
    const first = await q.add(stream, message(id, 1));
    await redis.xadd(stream, "*", "data", "null");
    const second = await q.add(stream, message(id, 2));

    const seen: string[] = [];
    for (let i = 0; i < 6 && seen.length < 2; i++) {
      for (const entry of await q.read([stream], { count: 1 })) {
        seen.push(entry.id);
        await q.ack(entry);
      }
    }
    assert.deepEqual(seen, [first, second]);
    assert.equal(await redis.xlen(keys.deadLetter), 2);
    assert.equal(await pendingCount(redis, stream), 0);
  });
});

Deno.test("StreamQueue.read() delivers unacknowledged entries again after a restart", async () => {
  await withRig(async ({ id, keys, queue }) => {
    const stream = keys.requests(1);
    const before = await queue("agent-1-host-1");
    await before.ensureGroup([stream]);
    const firstId = await before.add(stream, message(id, 1));
    const secondId = await before.add(stream, message(id, 2));
    assert.deepEqual((await before.read([stream])).map((e) => e.id), [firstId, secondId]);
    // Not acknowledged: the same process does not see them twice…
    assert.deepEqual(await before.read([stream], { blockMs: 20 }), []);

    // …but a new process with the same consumer name gets them back first.
    const after = await queue("agent-1-host-1");
    const thirdId = await after.add(stream, message(id, 3));
    const redelivered = await after.read([stream]);
    assert.deepEqual(redelivered.map((e) => e.id), [firstId, secondId]);
    assert.deepEqual(redelivered[0]!.message, message(id, 1));
    for (const entry of redelivered) await after.ack(entry);
    assert.deepEqual((await after.read([stream])).map((e) => e.id), [thirdId]);
  });
});

Deno.test("StreamQueue.read() redelivers after a restart only what was not acknowledged", async () => {
  await withRig(async ({ id, keys, queue }) => {
    const stream = keys.requests(1);
    const before = await queue("manager-1");
    await before.ensureGroup([stream]);
    await before.add(stream, message(id, 1));
    const unacked = await before.add(stream, message(id, 2));
    const [first] = await before.read([stream], { count: 1 });
    await before.ack(first!);
    await before.read([stream], { count: 1 });

    const after = await queue("manager-1");
    assert.deepEqual((await after.read([stream])).map((e) => e.id), [unacked]);
  });
});

Deno.test("StreamQueue.read() in a restarted process gets what its long-gone predecessor left pending", async () => {
  // Real processes name their consumer with consumerName(), which differs per
  // process: the restarted agent is a new consumer of the same group.
  await withRig(async ({ redis, id, keys, queue }) => {
    const stream = keys.requests(1);
    const oldName = consumerName("agent-1");
    const before = await queue(oldName);
    await before.ensureGroup([stream]);
    const entryId = await before.add(stream, message(id, 1));
    assert.deepEqual((await before.read([stream])).map((e) => e.id), [entryId]);
    // The process died ten minutes ago without acknowledging the entry.
    await redis.xclaim(stream, GROUP, oldName, 0, entryId, "IDLE", 600_000, "JUSTID");

    const after = await queue(consumerName("agent-1"));
    const entries = await after.read([stream]);
    assert.deepEqual(entries.map((e) => e.id), [entryId]);
  });
});

Deno.test("StreamQueue.addOnce() writes one entry per marker and returns the first id", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const q = await queue();
    const stream = keys.responses(1);
    const marker = { key: keys.answered, field: "1" };
    const first = await q.addOnce(stream, message(id, 1, "first answer"), marker);
    const second = await q.addOnce(stream, message(id, 1, "second answer"), marker);
    assert.equal(first.duplicate, false);
    assert.deepEqual(second, { id: first.id, duplicate: true });
    assert.equal(await redis.xlen(stream), 1);
    assert.equal(await redis.hget(keys.answered, "1"), first.id);
    const [entry] = await readWholeStream(redis, stream);
    assert.equal(entry!.message.content, "first answer");

    const other = await q.addOnce(stream, message(id, 2), { key: keys.answered, field: "2" });
    assert.equal(other.duplicate, false);
    assert.notEqual(other.id, first.id);
    assert.equal(await redis.xlen(stream), 2);
  });
});

Deno.test("StreamQueue.addOnce() from two processes racing on one marker writes one entry", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const a = await queue("a");
    const b = await queue("b");
    const stream = keys.requests(1);
    const marker = { key: keys.routed, field: "5" };
    const results = await Promise.all([
      a.addOnce(stream, message(id, 5, "from a"), marker),
      b.addOnce(stream, message(id, 5, "from b"), marker),
    ]);
    assert.equal(await redis.xlen(stream), 1);
    assert.equal(results[0].id, results[1].id);
  });
});

Deno.test("StreamQueue consumers in one group split the entries without duplicates", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const stream = keys.requests(1);
    const one = await queue("consumer-one");
    const two = await queue("consumer-two");
    await one.ensureGroup([stream]);
    const added: string[] = [];
    for (let seq = 1; seq <= 6; seq++) added.push(await one.add(stream, message(id, seq)));

    const gotOne = (await one.read([stream], { count: 3 })).map((e) => e.id);
    const gotTwo = (await two.read([stream], { count: 10 })).map((e) => e.id);
    assert.equal(gotOne.length, 3);
    assert.equal(gotTwo.length, 3);
    assert.deepEqual(gotOne.filter((entryId) => gotTwo.includes(entryId)), []);
    assert.deepEqual([...gotOne, ...gotTwo].sort(), [...added].sort());

    const consumers = await redis.xpending(stream, GROUP) as [number, string, string, [
      string,
      string,
    ][]];
    assert.deepEqual(
      Object.fromEntries(consumers[3]),
      { "consumer-one": "3", "consumer-two": "3" },
    );
    assert.deepEqual(await one.read([stream], { blockMs: 20 }), []);
    assert.deepEqual(await two.read([stream], { blockMs: 20 }), []);
  });
});

Deno.test("StreamQueue.read() serves several streams in one call", async () => {
  await withRig(async ({ id, keys, queue }) => {
    const q = await queue("manager");
    const streams = [keys.responses(1), keys.responses(2)];
    await q.ensureGroup(streams);
    const a = await q.add(streams[0]!, message(id, 1));
    const b = await q.add(streams[1]!, message(id, 2));
    const entries = await q.read(streams);
    assert.deepEqual(
      entries.map((e) => [e.stream, e.id]).sort(),
      [[streams[0], a], [streams[1], b]].sort(),
    );
  });
});

/** How many times the server ran `command` so far. */
async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info("commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

Deno.test("StreamQueue.read() looks for abandoned entries on a timer, not before every read", async () => {
  await withRig(async ({ redis, id, keys, queue }) => {
    const stream = keys.requests(1);
    const q = await queue("agent-1", { claimIdleMs: 60_000, claimEveryMs: 60_000 });
    await q.ensureGroup([stream]);
    for (let i = 0; i < 5; i++) await q.read([stream], { blockMs: 1 });
    assert.equal(await commandCalls(redis, "xautoclaim"), 1, "one look in five reads");

    // A released entry is looked for at the next read, timer or not.
    await q.add(stream, message(id, 1));
    const [entry] = await q.read([stream], { blockMs: 1 });
    await q.release(entry!);
    assert.deepEqual((await q.read([stream], { blockMs: 1 })).map((e) => e.id), [entry!.id]);
    assert.equal(await commandCalls(redis, "xautoclaim"), 2, "a look after the release");
  });
});
