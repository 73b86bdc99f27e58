/**
 * Bad stream entries, fuzzed: more than a thousand invalid entries (random
 * fields, wrong types, oversized values, invalid UTF-8, missing data,
 * non-JSON, arrays, nested junk) interleaved with valid ones. A consumer
 * returns exactly the valid ones, in order; every invalid one lands in the
 * dead-letter stream with its source id and a reason, and is acknowledged.
 * Then the same garbage is thrown at real processes in the middle of a run.
 *
 * The generator is seeded: set DIALOGUE_FUZZ_SEED to replay a failure (the
 * seed is printed in every failure message).
 */
import { Buffer } from "node:buffer";
import type { Redis } from "ioredis";
import { assert, assertEquals } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { collect, spawnEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { conversationKeys, newConversationId } from "../../lib/bus/keys.ts";
import { DialogMessage, MAX_CONTENT_CHARS } from "../../lib/model/dialog_message.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { StreamQueue } from "../../lib/bus/stream_queue.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";

const SEED = Number(Deno.env.get("DIALOGUE_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 32));

/** mulberry32: small, fast and good enough to pick test cases reproducibly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const text = (n: number) => {
    const alphabet = "abcdefghij klmnopqrstuvwxyz,.!?'\"\\{}[]:ééß漢字🙂\u202e\x1b\n\t";
    let out = "";
    for (let i = 0; i < n; i++) out += pick([...alphabet]);
    return out;
  };
  return { next, int, pick, text };
}
type Rng = ReturnType<typeof prng>;

/** Stream fields as XADD takes them: names and values, strings or raw bytes. */
type Fields = (string | Buffer)[];

/** A valid message for turn `seq` of conversation `id`. */
function validMessage(rng: Rng, id: string, seq: number): DialogMessage {
  const length = rng.next() < 0.02 ? MAX_CONTENT_CHARS : rng.int(1, 300);
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000 + seq,
    message_id: `${id}-valid-${seq}`,
    role: rng.pick(["user", "assistant"] as const),
    content: rng.text(length).slice(0, MAX_CONTENT_CHARS),
    metadata: {
      conversation_id: id,
      sequence_number: seq,
      agent_id: rng.pick([1, 2] as const),
      ...(rng.next() < 0.5 ? { references: [rng.text(10)], sentiment: "neutral" } : {}),
    },
  });
}

/** The fields of a valid message: as the app writes them, or with only `data`. */
function validFields(rng: Rng, message: DialogMessage): Fields {
  return rng.next() < 0.7 ? encodeEntry(message) : ["data", JSON.stringify(message)];
}

/** A raw message object to break, valid until a generator spoils it. */
function rawMessage(rng: Rng, id: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify(validMessage(rng, id, rng.int(1, 1000))));
}

function nested(depth: number): unknown {
  let value: unknown = "junk";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { junk: value };
  return value;
}

const BAD_BYTES = [[0xff], [0xfe], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [
  0xed,
  0xa0,
  0x80,
]];

/**
 * Generators of invalid entries, each named after what is wrong. Every one
 * must be rejected whatever the random choices.
 */
