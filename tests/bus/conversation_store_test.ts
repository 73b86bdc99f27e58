/**
 * ConversationStore against a private redis-server: metadata, the index,
 * finishing once, reading transcripts back, queue figures, delete and expiry.
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { redactConfig } from "../../lib/config/redaction.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore, waitForActiveConversation } from "../../lib/bus/conversation_store.ts";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { agentForTurn, type AgentId, DialogMessage } from "../../lib/model/dialog_message.ts";
import { runScript } from "../../lib/bus/scripts.ts";
import { analyzeRun } from "../../lib/analysis/run_analysis.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import {
  AGENT_GROUP,
  conversationIndexKey,
  conversationKeys,
  MANAGER_GROUP,
  newConversationId,
} from "../../lib/bus/keys.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { StreamQueue } from "../../lib/bus/stream_queue.ts";
import { publishLive } from "../../lib/bus/live_feed.ts";
import type { Scenario } from "../../lib/model/story.ts";

const SCENARIO: Scenario = {
  story: {
    setting: "A greenhouse on Mars.",
    characters: ["Ada", "Bo"],
    initial_situation: "The oxygen alarm goes off.",
  },
  personas: [
    {
      name: "Ada",
      background: "Botanist.",
      personality: "Methodical.",
      speaking_style: "Precise.",
      goal: "Save the plants.",
    },
    {
      name: "Bo",
      background: "Pilot.",
      personality: "Impulsive.",
      speaking_style: "Slangy.",
      goal: "Leave now.",
    },
  ],
};

interface Rig {
  redis: Redis;
  store: ConversationStore;
  /** Opens another client, closed with the rest. */
  connect(name: string, blocking?: boolean): Promise<Redis>;
}

async function withStore(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const server = await RedisServer.start();
  const config = { ...parseConfig({}).redis, url: server.url };
  const clients: Redis[] = [];
  const connect = async (name: string, blocking = false) => {
    const client = await connectRedis(config, { name, blocking });
    clients.push(client);
    return client;
  };
  try {
    const redis = await connect("test");
    await fn({ redis, store: new ConversationStore(redis), connect });
  } finally {
    await closeRedis(...clients.reverse());
    await server.stop();
  }
}

function meta(fields: Partial<ConversationMeta> = {}): ConversationMeta {
  return ConversationMeta.parse({
    id: newConversationId(),
    status: "pending",
    created_at: Date.now(),
    max_turns: 12,
    duration_seconds: 90.5,
    models: { manager: "boss", agent1: "one", agent2: "two" },
    config: redactConfig(parseConfig({ conversation: { max_turns: 12 } })),
    ...fields,
  });
}

function response(
  id: string,
  seq: number,
  agent: AgentId,
  content = `reply ${seq}`,
): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000 + seq,
    message_id: `${id}-r${seq}-${crypto.randomUUID().slice(0, 4)}`,
    role: "assistant",
    content,
    metadata: {
      conversation_id: id,
      sequence_number: seq,
      agent_id: agent,
      tokens_generated: 10 * seq,
      generation_time_ms: 12.5,
    },
  });
}

function request(
  id: string,
  seq: number,
  agent: AgentId,
  content = `your turn ${seq}`,
): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000 + seq,
    message_id: `${id}-q${seq}-${crypto.randomUUID().slice(0, 4)}`,
    role: "user",
    content,
    metadata: { conversation_id: id, sequence_number: seq, agent_id: agent },
  });
}

async function add(redis: Redis, stream: string, message: DialogMessage): Promise<void> {
  await redis.xadd(stream, "*", ...encodeEntry(message));
}

/** Keys in Redis that belong to conversation `id`. */
async function keysOf(redis: Redis, id: string): Promise<string[]> {
  return (await redis.keys("dialogue:*")).filter((key) => key.includes(`{${id}}`)).sort();
}

