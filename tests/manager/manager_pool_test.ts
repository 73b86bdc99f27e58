/**
 * The manager pool in-process against a private redis-server: the test plays
 * the agents (it reads agent tickets and records replies through
 * `record_response`, as agent pools do), and injects entries into the
 * response streams with XADD.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { type Config, parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import {
  conversationKeys,
  dispatchKeys,
  MANAGER_GROUP,
  MANAGERS_GROUP,
} from "../../lib/bus/keys.ts";
import { addManagerTicket, AgentTicket, decodeTicket } from "../../lib/bus/dispatch.ts";
import { decodeEntry, encodeEntry } from "../../lib/bus/stream_entry.ts";
import { runScript } from "../../lib/bus/scripts.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { agentForTurn, type AgentId, DialogMessage } from "../../lib/model/dialog_message.ts";
import { emptyMetrics, type LlmBackend } from "../../lib/llm/llm_backend.ts";
import { DialogueError } from "../../lib/base/dialogue_error.ts";
import { readScenarioFile } from "../../lib/manager/scenario_writer.ts";
import { detectLoop } from "../../lib/analysis/loop_detector.ts";
import { runManagerPool } from "../../lib/manager/manager_pool.ts";
import { DIALOGUE_LLM_VERSION } from "../../lib/base/version.ts";
import { analyzeRun } from "../../lib/analysis/run_analysis.ts";
import {
  createConversation,
  interruptConversations,
  requestResume,
} from "../../lib/manager/conversation_setup.ts";

const SCENARIO = await readScenarioFile("tests/fixtures/story.json");
const MODEL = "tiny";

/** Scenarios come from the fixture: the pool never needs a model. */
const NO_LLM: LlmBackend = {
  kind: "ollama",
  description: "none",
  embed: () => Promise.reject(new Error("no LLM in this test")),
  close: () => Promise.resolve(),
  chat: () => Promise.reject(new Error("no LLM in this test")),
  ensureModel: () => Promise.resolve(),
};

interface Rig {
  redis: Redis;
  /** The pool's command connection. */
  poolRedis: Redis;
  config: Config;
  store: ConversationStore;
  agents: FakeAgents;
  /** Events published on dispatchKeys.events, parsed. */
  events: Record<string, unknown>[];
  create(): Promise<string>;
}

/** Runs `fn` with a redis-server, a manager pool and the fake agents; stops all afterwards. */
async function withPool(
  options: {
    conversation?: Record<string, unknown>;
    dispatch?: Record<string, unknown>;
    backend?: LlmBackend;
  },
  fn: (rig: Rig) => Promise<void>,
): Promise<void> {
  const server = await RedisServer.start();
  const config = parseConfig({
    redis: { url: server.url },
    agents: { model: MODEL },
    conversation: {
      max_turns: 4,
      loop_action: "off",
      stale_action: "off",
      ...options.conversation,
    },
    dispatch: { heartbeat_ms: 200, dead_after_ms: 1000, ...options.dispatch },
  });
  const clients: Redis[] = [];
  const connect = async (name: string) => {
    const client = await connectRedis(config.redis, { name });
    clients.push(client);
    return client;
  };
  const redis = await connect("test");
  const events: Record<string, unknown>[] = [];
  const subscriber = await connect("test-events");
  subscriber.on("message", (_c: string, text: string) => {
    if (text.startsWith("{")) events.push(JSON.parse(text));
  });
  await subscriber.subscribe(dispatchKeys.events);
  const stop = new AbortController();
  const poolRedis = await connect("pool");
  const pool = runManagerPool({
    config,
    redis: poolRedis,
    backend: options.backend ?? NO_LLM,
    consumer: "test-pool",
    signal: stop.signal,
  });
  const agents = new FakeAgents(await connect("agents"), await connect("agents-read"));
  try {
    await fn({
      redis,
      poolRedis,
      config,
      store: new ConversationStore(redis),
      agents,
      events,
      create: () => createConversation(redis, config, { scenario: SCENARIO }),
    });
  } finally {
    stop.abort();
    await agents.stop();
    await pool;
    await closeRedis(...clients.reverse());
    await server.stop();
  }
}

/**
 * Plays both agents of every conversation: answers each agent ticket up to
 * `limit` (per conversation) through `record_response`, then sends the
 * manager its ticket, as agent pools do.
 */