const INVALID: Record<string, (rng: Rng, id: string) => Fields> = {
  "no data field": (rng) => ["seq", String(rng.int(1, 9)), "role", "user", "note", rng.text(20)],
  "random fields": (rng) => {
    const fields: string[] = [];
    for (let i = rng.int(1, 6); i > 0; i--) {
      fields.push(`f${rng.text(4)}`, rng.text(rng.int(0, 50)));
    }
    return fields;
  },
  "data not JSON": (rng) => ["data", rng.pick(["", "{", "nope", "{'a':1}", rng.text(40)])],
  "data truncated": (rng, id) => {
    const json = JSON.stringify(rawMessage(rng, id));
    return ["data", json.slice(0, rng.int(0, json.length - 1))];
  },
  "data a JSON array": (rng, id) => ["data", JSON.stringify([rawMessage(rng, id)])],
  "data a JSON scalar": (rng) => ["data", rng.pick(["null", "true", "42", '"text"', "1e400"])],
  "required field missing": (rng, id) => {
    const m = rawMessage(rng, id);
    const meta = m.metadata as Record<string, unknown>;
    const victim = rng.pick([
      "queue_timestamp",
      "message_id",
      "role",
      "content",
      "metadata",
      "cid",
      "seq",
    ]);
    if (victim === "cid") delete meta.conversation_id;
    else if (victim === "seq") delete meta.sequence_number;
    else delete m[victim];
    return ["data", JSON.stringify(m)];
  },
  "field of the wrong type": (rng, id) => {
    const m = rawMessage(rng, id);
    const meta = m.metadata as Record<string, unknown>;
    const spoil = rng.pick([
      () => m.queue_timestamp = String(m.queue_timestamp),
      () => m.queue_timestamp = -1,
      () => m.role = rng.pick(["robot", "", "USER", 1]),
      () => m.content = rng.pick([42, null, ["a"], { text: "a" }, true]),
      () => m.message_id = rng.pick(["", 7, null]),
      () => m.metadata = rng.pick(["meta", 1, null, []]),
      () => meta.sequence_number = rng.pick([0, -1, 1.5, "1", null]),
      () => meta.conversation_id = rng.pick(["", 5, "x".repeat(129)]),
      () => meta.agent_id = rng.pick([0, 3, "1", 1.5]),
      () => meta.tokens_generated = rng.pick([-1, 0.5, "10"]),
      () => meta.references = rng.pick(["ref", [1, 2], Array(21).fill("r")]),
      () => meta.sentiment = "s".repeat(41),
      () => meta.wall_time_ms = -5,
    ]);
    spoil();
    return ["data", JSON.stringify(m)];
  },
  "number beyond float range": (rng, id) => {
    const json = JSON.stringify(rawMessage(rng, id));
    return ["data", json.replace(/"queue_timestamp":\d+/, '"queue_timestamp":1e400')];
  },
  "content over MAX_CONTENT_CHARS": (rng, id) => {
    const m = rawMessage(rng, id);
    m.content = "x".repeat(MAX_CONTENT_CHARS + rng.int(1, 40_000));
    return rng.next() < 0.5 ? ["data", JSON.stringify(m)] : encodeLike(m);
  },
  "oversized id and huge neighbour field": (rng, id) => {
    const m = rawMessage(rng, id);
    m.message_id = "m".repeat(rng.int(129, 5000));
    return ["pad", "p".repeat(rng.int(1000, 200_000)), "data", JSON.stringify(m)];
  },
  "nested junk": (rng, id) => {
    const m = rawMessage(rng, id);
    const where = rng.pick(["content", "metadata", "role", "whole"]);
    const junk = nested(rng.pick([3, 50, 2000]));
    if (where === "whole") return ["data", JSON.stringify(junk)];
    m[where] = junk;
    return ["data", JSON.stringify(m)];
  },
  "prototype keys": (rng) => [
    "data",
    rng.pick([
      '{"__proto__":{"role":"user"},"constructor":{"prototype":{}}}',
      '{"queue_timestamp":1,"__proto__":{"content":"x","metadata":{}}}',
    ]),
  ],
  "invalid UTF-8 breaking the JSON": (rng, id) => {
    const json = Buffer.from(JSON.stringify(rawMessage(rng, id)));
    // Overwrite the quote that opens a key or string: no decoding can save it.
    const quotes = [...json.keys()].filter((i) => json[i] === 0x22);
    const at = rng.pick(quotes);
    const bad = Buffer.from(rng.pick(BAD_BYTES));
    return ["data", Buffer.concat([json.subarray(0, at), bad, json.subarray(at + 1)])];
  },
  "invalid UTF-8 field name": (rng, id) => [
    Buffer.concat([Buffer.from("da"), Buffer.from(rng.pick(BAD_BYTES)), Buffer.from("ta")]),
    JSON.stringify(rawMessage(rng, id)),
  ],
  "invalid UTF-8 bytes only": (rng) => [
    "data",
    Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0x80, 0xff))),
  ],
  "junk data before good data": (rng, id) => [
    "data",
    rng.text(10),
    "data",
    JSON.stringify(rawMessage(rng, id)),
  ],
};