/** Writes something to every key a conversation uses, the way the real roles do. */
async function populate(rig: Rig, id: string): Promise<void> {
  const { redis, store } = rig;
  const keys = conversationKeys(id);
  await store.create(meta({ id }));
  const blocking = await rig.connect(`blocking-${id}`, true);
  const queue = new StreamQueue(redis, blocking, {
    group: AGENT_GROUP,
    consumer: "populate",
    deadLetter: keys.deadLetter,
    blockMs: 20,
  });
  await queue.ensureGroup([keys.requests(1), keys.requests(2)]);
  await queue.addOnce(keys.requests(1), request(id, 1, 1), { key: keys.routed, field: "1" });
  await queue.add(keys.requests(2), request(id, 2, 2));
  await queue.addOnce(keys.responses(1), response(id, 1, 1), { key: keys.answered, field: "1" });
  await add(redis, keys.responses(2), response(id, 2, 2));
  await redis.xadd(keys.requests(2), "*", "data", "not json");
  await queue.read([keys.requests(2)]);
  await publishLive(redis, id, { type: "token", seq: 1, agent: 1, text: "hi" });
}

Deno.test("ConversationStore.create() and get() round-trip metadata with objects and numbers", async () => {
  await withStore(async ({ store }) => {
    const created = meta({
      status: "running",
      started_at: 1_700_000_000_123,
      deadline: 1_700_000_090_623,
      turns: 3,
      scenario: SCENARIO,
      error: "42",
    });
    await store.create(created);
    const read = await store.get(created.id);
    assert.deepEqual(read, created);
    assert.equal(typeof read!.duration_seconds, "number");
    assert.equal(read!.error, "42", "a numeric-looking string stays a string");
    assert.equal(
      (read!.config as { conversation: { max_turns: number } }).conversation.max_turns,
      12,
    );
  });
});

Deno.test("ConversationStore.create() rejects invalid metadata without writing it", async () => {
  await withStore(async ({ redis, store }) => {
    const bad = { ...meta(), max_turns: 0 };
    await assert.rejects(() => store.create(bad));
    assert.deepEqual(await redis.keys("dialogue:*"), []);
  });
});

Deno.test("ConversationStore.get() answers undefined and require() not_found for an unknown id", async () => {
  await withStore(async ({ store }) => {
    const id = newConversationId();
    assert.equal(await store.get(id), undefined);
    await assert.rejects(
      () => store.require(id),
      (error: unknown) =>
        error instanceof DialogueError && error.code === ErrorCode.NotFound &&
        error.message.includes(id) && error.message.includes("--list"),
    );
  });
});

Deno.test("ConversationStore.update() overwrites only the given fields", async () => {
  await withStore(async ({ store }) => {
    const created = meta();
    await store.create(created);
    await store.update(created.id, { status: "running", turns: 4, scenario: SCENARIO });
    assert.deepEqual(await store.get(created.id), {
      ...created,
      status: "running",
      turns: 4,
      scenario: SCENARIO,
    });
  });
});

Deno.test("ConversationStore indexes conversations newest first", async () => {
  await withStore(async ({ store }) => {
    const t = Date.now();
    const oldest = meta({ created_at: t - 2000 });
    const middle = meta({ created_at: t - 1000 });
    const newest = meta({ created_at: t });
    for (const m of [middle, newest, oldest]) await store.create(m);
    assert.deepEqual(await store.ids(), [newest.id, middle.id, oldest.id]);
    assert.deepEqual(await store.ids(1, 1), [middle.id]);
    assert.equal(await store.latest(), newest.id);
    assert.deepEqual((await store.list()).map((m) => m.id), [newest.id, middle.id, oldest.id]);
  });
});

Deno.test("ConversationStore.latest() is undefined while there is no conversation", async () => {
  await withStore(async ({ store }) => {
    assert.equal(await store.latest(), undefined);
    assert.deepEqual(await store.list(), []);
  });
});