class FakeAgents {
  readonly #redis: Redis;
  readonly #blocking: Redis;
  readonly #running: Promise<void>;
  #stopped = false;
  /** What the agents say at turn `seq` (default: a distinct reply per turn). */
  content: ((id: string, seq: number) => string) | undefined;
  /** Highest turn answered per conversation (default: every turn). */
  readonly limit = new Map<string, number>();
  /** Tickets answered, per conversation: seq list. */
  readonly tickets = new Map<string, number[]>();
  /** Tickets received (answered or held), per conversation: seq list. */
  readonly received = new Map<string, number[]>();
  #waiters: (() => void)[] = [];

  constructor(redis: Redis, blocking: Redis) {
    this.#redis = redis;
    this.#blocking = blocking;
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** Resolves once `probe` holds, re-checked after each ticket. */
  async waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
    const giveUp = Date.now() + timeoutMs;
    while (!await probe()) {
      if (Date.now() > giveUp) throw new Error(`Timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async #loop(): Promise<void> {
    let cursor = "0";
    const stream = dispatchKeys.work(MODEL, 0);
    const held: AgentTicket[] = [];
    while (!this.#stopped) {
      const reply = await this.#blocking.xread(
        "COUNT",
        100,
        "BLOCK",
        50,
        "STREAMS",
        stream,
        cursor,
      );
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          cursor = id;
          const ticket = decodeTicket(AgentTicket, fields);
          if (!ticket) continue;
          held.push(ticket);
          const seen = this.received.get(ticket.conversation_id) ?? [];
          seen.push(ticket.seq);
          this.received.set(ticket.conversation_id, seen);
        }
      }
      for (const ticket of held.splice(0)) {
        const limit = this.limit.get(ticket.conversation_id) ?? Infinity;
        if (ticket.seq > limit) {
          held.push(ticket);
          continue;
        }
        const seen = this.tickets.get(ticket.conversation_id) ?? [];
        seen.push(ticket.seq);
        this.tickets.set(ticket.conversation_id, seen);
        await this.answer(ticket);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  async answer(ticket: AgentTicket): Promise<void> {
    const keys = conversationKeys(ticket.conversation_id);
    const [[, fields]] = await this.#redis.xrange(
      keys.requests(ticket.agent),
      ticket.request,
      ticket.request,
    ) as [[string, string[]]];
    const request = decodeEntry(fields);
    const message = reply(
      ticket.conversation_id,
      ticket.seq,
      request.message_id,
      this.content?.(ticket.conversation_id, ticket.seq),
    );
    await runScript(this.#redis, "record_response", [
      keys.meta,
      keys.routed,
      keys.answered,
      keys.responses(ticket.agent),
    ], [ticket.seq, ticket.request, ...encodeEntry(message)]);
    const pipeline = this.#redis.pipeline();
    addManagerTicket(pipeline, {
      kind: "response",
      conversation_id: ticket.conversation_id,
      seq: ticket.seq,
    }, { partitions: 1 });
    await pipeline.exec();
  }
}

function reply(id: string, seq: number, requestId: string | undefined, content?: string) {
  return DialogMessage.parse({
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: "assistant",
    content: content ?? `Reply ${seq} of ${id}`,
    metadata: {
      conversation_id: id,
      sequence_number: seq,
      agent_id: agentForTurn(seq),
      tokens_generated: 7,
      ...(requestId ? { request_id: requestId } : {}),
    },
  });
}

async function requestMessageId(redis: Redis, id: string, seq: number): Promise<string> {
  const keys = conversationKeys(id);
  const entryId = await redis.hget(keys.routed, String(seq));
  const [[, fields]] = await redis.xrange(
    keys.requests(agentForTurn(seq)),
    entryId!,
    entryId!,
  ) as [[string, string[]]];
  return decodeEntry(fields).message_id;
}

Deno.test("the manager pool runs several conversations to max_turns through tickets and publishes progress and endings", async () => {
  await withPool({}, async ({ store, agents, events, create }) => {
    const ids = await Promise.all([1, 2, 3, 4, 5].map(() => create()));
    await agents.waitFor("every run to end", async () => {
      const metas = await Promise.all(ids.map((id) => store.require(id)));
      return metas.every((m) => m.status === "completed");
    });
    for (const id of ids) {
      const { meta, responses, requests } = await store.transcript(id);
      assertEquals([meta.status, meta.stop_reason, meta.turns], ["completed", "max_turns", 4]);
      assertEquals(responses.map((r) => r.metadata.sequence_number), [1, 2, 3, 4]);
      assertEquals(requests.map((r) => r.metadata.sequence_number), [1, 2, 3, 4]);
      assertEquals(agents.tickets.get(id), [1, 2, 3, 4], "one agent ticket per turn");
    }
    await agents.waitFor(
      "the ended events",
      () => events.filter((e) => e.type === "ended").length === 5,
    );
    const progress = events.filter((e) => e.type === "progress" && e.id === ids[0]);
    assertEquals(progress.map((e) => e.turns), [1, 2, 3, 4]);
    assertEquals(progress[1], {
      type: "progress",
      id: ids[0],
      turns: 2,
      max_turns: 4,
      status: "running",
      agent: 2,
      tokens: 7,
      tokens_per_second: 0,
      last: `Reply 2 of ${ids[0]}`,
    });
    const ended = events.find((e) => e.type === "ended" && e.id === ids[0]);
    assertEquals(ended, {
      type: "ended",
      id: ids[0],
      status: "completed",
      stop_reason: "max_turns",
      turns: 4,
    });
  });
});

Deno.test("the manager pool dead-letters each injected response with its reason and never counts or routes it", async () => {
  await withPool({ conversation: { max_turns: 6 } }, async ({ redis, store, agents }) => {
    const id = await createConversationHeld(redis, agents, 2);
    const keys = conversationKeys(id);
    await agents.waitFor(
      "turn 2 accepted, turn 3 routed",
      async () =>
        (await store.require(id)).turns === 2 && await redis.hexists(keys.routed, "3") === 1,
    );
    const request2 = await requestMessageId(redis, id, 2);
    const request3 = await requestMessageId(redis, id, 3);
    const injections: [AgentId, DialogMessage, string][] = [
      [1, reply(id, 999, request3), "response for future turn 999"],
      [1, reply(id, 5, request3), "response for future turn 5"],
      [2, reply(id, 3, request3), "response for turn 3 on agent 2's stream"],
      [1, reply(id, 3, "forged"), "answers request forged, not"],
      [2, reply(id, 2, request2, "A second answer to turn 2"), "not the answer recorded"],
      [
        1,
        reply(id, 3, request3, "Right turn and request, never recorded"),
        "not the answer recorded",
      ],
    ];
    for (const [count, [slot, message, reason]] of injections.entries()) {
      await redis.xadd(keys.responses(slot), "*", ...encodeEntry(message));
      addManagerTicket(redis, { kind: "response", conversation_id: id, seq: 3 }, { partitions: 1 });
      await agents.waitFor(
        `dead-lettering of ${reason}`,
        async () => await redis.xlen(keys.deadLetter) === count + 1,
      );
      const [[, fields]] = await redis.xrevrange(keys.deadLetter, "+", "-", "COUNT", 1) as [
        [string, string[]],
      ];
      assertStringIncludes(fields[fields.indexOf("reason") + 1]!, reason);
      assertEquals(fields[fields.indexOf("source") + 1], keys.responses(slot));
      const meta = await store.require(id);
      assertEquals([meta.status, meta.turns], ["running", 2], `after ${reason}`);
      assertEquals(await redis.hexists(keys.routed, "4"), 0, `nothing routed after ${reason}`);
    }
    // Every injection was acknowledged: nothing is left for the manager to read.
    for (const slot of [1, 2] as const) {
      const [pending] = await redis.xpending(keys.responses(slot), "manager") as [number];
      assertEquals(pending, 0);
    }

    agents.limit.delete(id);
    addManagerTicket(redis, { kind: "resume", conversation_id: id }, { partitions: 1 });
    await agents.waitFor(
      "the run to complete",
      async () => (await store.require(id)).status === "completed",
    );
    const meta = await store.require(id);
    assertEquals([meta.stop_reason, meta.turns], ["max_turns", 6]);
    const answered = await redis.hgetall(keys.answered);
    for (let seq = 1; seq <= 6; seq++) {
      const [[, fields]] = await redis.xrange(
        keys.responses(agentForTurn(seq)),
        answered[seq]!,
        answered[seq]!,
      ) as [[string, string[]]];
      assertEquals(decodeEntry(fields).content, `Reply ${seq} of ${id}`);
    }
    assertEquals(await redis.xlen(keys.deadLetter), injections.length);
  });
});

/** Creates a conversation whose agents answer turns up to `limit` only. */
async function createConversationHeld(redis: Redis, agents: FakeAgents, limit: number) {
  const id = `held-${crypto.randomUUID().slice(0, 8)}`;
  agents.limit.set(id, limit);
  const config = parseConfig({
    agents: { model: MODEL },
    conversation: { max_turns: 6, loop_action: "off", stale_action: "off" },
  });
  return await createConversation(redis, config, { id, scenario: SCENARIO });
}

Deno.test("the deadline keeper ends a run whose time is up as completed (duration) and forgets its deadline", async () => {
  await withPool(
    { conversation: { duration_seconds: 0.5 } },
    async ({ redis, store, agents, events, create }) => {
      const id = await create();
      agents.limit.set(id, 0);
      await agents.waitFor(
        "the run to end",
        async () =>
          (await store.require(id)).status !== "running" &&
          (await store.require(id)).status !== "pending",
      );
      const meta = await store.require(id);
      assertEquals([meta.status, meta.stop_reason, meta.turns], ["completed", "duration", 0]);
      assert(
        meta.ended_at! - meta.deadline! < 1500,
        `ended ${meta.ended_at! - meta.deadline!} ms late`,
      );
      assertEquals(await redis.zscore(dispatchKeys.deadlines, id), null);
      await agents.waitFor(
        "the ended event",
        () => events.some((e) => e.type === "ended" && e.id === id),
      );
    },
  );
});

Deno.test("interrupt then requestResume: the pause is added to paused_ms and the deadline, and the turn in progress gets its ticket again", async () => {
  await withPool({}, async ({ redis, config, store, agents }) => {
    const id = await createConversationHeld(redis, agents, 1);
    await agents.waitFor("turn 1 accepted", async () => (await store.require(id)).turns === 1);
    await interruptConversations(redis, config, [id]);
    const interrupted = await store.require(id);
    assertEquals([interrupted.status, interrupted.stop_reason], ["interrupted", "interrupted"]);
    assertEquals(await redis.zscore(dispatchKeys.deadlines, id), null);
    await new Promise((r) => setTimeout(r, 300)); // The pause being measured.

    await requestResume(redis, config, id);
    const resumed = await store.require(id);
    assertEquals(resumed.status, "running");
    assertEquals([resumed.ended_at, resumed.stop_reason], [undefined, undefined]);
    const pause = resumed.resumed_at! - interrupted.ended_at!;
    assert(pause >= 300, `pause ${pause} ms`);
    assertEquals(resumed.paused_ms, pause);
    assertEquals(resumed.deadline, interrupted.deadline! + pause);
    assertEquals(Number(await redis.zscore(dispatchKeys.deadlines, id)), resumed.deadline);

    // Agents drop tickets of a run that is not running: the resume re-issues turn 2's.
    await agents.waitFor(
      "turn 2's ticket again",
      () => agents.received.get(id)?.filter((seq) => seq === 2).length === 2,
    );
    agents.limit.delete(id);
    await agents.waitFor(
      "the run to complete",
      async () => (await store.require(id)).status === "completed",
    );
    assertEquals((await store.require(id)).turns, 6); // createConversationHeld's max_turns
  });
});

Deno.test("requestResume refuses an unknown or finished conversation with a clear message", async () => {
  await withPool(
    { conversation: { max_turns: 1 } },
    async ({ redis, config, store, agents, create }) => {
      const unknown = await assertRejects<DialogueError>(
        () => requestResume(redis, config, "nope"),
        (e) => e instanceof DialogueError,
      );
      assertEquals(unknown.code, "not_found");
      const id = await create();
      await agents.waitFor(
        "the run to complete",
        async () => (await store.require(id)).status === "completed",
      );
      const done = await assertRejects<DialogueError>(
        () => requestResume(redis, config, id),
        (e) => e instanceof DialogueError,
      );
      assertEquals(done.code, "usage");
      assertStringIncludes(done.message, `Cannot resume conversation ${id} as it is completed`);
    },
  );
});

Deno.test("a pool takes a run over from a dead manager: the ticket it held and the answer it had read but not accepted", async () => {
  await withPool({}, async ({ redis, store, agents }) => {
    const id = await createConversationHeld(redis, agents, 1);
    const keys = conversationKeys(id);
    await agents.waitFor(
      "turn 1 accepted, turn 2 routed",
      async () =>
        (await store.require(id)).turns === 1 && await redis.hexists(keys.routed, "2") === 1,
    );
    // Turn 2 is answered; a manager that then died read its ticket and the answer.
    const request = (await redis.hget(keys.routed, "2"))!;
    const message = reply(id, 2, await requestMessageId(redis, id, 2));
    await runScript(redis, "record_response", [
      keys.meta,
      keys.routed,
      keys.answered,
      keys.responses(2),
    ], [2, request, ...encodeEntry(message)]);
    const inbox = dispatchKeys.inbox(0);
    const ticket = JSON.stringify({ kind: "response", conversation_id: id, seq: 2 });
    await redis.multi()
      .xadd(inbox, "*", "t", ticket)
      .xreadgroup("GROUP", MANAGERS_GROUP, "dead-manager", "COUNT", 10, "STREAMS", inbox, ">")
      .xreadgroup("GROUP", MANAGER_GROUP, "pool", "COUNT", 10, "STREAMS", keys.responses(2), ">")
      .exec();

    await agents.waitFor("turn 2 accepted", async () => (await store.require(id)).turns === 2);
    const [held] = await redis.xpending(inbox, MANAGERS_GROUP) as [number];
    assertEquals(held, 0, "the dead manager's ticket was taken over and settled");
    agents.limit.delete(id);
    await agents.waitFor(
      "the run to complete",
      async () => (await store.require(id)).status === "completed",
    );
    const { responses } = await store.transcript(id);
    assertEquals(responses.map((r) => r.metadata.sequence_number), [1, 2, 3, 4, 5, 6]);
    assertEquals(await redis.xlen(keys.deadLetter), 0);
  });
});

Deno.test("an ordinary turn costs the manager pool about 3 round trips on its command connection", async () => {
  const turns = 300;
  await withPool({
    conversation: { max_turns: turns },
    dispatch: { heartbeat_ms: 5000, dead_after_ms: 15000 },
  }, async ({ poolRedis, store, agents, create }) => {
    // ioredis writes a command, or a whole pipeline, with one socket write.
    // deno-lint-ignore no-explicit-any
    const stream = (poolRedis as any).stream as { write: (...args: unknown[]) => boolean };
    const write = stream.write.bind(stream);
    let writes = 0;
    stream.write = (...args: unknown[]) => {
      writes++;
      return write(...args);
    };
    const id = await create();
    await agents.waitFor(
      "the run to complete",
      async () => (await store.require(id)).status === "completed",
      60_000,
    );
    stream.write = write;
    const perTurn = writes / turns;
    console.log(
      `manager pool: ${writes} round trips for ${turns} turns (${perTurn.toFixed(2)} per turn)`,
    );
    assert(perTurn >= 3 && perTurn < 3.5, `${perTurn.toFixed(2)} round trips per turn`);
  });
});

Deno.test("scenarios are written for many conversations at once, at most four at a time, and every run starts", async () => {
  let inFlight = 0;
  let most = 0;
  const waiting: (() => void)[] = [];
  const backend: LlmBackend = {
    ...NO_LLM,
    description: "scenario double",
    async chat() {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((r) => waiting.push(r));
      inFlight--;
      return {
        content: JSON.stringify(SCENARIO),
        doneReason: "stop",
        metrics: emptyMetrics(),
        timeToFirstTokenMs: 0,
        wallMs: 0,
      };
    },
  };
  await withPool(
    { conversation: { max_turns: 2 }, backend },
    async ({ redis, config, store, agents }) => {
      const ids = await Promise.all(
        Array.from({ length: 10 }, () => createConversation(redis, config)),
      );
      await agents.waitFor("four scenarios in the writing", () => inFlight === 4);
      while (waiting.length > 0 || inFlight > 0) {
        waiting.shift()?.();
        await new Promise((r) => setTimeout(r, 5));
      }
      await agents.waitFor("every run to complete", async () => {
        const metas = await Promise.all(ids.map((id) => store.require(id)));
        return metas.every((m) => m.status === "completed");
      });
      assertEquals(most, 4);
      for (const id of ids) assertEquals((await store.require(id)).scenario, SCENARIO);
    },
  );
});

Deno.test("one manager pool serves 200 conversations at once to their end", async () => {
  await withPool({ conversation: { max_turns: 6 } }, async ({ store, agents, create }) => {
    const started = performance.now();
    const ids = await Promise.all(Array.from({ length: 200 }, () => create()));
    await agents.waitFor("every run to complete", async () => {
      const metas = await Promise.all(ids.map((id) => store.require(id)));
      return metas.every((m) => m.status === "completed");
    }, 60_000);
    const seconds = (performance.now() - started) / 1000;
    console.log(`200 conversations x 6 turns in ${seconds.toFixed(1)} s`);
    for (const id of ids) assertEquals((await store.require(id)).turns, 6);
  });
});

Deno.test("agents repeating each other end the run as loop when loop_action is stop, after the turn that closed the loop", async () => {
  await withPool(
    { conversation: { max_turns: 20, loop_action: "stop" } },
    async ({ store, agents, create }) => {
      agents.content = (_id, seq) =>
        seq <= 2
          ? `Opening move number ${seq} about the storm and the lamp`
          : "Thank you, goodbye!";
      const id = await create();
      await agents.waitFor(
        "the run to end",
        async () => (await store.require(id)).status === "completed",
      );
      const meta = await store.require(id);
      // Turns 3-5 say the same words: the third closes the loop.
      const texts = Array.from({ length: 20 }, (_, i) => agents.content!(id, i + 1));
      const closing = texts.findIndex((_, i) => detectLoop(texts.slice(0, i + 1)).detected) + 1;
      assertEquals(closing, 5);
      assertEquals([meta.stop_reason, meta.turns], ["loop", closing]);
    },
  );
});

Deno.test("an answer recorded just before an interrupt waits, unaccepted, for the resume", async () => {
  await withPool({}, async ({ redis, config, store, agents }) => {
    const id = await createConversationHeld(redis, agents, 1);
    const keys = conversationKeys(id);
    await agents.waitFor(
      "turn 1 accepted, turn 2 routed",
      async () =>
        (await store.require(id)).turns === 1 && await redis.hexists(keys.routed, "2") === 1,
    );
    const request = (await redis.hget(keys.routed, "2"))!;
    const message = reply(id, 2, await requestMessageId(redis, id, 2));
    await runScript(redis, "record_response", [
      keys.meta,
      keys.routed,
      keys.answered,
      keys.responses(2),
    ], [2, request, ...encodeEntry(message)]);
    await interruptConversations(redis, config, [id]);
    addManagerTicket(redis, { kind: "response", conversation_id: id, seq: 2 }, { partitions: 1 });
    await agents.waitFor("the response ticket handled", async () => {
      const [held] = await redis.xpending(dispatchKeys.inbox(0), MANAGERS_GROUP) as [number];
      const [pending] = await redis.xpending(keys.responses(2), MANAGER_GROUP) as [number];
      return held === 0 && pending === 1;
    });
    assertEquals((await store.require(id)).turns, 1, "not counted while interrupted");

    agents.limit.delete(id);
    await requestResume(redis, config, id);
    await agents.waitFor(
      "the run to complete",
      async () => (await store.require(id)).status === "completed",
    );
    const { responses } = await store.transcript(id);
    assertEquals(responses.map((r) => r.message_id).slice(1, 2), [message.message_id]);
    assertEquals((await store.require(id)).turns, 6);
  });
});

Deno.test("a created conversation records the DialogueLLM and Deno versions, and its analysis names them", async () => {
  await withPool({}, async ({ store, agents, create }) => {
    const id = await create();
    await agents.waitFor(
      "the run to end",
      async () => (await store.require(id)).status === "completed",
    );
    const { meta } = await store.transcript(id);
    assertEquals(meta.config.versions, {
      dialogue_llm: DIALOGUE_LLM_VERSION,
      deno: Deno.version.deno,
    });
    const report = analyzeRun(await store.transcript(id));
    assertEquals(report.settings.versions, {
      dialogue_llm: DIALOGUE_LLM_VERSION,
      deno: Deno.version.deno,
    });
  });
});