/** The app's field layout around a (possibly invalid) message object. */
function encodeLike(m: Record<string, unknown>): Fields {
  return ["seq", "1", "role", String(m.role), "data", JSON.stringify(m)];
}

/** Runs `fn`, adding the seed to any failure so it can be replayed. */
async function withSeed(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const message = `${(error as Error).message}\n(replay with DIALOGUE_FUZZ_SEED=${SEED})`;
    throw Object.assign(error as Error, { message });
  }
}

interface Rig {
  redis: Redis;
  config: ReturnType<typeof parseConfig>["redis"];
  close(): Promise<void>;
}

async function rig(): Promise<Rig & { server: RedisServer }> {
  const server = await RedisServer.start();
  const config = parseConfig({ redis: { url: server.url } }).redis;
  const redis = await connectRedis(config, { name: "fuzz" });
  return {
    server,
    redis,
    config,
    async close() {
      await closeRedis(redis);
      await server.stop();
    },
  };
}

/** Dead-letter entries as objects. */
async function deadLetters(redis: Redis, stream: string) {
  return (await redis.xrange(stream, "-", "+")).map(([id, fields]) => {
    const row: Record<string, string> = { id };
    for (let i = 0; i + 1 < fields.length; i += 2) row[fields[i]!] = fields[i + 1]!;
    return row;
  });
}

/** Unacknowledged entries of `group` on `stream`. */
async function pending(redis: Redis, stream: string, group: string): Promise<number> {
  const summary = await redis.xpending(stream, group) as [number, ...unknown[]];
  return Number(summary[0]);
}

/**
 * Reads `stream` to its end through a StreamQueue on its own connections;
 * returns the valid entries. Entries come back when read, so `total` counts
 * valid and dead-lettered together.
 */
async function drain(
  t: Rig,
  stream: string,
  deadLetter: string,
  total: number,
): Promise<{ ids: string[]; messageIds: string[]; queue: StreamQueue; close(): Promise<void> }> {
  const own = await connectRedis(t.config, { name: "fuzz-consumer" });
  const blocking = await connectRedis(t.config, { name: "fuzz-reader", blocking: true });
  const queue = new StreamQueue(own, blocking, {
    group: "agents",
    consumer: "fuzz-1",
    deadLetter,
    blockMs: 1,
  });
  await queue.ensureGroup([stream]);
  const ids: string[] = [];
  const messageIds: string[] = [];
  const giveUp = Date.now() + 60_000;
  while (ids.length + await t.redis.xlen(deadLetter) < total) {
    assert(Date.now() < giveUp, `drained ${ids.length} valid entries only`);
    for (const entry of await queue.read([stream], { count: 50, blockMs: 1 })) {
      ids.push(entry.id);
      messageIds.push(entry.message.message_id);
    }
  }
  return { ids, messageIds, queue, close: () => closeRedis(blocking, own) };
}