Deno.test("ConversationStore.list() drops index entries whose metadata has expired", async () => {
  await withStore(async ({ redis, store }) => {
    const kept = meta();
    await store.create(kept);
    const gone = newConversationId();
    await redis.zadd(conversationIndexKey(), Date.now() + 1000, gone);
    assert.deepEqual((await store.list()).map((m) => m.id), [kept.id]);
    assert.deepEqual(await store.ids(), [kept.id]);
  });
});

Deno.test("ConversationStore.finish() records the first end and refuses a second", async () => {
  await withStore(async ({ store }) => {
    const created = meta({ status: "running" });
    await store.create(created);
    const before = Date.now();
    assert.equal(await store.finish(created.id, "completed", "max_turns"), true);
    const after = Date.now();
    const finished = (await store.get(created.id))!;
    assert.equal(finished.status, "completed");
    assert.equal(finished.stop_reason, "max_turns");
    assert.ok(finished.ended_at! >= before && finished.ended_at! <= after, `${finished.ended_at}`);
    assert.equal(finished.error, undefined);

    assert.equal(await store.finish(created.id, "failed", "error", "too late"), false);
    assert.deepEqual(await store.get(created.id), finished);
  });
});

Deno.test("ConversationStore.finish() stores the error detail of a failed run", async () => {
  await withStore(async ({ store }) => {
    const created = meta();
    await store.create(created);
    assert.equal(await store.finish(created.id, "failed", "error", "model vanished"), true);
    const failed = (await store.get(created.id))!;
    assert.equal(failed.status, "failed");
    assert.equal(failed.stop_reason, "error");
    assert.equal(failed.error, "model vanished");
  });
});

Deno.test("ConversationStore.finish() of an unknown conversation changes nothing", async () => {
  await withStore(async ({ redis, store }) => {
    const id = newConversationId();
    assert.equal(await store.finish(id, "interrupted", "interrupted"), false);
    assert.equal(await redis.exists(conversationKeys(id).meta), 0);
  });
});

/**
 * Plays turns 1..`turns` the way the engine does: the manager routes each
 * request once (`add_once` on `routed`), the agent records its reply through
 * `record_response` and the manager accepts it with `accept_response`, which
 * counts the turn and routes the next request (except after the last turn).
 */
async function playTurns(
  redis: Redis,
  id: string,
  turns: number,
  options: { routeNext?: boolean } = {},
): Promise<void> {
  const keys = conversationKeys(id);
  const [routed] = await runScript<[string, number]>(
    redis,
    "add_once",
    [keys.routed, keys.requests(1)],
    ["1", ...encodeEntry(request(id, 1, 1))],
  );
  let requestId = routed;
  for (let seq = 1; seq <= turns; seq++) {
    const agent = agentForTurn(seq);
    const [outcome, responseId] = await runScript<[string, string]>(
      redis,
      "record_response",
      [keys.meta, keys.routed, keys.answered, keys.responses(agent)],
      [seq, requestId, ...encodeEntry(response(id, seq, agent))],
    );
    assert.equal(outcome, "recorded");
    const routeNext = seq < turns || options.routeNext === true;
    const next = agentForTurn(seq + 1);
    const [accepted, nextId] = await runScript<[string, string]>(
      redis,
      "accept_response",
      [keys.meta, keys.answered, keys.routed, keys.requests(next)],
      [seq, responseId, routeNext ? "1" : "0", ...encodeEntry(request(id, seq + 1, next))],
    );
    assert.equal(accepted, "accepted");
    requestId = nextId;
  }
}

/** A running conversation with `turns` turns played (and turn `turns + 1` routed). */
async function runningRun(store: ConversationStore, redis: Redis, turns: number): Promise<string> {
  const created = meta({ status: "running", started_at: 1_700_000_000_000, max_turns: 12 });
  await store.create(created);
  await playTurns(redis, created.id, turns, { routeNext: true });
  return created.id;
}

