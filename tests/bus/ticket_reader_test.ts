/**
 * TicketReader against a private redis-server: bounded concurrency, a
 * restarted process taking its own tickets back, takeover from a consumer
 * whose heartbeat stopped, invalid tickets dropped, several streams read
 * without one delaying another.
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { dispatchKeys, WORKER_GROUP } from "../../lib/bus/keys.ts";
import { addAgentTicket, AgentTicket } from "../../lib/bus/dispatch.ts";
import { type HeldTicket, TicketReader } from "../../lib/bus/ticket_reader.ts";

interface Rig {
  redis: Redis;
  redisConfig: ReturnType<typeof parseConfig>["redis"];
  reader(consumer: string, streams?: string[]): TicketReader<AgentTicket>;
}

async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const server = await RedisServer.start();
  const redisConfig = { ...parseConfig({}).redis, url: server.url };
  const readers: TicketReader<AgentTicket>[] = [];
  const redis = await connectRedis(redisConfig, { name: "test" });
  try {
    await fn({
      redis,
      redisConfig,
      reader(consumer, streams = [dispatchKeys.work("m", 0)]) {
        const reader = new TicketReader(redis, {
          streams: () => streams,
          group: WORKER_GROUP,
          consumer,
          schema: AgentTicket,
          heartbeatMs: 100,
          deadAfterMs: 400,
          blockMs: 200,
          redisConfig,
        });
        readers.push(reader);
        return reader;
      },
    });
  } finally {
    for (const r of readers) await r.close();
    await closeRedis(redis);
    await server.stop();
  }
}

function ticket(seq: number, model = "m"): AgentTicket {
  return { conversation_id: `c${seq}`, agent: 1, seq: 1, request: `${seq}-0`, model };
}

async function addTickets(redis: Redis, n: number, model = "m"): Promise<void> {
  const pipe = redis.pipeline();
  for (let i = 1; i <= n; i++) addAgentTicket(pipe, ticket(i, model), { partitions: 1 });
  await pipe.exec();
}

Deno.test("TicketReader.serve() never runs more handlers than its concurrency and acks each ticket", async () => {
  await withRig(async ({ redis, reader }) => {
    await addTickets(redis, 12);
    const stop = new AbortController();
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    await reader("w1").serve(async (held) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(held.ticket.conversation_id);
      running--;
      if (seen.length === 12) stop.abort();
      return "ack";
    }, { concurrency: 3, signal: stop.signal });
    assert.equal(peak, 3);
    assert.equal(new Set(seen).size, 12);
    const [count] = await redis.xpending(dispatchKeys.work("m", 0), WORKER_GROUP) as [number];
    assert.equal(count, 0);
  });
});

Deno.test("a process restarted under the same consumer name gets its unfinished tickets back first", async () => {
  await withRig(async ({ redis, reader }) => {
    await addTickets(redis, 2);
    const stream = dispatchKeys.work("m", 0);
    // The process that died had taken ticket c1 as "w1" and never settled it.
    await redis.xgroup("CREATE", stream, WORKER_GROUP, "0", "MKSTREAM");
    await redis.xreadgroup("GROUP", WORKER_GROUP, "w1", "COUNT", 1, "STREAMS", stream, ">");
    await addTickets(redis, 1); // c1 again as a newer ticket, after c2
    const stop = new AbortController();
    const order: string[] = [];
    await reader("w1").serve((held) => {
      order.push(`${held.ticket.conversation_id}@${held.id}`);
      if (order.length === 3) stop.abort();
      return Promise.resolve("ack");
    }, { concurrency: 1, signal: stop.signal });
    const firstId = order[0]!.split("@")[1]!;
    const oldest = (await redis.xrange(stream, "-", "+", "COUNT", 1))[0]![0];
    assert.equal(firstId, oldest);
    assert.equal(order.length, 3);
  });
});

Deno.test("tickets left pending by a released handler are served again by the same process", async () => {
  await withRig(async ({ redis, reader }) => {
    await addTickets(redis, 1);
    const stop = new AbortController();
    let calls = 0;
    await reader("w1").serve(() => {
      calls++;
      if (calls === 2) stop.abort();
      return Promise.resolve(calls === 1 ? "release" : "ack");
    }, { concurrency: 1, signal: stop.signal });
    assert.equal(calls, 2);
  });
});

Deno.test("a consumer whose heartbeat stopped loses its pending tickets to a live one", async () => {
  await withRig(async ({ redis, reader }) => {
    await addTickets(redis, 3);
    const stream = dispatchKeys.work("m", 0);
    // A dead worker: read the tickets as "ghost", never ack, heartbeat long ago.
    await redis.xgroup("CREATE", stream, WORKER_GROUP, "0", "MKSTREAM");
    await redis.xreadgroup("GROUP", WORKER_GROUP, "ghost", "COUNT", 3, "STREAMS", stream, ">");
    await redis.hset(dispatchKeys.heartbeats, "ghost", String(Date.now() - 60_000));
    const stop = new AbortController();
    const got: HeldTicket<AgentTicket>[] = [];
    await reader("w2").serve((held) => {
      got.push(held);
      if (got.length === 3) stop.abort();
      return Promise.resolve("ack");
    }, { concurrency: 3, signal: stop.signal });
    assert.deepEqual(got.map((g) => g.ticket.conversation_id).sort(), ["c1", "c2", "c3"]);
  });
});

Deno.test("a consumer with a fresh heartbeat keeps its pending tickets", async () => {
  await withRig(async ({ redis, reader }) => {
    await addTickets(redis, 1);
    const stream = dispatchKeys.work("m", 0);
    await redis.xgroup("CREATE", stream, WORKER_GROUP, "0", "MKSTREAM");
    await redis.xreadgroup("GROUP", WORKER_GROUP, "alive", "COUNT", 1, "STREAMS", stream, ">");
    const beat = setInterval(() => redis.hset(dispatchKeys.heartbeats, "alive", Date.now()), 50);
    await redis.hset(dispatchKeys.heartbeats, "alive", String(Date.now()));
    const stop = new AbortController();
    let calls = 0;
    setTimeout(() => stop.abort(), 1200);
    try {
      await reader("w2").serve(() => {
        calls++;
        return Promise.resolve("ack");
      }, { concurrency: 1, signal: stop.signal });
    } finally {
      clearInterval(beat);
    }
    assert.equal(calls, 0);
  });
});

Deno.test("an invalid ticket is acknowledged and never handed to a handler", async () => {
  await withRig(async ({ redis, reader }) => {
    const stream = dispatchKeys.work("m", 0);
    await redis.xadd(stream, "*", "t", JSON.stringify({ conversation_id: "x", agent: 3 }));
    await redis.xadd(stream, "*", "junk", "1");
    await addTickets(redis, 1);
    const stop = new AbortController();
    const got: string[] = [];
    await reader("w1").serve((held) => {
      got.push(held.ticket.conversation_id);
      stop.abort();
      return Promise.resolve("ack");
    }, { concurrency: 1, signal: stop.signal });
    assert.deepEqual(got, ["c1"]);
    const [count] = await redis.xpending(stream, WORKER_GROUP) as [number];
    assert.equal(count, 0);
  });
});

Deno.test("a ticket on one of several streams is served without waiting for the others' reads", async () => {
  await withRig(async ({ redis, reader }) => {
    const streams = [dispatchKeys.work("a", 0), dispatchKeys.work("b", 0)];
    const r = reader("w1", streams);
    const stop = new AbortController();
    const served = r.serve(() => {
      stop.abort();
      return Promise.resolve("ack");
    }, { concurrency: 1, signal: stop.signal });
    // Let both blocking reads start, then send a ticket to the second stream.
    await new Promise((res) => setTimeout(res, 50));
    const sent = Date.now();
    await addTickets(redis, 1, "b");
    await served;
    // Blocking reads wait 200 ms here; a ticket is served well before one elapses twice.
    assert.ok(Date.now() - sent < 200, `served after ${Date.now() - sent} ms`);
  });
});