Deno.test(`StreamQueue returns exactly the valid entries of a fuzzed stream in order and dead-letters the rest (seed ${SEED})`, async () => {
  await withSeed(async () => {
    const rng = prng(SEED);
    const t = await rig();
    try {
      const id = newConversationId();
      const keys = conversationKeys(id);
      const stream = keys.requests(1);
      const kinds = Object.keys(INVALID);
      const validIds: string[] = [];
      const validMessageIds: string[] = [];
      const invalid = new Map<string, string>(); // entry id → kind
      let seq = 0;
      // Every kind at least 40 times, shuffled with about 300 valid entries.
      const plan: (string | null)[] = kinds.flatMap((kind) => Array(40).fill(kind));
      while (plan.length < 1_400) plan.push(rng.next() < 0.7 ? rng.pick(kinds) : null);
      for (let i = 0; i < 300; i++) plan.push(null);
      for (let i = plan.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [plan[i], plan[j]] = [plan[j]!, plan[i]!];
      }
      const pipeline = t.redis.pipeline();
      const added: { kind: string | null; message?: DialogMessage }[] = [];
      for (const kind of plan) {
        if (kind === null) {
          const message = validMessage(rng, id, ++seq);
          pipeline.xadd(stream, "*", ...validFields(rng, message));
          added.push({ kind, message });
        } else {
          pipeline.xadd(stream, "*", ...INVALID[kind]!(rng, id));
          added.push({ kind });
        }
      }
      const replies = (await pipeline.exec())!;
      replies.forEach(([error, entryId], i) => {
        assert(!error, `XADD ${i} failed: ${error}`);
        const { kind, message } = added[i]!;
        if (kind === null) {
          validIds.push(entryId as string);
          validMessageIds.push(message!.message_id);
        } else invalid.set(entryId as string, kind);
      });
      assert(invalid.size >= 1_000, `${invalid.size} invalid entries`);

      const read = await drain(t, stream, keys.deadLetter, plan.length);
      try {
        assertEquals(read.ids, validIds, "exactly the valid entries, in stream order");
        assertEquals(read.messageIds, validMessageIds);

        const dead = await deadLetters(t.redis, keys.deadLetter);
        const bySource = new Map(dead.map((row) => [row.source_id!, row]));
        assertEquals(dead.length, invalid.size, "one dead letter per invalid entry");
        const missing = [...invalid].filter(([entryId]) => !bySource.has(entryId));
        assertEquals(missing.map(([entryId, kind]) => `${entryId} (${kind})`), []);
        for (const row of dead) {
          assertEquals(row.source, stream);
          assert(row.reason && row.reason.trim() !== "", `a reason for ${row.source_id}`);
          assert(row.raw !== undefined, `the raw fields of ${row.source_id}`);
          assert(row.raw.length <= 64_000, `raw kept bounded (${row.raw.length})`);
        }
        // Invalid entries were acknowledged as they were dead-lettered; valid ones wait for us.
        assertEquals(await pending(t.redis, stream, "agents"), validIds.length);
        for (const entryId of read.ids) await read.queue.ack({ stream, id: entryId });
        assertEquals(await pending(t.redis, stream, "agents"), 0);
        // Nothing was deleted: the stream is still the whole log.
        assertEquals(await t.redis.xlen(stream), plan.length);
      } finally {
        await read.close();
      }
    } finally {
      await t.close();
    }
  });
});