Deno.test("ConversationStore.transcript() returns the accepted responses and routed requests in turn order", async () => {
  await withStore(async ({ redis, store }) => {
    const id = await runningRun(store, redis, 4);
    const transcript = await store.transcript(id);
    assert.equal(transcript.meta.turns, 4);
    assert.deepEqual(transcript.responses.map((m) => m.metadata.sequence_number), [1, 2, 3, 4]);
    assert.deepEqual(transcript.responses.map((m) => m.metadata.agent_id), [1, 2, 1, 2]);
    assert.equal(transcript.responses[1]!.metadata.tokens_generated, 20);
    assert.deepEqual(
      transcript.requests.map((m) => m.metadata.sequence_number),
      [1, 2, 3, 4, 5],
      "turn 5 was routed, not yet answered",
    );
  });
});

Deno.test("ConversationStore.transcript() leaves out a recorded response the manager has not counted", async () => {
  await withStore(async ({ redis, store }) => {
    const id = await runningRun(store, redis, 2);
    const keys = conversationKeys(id);
    const [outcome] = await runScript<[string, string]>(
      redis,
      "record_response",
      [keys.meta, keys.routed, keys.answered, keys.responses(1)],
      [3, (await redis.hget(keys.routed, "3"))!, ...encodeEntry(response(id, 3, 1))],
    );
    assert.equal(outcome, "recorded");
    const { responses } = await store.transcript(id);
    assert.deepEqual(responses.map((m) => m.metadata.sequence_number), [1, 2]);
  });
});

/** Entries written straight into a run's streams with XADD, each schema-valid. */
const INJECTIONS: { kind: string; inject(redis: Redis, id: string): Promise<unknown> }[] = [
  {
    kind: "a second response for an answered turn",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).responses(1), response(id, 3, 1, "an impostor's turn 3")),
  },
  {
    kind: "a second response for an answered turn, in the other slot's stream",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).responses(1), response(id, 4, 2, "an impostor's turn 4")),
  },
  {
    kind: "a response with sequence number 999",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).responses(1), response(id, 999, 1, "the end")),
  },
  {
    kind: "a response for a future turn",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).responses(1), response(id, 5, 1, "too early")),
  },
  {
    kind: "a response in the other slot's stream",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).responses(1), {
        ...response(id, 2, 2, "agent 1 speaking for agent 2"),
      }),
  },
  {
    kind: "a response without an agent id in the other slot's stream",
    inject: async (redis, id) => {
      const message = response(id, 4, 2, "whose turn?");
      delete message.metadata.agent_id;
      await add(redis, conversationKeys(id).responses(1), message);
    },
  },
  {
    kind: "a request injected by hand for an answered turn",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).requests(1), request(id, 3, 1, "say this")),
  },
  {
    kind: "a second request for a routed turn, in the other slot's stream",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).requests(1), request(id, 4, 2, "say this")),
  },
  {
    kind: "a request with the other agent's turn number",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).requests(1), request(id, 6, 2, "say this")),
  },
  {
    kind: "a request for a future turn",
    inject: (redis, id) =>
      add(redis, conversationKeys(id).requests(2), request(id, 8, 2, "say this")),
  },
];

for (const { kind, inject } of INJECTIONS) {
  Deno.test(`ConversationStore.transcript() and analyzeRun() never show ${kind}`, async () => {
    await withStore(async ({ redis, store }) => {
      const id = await runningRun(store, redis, 4);
      const before = await store.transcript(id);
      const analysisBefore = analyzeRun(before);
      const historyBefore = await store.responsesBefore(id, 5);
      await inject(redis, id);
      const after = await store.transcript(id);
      assert.deepEqual(after, before);
      assert.deepEqual(analyzeRun(after), analysisBefore);
      assert.deepEqual(await store.responsesBefore(id, 5), historyBefore);
    });
  });
}