Deno.test("an entry whose data is valid JSON but not valid UTF-8 is dead-lettered, not silently repaired", async () => {
  const rng = prng(SEED);
  const t = await rig();
  try {
    const id = newConversationId();
    const keys = conversationKeys(id);
    const stream = keys.requests(2);
    const entries: string[] = [];
    for (const bytes of BAD_BYTES) {
      // A message the schema accepts, except that its content holds bytes no UTF-8 decoder accepts.
      const message = validMessage(rng, id, entries.length + 1);
      const json = JSON.stringify({ ...message, content: "before@after" });
      const at = json.indexOf("@");
      const data = Buffer.concat([
        Buffer.from(json.slice(0, at)),
        Buffer.from(bytes),
        Buffer.from(json.slice(at + 1)),
      ]);
      entries.push((await t.redis.xadd(stream, "*", "data", data))!);
    }
    const read = await drain(t, stream, keys.deadLetter, entries.length);
    try {
      const dead = await deadLetters(t.redis, keys.deadLetter);
      assertEquals(
        read.ids,
        [],
        `entries with invalid UTF-8 were returned as messages (content decoded to ${
          JSON.stringify("\ufffd")
        } replacement characters)`,
      );
      assertEquals(dead.map((row) => row.source_id), entries);
      assertEquals(await pending(t.redis, stream, "agents"), 0);
    } finally {
      for (const entryId of read.ids) await read.queue.ack({ stream, id: entryId });
      await read.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test(`agents and manager keep serving while garbage is added to their streams mid-run (seed ${SEED})`, async () => {
  await withSeed(async () => {
    const rng = prng(SEED ^ 0x5eed);
    const t = await rig();
    const double = await OllamaDouble.start({ tokenDelayMs: 15 });
    const id = newConversationId();
    const keys = conversationKeys(id);
    const env = { REDIS_URL: t.server.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    const children: {
      name: string;
      child: Deno.ChildProcess;
      out: ReturnType<typeof collect>;
      err: ReturnType<typeof collect>;
    }[] = [];
    try {
      const start = async (name: string, script: string, args: string[]) => {
        const child = await spawnEntrypoint(script, args, { env });
        children.push({ name, child, out: collect(child.stdout), err: collect(child.stderr) });
      };
      await start("agent 1", "agent.ts", ["--id", "1", "--conversation", id]);
      await start("agent 2", "agent.ts", ["--id", "2", "--conversation", id]);
      await start("manager", "manager.ts", [
        "--conversation",
        id,
        "--story",
        "tests/fixtures/story.json",
        "--max-turns",
        "6",
        "--duration",
        "60",
      ]);
      const store = new ConversationStore(t.redis);
      const giveUp = Date.now() + 30_000;
      while ((await store.get(id))?.status !== "running") {
        assert(Date.now() < giveUp, "the run started");
        await new Promise((r) => setTimeout(r, 20));
      }
      // Garbage for both agents' request streams and the manager's response streams.
      const kinds = Object.keys(INVALID);
      const injected = new Map<string, string>();
      const targets = [
        ...Array(30).fill(keys.requests(1)),
        ...Array(30).fill(keys.requests(2)),
        ...Array(10).fill(keys.responses(1)),
        ...Array(10).fill(keys.responses(2)),
      ] as string[];
      const pipeline = t.redis.pipeline();
      const plan = targets.map((stream) => ({ stream, kind: rng.pick(kinds) }));
      for (const { stream, kind } of plan) pipeline.xadd(stream, "*", ...INVALID[kind]!(rng, id));
      (await pipeline.exec())!.forEach(([error, entryId], i) => {
        assert(!error, String(error));
        injected.set(entryId as string, `${plan[i]!.stream} (${plan[i]!.kind})`);
      });

      const statuses = await Promise.all(children.map(async ({ name, child, err }) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
        const status = await child.status;
        clearTimeout(timer);
        await err.done;
        return { name, code: status.code, stderr: err.text() };
      }));
      for (const s of statuses) assertEquals(s.code, 0, `${s.name} exited ${s.code}:\n${s.stderr}`);
      const meta = (await store.get(id))!;
      assertEquals(meta.status, "completed", meta.error);
      assertEquals(meta.turns, 6);
      const { responses } = await store.transcript(id);
      assertEquals(responses.map((r) => r.metadata.sequence_number), [1, 2, 3, 4, 5, 6]);

      const dead = new Set((await deadLetters(t.redis, keys.deadLetter)).map((r) => r.source_id));
      const notDead = [...injected].filter(([entryId]) => !dead.has(entryId));
      assertEquals(notDead.map(([entryId, where]) => `${entryId} in ${where}`), []);
      for (const stat of await store.queueStats(id)) assertEquals(stat.pending, 0, stat.stream);
    } finally {
      for (const { child, out, err } of children) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        await child.status;
        await Promise.all([out.done, err.done]);
      }
      await double.close();
      await t.close();
    }
  });
});