Deno.test("ConversationStore.transcript() skips an invalid entry an id points to", async () => {
  await withStore(async ({ redis, store }) => {
    const id = await runningRun(store, redis, 2);
    const keys = conversationKeys(id);
    const broken = await redis.xadd(keys.responses(1), "*", "data", "{broken");
    await redis.hset(keys.answered, "3", broken!);
    await redis.hset(keys.meta, "turns", "3");
    const { responses } = await store.transcript(id);
    assert.deepEqual(responses.map((m) => m.metadata.sequence_number), [1, 2]);
  });
});

Deno.test("ConversationStore.responsesBefore() returns the accepted responses of the last turns only", async () => {
  await withStore(async ({ redis, store }) => {
    const id = await runningRun(store, redis, 6);
    await add(redis, conversationKeys(id).responses(1), response(id, 5, 1, "second answer to 5"));
    const all = await store.responsesBefore(id, 7);
    assert.deepEqual(all.map((m) => m.content), [1, 2, 3, 4, 5, 6].map((s) => `reply ${s}`));
    const last2 = await store.responsesBefore(id, 7, { limit: 2 });
    assert.deepEqual(last2.map((m) => m.metadata.sequence_number), [5, 6]);
    assert.deepEqual(
      (await store.responsesBefore(id, 4)).map((m) => m.metadata.sequence_number),
      [1, 2, 3],
    );
    assert.deepEqual(await store.responsesBefore(id, 1), []);
  });
});

Deno.test("ConversationStore.responsesBefore() reads the entries it returns, not whole streams", async () => {
  await withStore(async ({ redis, store }) => {
    const created = meta({ status: "running", max_turns: 60 });
    await store.create(created);
    const long = "word ".repeat(400); // ~2 kB per reply, ~80 kB in all.
    const keys = conversationKeys(created.id);
    await playTurns(redis, created.id, 40, { routeNext: true });
    for (let seq = 1; seq <= 40; seq++) {
      await add(
        redis,
        keys.responses(agentForTurn(seq)),
        response(created.id, seq, agentForTurn(seq), long),
      );
    }
    const sent = async () =>
      Number(/total_net_output_bytes:(\d+)/.exec(await redis.info("stats"))![1]);
    const start = await sent();
    const history = await store.responsesBefore(created.id, 41, { limit: 2 });
    const used = (await sent()) - start;
    assert.deepEqual(history.map((m) => m.metadata.sequence_number), [39, 40]);
    assert.ok(used < 8_000, `Redis sent ${used} bytes for two short replies`);
  });
});

Deno.test("ConversationStore.transcript() of an unknown conversation is not_found", async () => {
  await withStore(async ({ store }) => {
    await assert.rejects(
      () => store.transcript(newConversationId()),
      (error: unknown) => error instanceof DialogueError && error.code === ErrorCode.NotFound,
    );
  });
});

Deno.test("ConversationStore.queueStats() reports each queue's length and pending count", async () => {
  await withStore(async ({ redis, store, connect }) => {
    const created = meta();
    const { id } = created;
    const keys = conversationKeys(id);
    await store.create(created);
    const agent = new StreamQueue(redis, await connect("agent-blocking", true), {
      group: AGENT_GROUP,
      consumer: "agent-1",
      deadLetter: keys.deadLetter,
      blockMs: 20,
    });
    const manager = new StreamQueue(redis, await connect("manager-blocking", true), {
      group: MANAGER_GROUP,
      consumer: "manager",
      deadLetter: keys.deadLetter,
      blockMs: 20,
    });
    await agent.ensureGroup([keys.requests(1)]);
    await manager.ensureGroup([keys.responses(1)]);
    await agent.add(keys.requests(1), request(id, 1, 1));
    await agent.add(keys.requests(1), request(id, 3, 1));
    await agent.read([keys.requests(1)], { count: 1 });
    const [answer] = await manager.read([keys.responses(1)], { blockMs: 10 });
    assert.equal(answer, undefined);
    await agent.add(keys.responses(1), response(id, 1, 1));
    const [got] = await manager.read([keys.responses(1)]);
    await manager.ack(got!);
    await add(redis, keys.responses(2), response(id, 2, 2));

    assert.deepEqual(await store.queueStats(id), [
      { stream: keys.requests(1), length: 2, pending: 1 },
      { stream: keys.responses(1), length: 1, pending: 0 },
      { stream: keys.requests(2), length: 0, pending: 0 },
      { stream: keys.responses(2), length: 1, pending: 0 },
    ]);
  });
});

Deno.test("ConversationStore.delete() removes every key of the conversation and its index entry", async () => {
  await withStore(async (rig) => {
    const { redis, store } = rig;
    const doomed = newConversationId();
    const other = newConversationId();
    await populate(rig, doomed);
    await populate(rig, other);
    assert.deepEqual(
      await keysOf(redis, doomed),
      [...conversationKeys(doomed).all()].sort(),
      "the test wrote every key the conversation can have",
    );
    const othersKeys = await keysOf(redis, other);

    await store.delete(doomed);
    assert.deepEqual(await keysOf(redis, doomed), []);
    assert.deepEqual(await store.ids(), [other]);
    assert.equal(await store.get(doomed), undefined);
    assert.deepEqual(await keysOf(redis, other), othersKeys, "other conversations are untouched");
  });
});

Deno.test("ConversationStore.expire() sets a time to live on every key of the conversation", async () => {
  await withStore(async (rig) => {
    const { redis, store } = rig;
    const expiring = newConversationId();
    const other = newConversationId();
    await populate(rig, expiring);
    await populate(rig, other);

    await store.expire(expiring, 3600);
    const keys = await keysOf(redis, expiring);
    assert.equal(keys.length, conversationKeys(expiring).all().length);
    for (const key of keys) {
      const ttl = await redis.ttl(key);
      assert.ok(ttl > 3500 && ttl <= 3600, `${key} has TTL ${ttl}`);
    }
    for (const key of await keysOf(redis, other)) assert.equal(await redis.ttl(key), -1, key);
  });
});

Deno.test("waitForActiveConversation() returns the newest pending or running conversation", async () => {
  await withStore(async ({ redis, store }) => {
    const t = Date.now();
    const runningOld = meta({ status: "running", created_at: t - 3000 });
    const pending = meta({ status: "pending", created_at: t - 2000 });
    const done = meta({ status: "completed", created_at: t - 1000 });
    for (const m of [runningOld, pending, done]) await store.create(m);
    const found = await waitForActiveConversation(redis, new AbortController().signal, 10);
    assert.equal(found, pending.id);
  });
});

Deno.test("waitForActiveConversation() waits until a conversation starts", async () => {
  await withStore(async ({ redis, store }) => {
    await store.create(meta({ status: "completed" }));
    const waiting = waitForActiveConversation(redis, new AbortController().signal, 10);
    await new Promise((r) => setTimeout(r, 60));
    const started = meta({ status: "running", created_at: Date.now() + 10 });
    await store.create(started);
    assert.equal(await waiting, started.id);
  });
});

Deno.test("waitForActiveConversation() returns undefined once the signal aborts", async () => {
  await withStore(async ({ redis, store }) => {
    await store.create(meta({ status: "failed" }));
    const controller = new AbortController();
    const waiting = waitForActiveConversation(redis, controller.signal, 10);
    await new Promise((r) => setTimeout(r, 50));
    const abortedAt = Date.now();
    controller.abort();
    assert.equal(await waiting, undefined);
    assert.ok(Date.now() - abortedAt < 500, "it stops promptly");
    assert.equal(await waitForActiveConversation(redis, AbortSignal.abort(), 10), undefined);
  });
});
