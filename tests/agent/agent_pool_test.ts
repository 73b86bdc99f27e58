/**
 * runAgentPool() in-process against a real redis-server and the Ollama
 * double over HTTP; the manager's side is played by tests/agent/pool_rig.ts
 * (add_once + agent tickets, accept_response), as the manager pool does it.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { OllamaDouble, type OllamaDoubleOptions } from "../../lib/testing/ollama_double.ts";
import { type Config, parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { conversationKeys, dispatchKeys, WORKER_GROUP } from "../../lib/bus/keys.ts";
import { addAgentTicket, type AgentTicket } from "../../lib/bus/dispatch.ts";
import { encodeEntry, readWholeStream } from "../../lib/bus/stream_entry.ts";
import { ollamaBackendFor } from "../../lib/llm/ollama/ollama_backend.ts";
import type { LlmBackend } from "../../lib/llm/llm_backend.ts";
import { LiveEvent } from "../../lib/model/live_event.ts";
import { endRun } from "../../lib/manager/run_ending.ts";
import { runAgentPool } from "../../lib/agent/agent_pool.ts";
import type { TurnResult } from "../../lib/agent/turn_server.ts";
import { createRunning, requestFor, responseCounts, route, standInManager } from "./pool_rig.ts";

interface Rig {
  redis: Redis;
  config: Config;
  double: OllamaDouble;
  connect(name: string, blocking?: boolean): Promise<Redis>;
  /** Starts a pool worker in-process; `stop` ends it and returns what it did. */
  pool(options?: { concurrency?: number }): {
    results: { ticket: AgentTicket; result: TurnResult }[];
    maxInFlight: () => number;
    waitFor: (n: number) => Promise<void>;
    stop: () => Promise<number>;
  };
  /** Runs the stand-in manager until `stop`. */
  manager(maxTurns: number): { stop: () => Promise<{ accepted: number; duplicates: number }> };
}

async function withRig(
  doubleOptions: OllamaDoubleOptions,
  fn: (rig: Rig) => Promise<void>,
): Promise<void> {
  const server = await RedisServer.start();
  const double = await OllamaDouble.start(doubleOptions);
  const config = parseConfig({
    redis: { url: server.url },
    ollama: { host: double.url },
    dispatch: { heartbeat_ms: 200, dead_after_ms: 1000 },
    conversation: { loop_action: "off" },
  });
  const clients: Redis[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  const connect = async (name: string, blocking = false) => {
    const client = await connectRedis(config.redis, { name, blocking });
    clients.push(client);
    return client;
  };
  try {
    const redis = await connect("test");
    await fn({
      redis,
      config,
      double,
      connect,
      pool(options = {}) {
        const controller = new AbortController();
        const results: { ticket: AgentTicket; result: TurnResult }[] = [];
        let inFlight = 0;
        let maxInFlight = 0;
        const waiters: (() => void)[] = [];
        const inner = ollamaBackendFor(config.ollama, double.url);
        const backend: LlmBackend = {
          description: inner.description,
          ensureModel: (...args) => inner.ensureModel(...args),
          async chat(request, chatOptions) {
            maxInFlight = Math.max(maxInFlight, ++inFlight);
            try {
              return await inner.chat(request, chatOptions);
            } finally {
              inFlight--;
            }
          },
        } as LlmBackend;
        const running = (async () => {
          const own = await connect("pool");
          const subscriber = await connect("pool-sub", true);
          return await runAgentPool({
            config,
            redis: own,
            subscriber,
            consumer: `pool-${crypto.randomUUID().slice(0, 6)}`,
            concurrency: options.concurrency ?? 1,
            blockMs: 100,
            backendFor: () => backend,
            onTurn: (ticket, result) => {
              results.push({ ticket, result });
              for (const wake of waiters.splice(0)) wake();
            },
            signal: controller.signal,
          });
        })();
        const stop = async () => {
          controller.abort();
          return (await running).turns;
        };
        stops.push(stop);
        return {
          results,
          maxInFlight: () => maxInFlight,
          async waitFor(n) {
            while (results.length < n) await new Promise<void>((r) => waiters.push(r));
          },
          stop,
        };
      },
      manager(maxTurns) {
        const controller = new AbortController();
        const running = connect("manager", true).then((conn) =>
          standInManager(conn, { maxTurns, signal: controller.signal })
        );
        const stop = async () => {
          controller.abort();
          return await running;
        };
        stops.push(stop);
        return { stop };
      },
    });
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await closeRedis(...clients.reverse());
    await double.close();
    await server.stop();
  }
}

async function statusOf(redis: Redis, id: string): Promise<string | null> {
  return await redis.hget(conversationKeys(id).meta, "status");
}

/** Waits until every conversation in `ids` completed. */
async function allCompleted(redis: Redis, ids: string[], timeoutMs = 20_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (Date.now() < giveUp) {
    const statuses = await Promise.all(ids.map((id) => statusOf(redis, id)));
    if (statuses.every((s) => s === "completed")) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out waiting for ${ids.join(", ")} to complete`);
}

async function liveEvents(redis: Redis, id: string): Promise<LiveEvent[]> {
  return (await redis.xrange(conversationKeys(id).live, "-", "+")).map(([, f]) =>
    LiveEvent.parse(JSON.parse(f[1]!))
  );
}

Deno.test("runAgentPool() serves the turns of several conversations with K generations in flight", async () => {
  await withRig({ tokenDelayMs: 3, wordsPerReply: 12 }, async ({ redis, pool, manager }) => {
    const ids = Array.from({ length: 6 }, (_, i) => `pool-${i}`);
    const worker = pool({ concurrency: 3 });
    const stand = manager(4);
    for (const id of ids) await createRunning(redis, id, { maxTurns: 4 });
    for (const id of ids) await route(redis, id, 1);
    await allCompleted(redis, ids);
    const { accepted } = await stand.stop();
    assertEquals(accepted, 24);
    for (const id of ids) {
      assertEquals(await statusOf(redis, id), "completed", id);
      assertEquals([...(await responseCounts(redis, id)).entries()].sort(), [
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
      ]);
    }
    assertEquals(await worker.stop(), 24);
    assertEquals(worker.maxInFlight(), 3, "three generations at once, never more");
  });
});

Deno.test("runAgentPool() writes every token to the live stream, in order, one header per turn", async () => {
  await withRig(
    { tokenDelayMs: 0, wordsPerReply: 120, splitUtf8: false },
    async ({ redis, pool, manager }) => {
      const ids = ["live-a", "live-b"];
      const worker = pool({ concurrency: 2 });
      const stand = manager(4);
      for (const id of ids) await createRunning(redis, id, { maxTurns: 4 });
      for (const id of ids) await route(redis, id, 1);
      await allCompleted(redis, ids);
      await stand.stop();
      for (const id of ids) {
        const events = await liveEvents(redis, id);
        const responses = [
          ...await readWholeStream(redis, conversationKeys(id).responses(1)),
          ...await readWholeStream(redis, conversationKeys(id).responses(2)),
        ].map((e) => e.message).sort((a, b) =>
          a.metadata.sequence_number - b.metadata.sequence_number
        );
        const headers = events.filter((e) => e.type === "turn_start").map((e) => e.seq);
        assertEquals(headers, [1, 2, 3, 4], "one header per turn, in turn order");
        for (const response of responses) {
          const seq = response.metadata.sequence_number;
          const own = events.filter((e) => "seq" in e && e.seq === seq);
          assertEquals(own[0]?.type, "turn_start");
          assertEquals(own.at(-1)?.type, "turn_end");
          const text = own.map((e) => e.type === "token" ? e.text : "").join("");
          assertEquals(text, response.content, `every token of turn ${seq} in order`);
          const tokens = own.filter((e) => e.type === "token").length;
          assert(tokens < response.metadata.tokens_generated, `coalesced: ${tokens} events`);
          assert(response.metadata.llm_ms > 0, "llm_ms measured");
          assert(response.metadata.wall_time_ms >= response.metadata.llm_ms);
        }
      }
      await worker.stop();
    },
  );
});

Deno.test("runAgentPool() dead-letters another slot's turn, a future turn and an unrouted entry, and never serves them", async () => {
  await withRig({ tokenDelayMs: 1 }, async ({ redis, double, pool }) => {
    const id = "inject";
    const keys = conversationKeys(id);
    await createRunning(redis, id);
    // Turn 1 routed (no ticket yet), then three tickets that must not be served.
    const routedId = await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 1)));
    await redis.hset(keys.routed, "1", routedId!);
    const otherSlot = await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 2)));
    const future = await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 3)));
    const unrouted = await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 1)));
    const tickets: AgentTicket[] = [
      { conversation_id: id, agent: 1, seq: 2, request: otherSlot!, model: "tiny" },
      { conversation_id: id, agent: 1, seq: 3, request: future!, model: "tiny" },
      { conversation_id: id, agent: 1, seq: 1, request: unrouted!, model: "tiny" },
    ];
    for (const ticket of tickets) addAgentTicket(redis, ticket, { partitions: 1 });
    const worker = pool();
    await worker.waitFor(3);
    assertEquals(worker.results.map((r) => r.result.outcome), [
      "dead_lettered",
      "dead_lettered",
      "dead_lettered",
    ]);
    const reasons = (await redis.xrange(keys.deadLetter, "-", "+")).map(([, f]) =>
      f[f.indexOf("reason") + 1]
    );
    assertEquals(reasons.length, 3);
    assert(reasons[0]!.includes("turn 2 is agent 2's"), reasons[0]);
    assert(
      reasons[1]!.includes("turn 3 is not the next turn") || reasons[1]!.includes("never routed"),
      reasons[1],
    );
    assert(reasons[2]!.includes("not the one routed for turn 1"), reasons[2]);
    assertEquals(double.requests.filter((r) => r.path === "/api/chat").length, 0, "none served");
    assertEquals(await redis.hlen(keys.answered), 0);

    // The routed request is served once.
    addAgentTicket(redis, {
      conversation_id: id,
      agent: 1,
      seq: 1,
      request: routedId!,
      model: "tiny",
    }, {
      partitions: 1,
    });
    await worker.waitFor(4);
    assertEquals(worker.results[3]!.result.outcome, "recorded");
    assertEquals([...(await responseCounts(redis, id)).entries()], [[1, 1]]);
    const pending = await redis.xpending(dispatchKeys.work("tiny", 0), WORKER_GROUP) as [number];
    assertEquals(pending[0], 0, "every ticket acknowledged");
    await worker.stop();
  });
});

Deno.test("runAgentPool() aborts the generation of a run that ends, and records nothing for it", async () => {
  await withRig({ tokenDelayMs: 50, wordsPerReply: 60 }, async ({ redis, config, pool }) => {
    const id = "cancelled";
    await createRunning(redis, id);
    const worker = pool();
    await route(redis, id, 1);
    const keys = conversationKeys(id);
    // Wait for the first live token: the generation is under way.
    let after = "0";
    for (let seen = false; !seen;) {
      const reply = await redis.xread("BLOCK", 5000, "STREAMS", keys.live, after);
      for (const [entry, fields] of reply?.[0]?.[1] ?? []) {
        after = entry;
        if (JSON.parse(fields[1]!).type === "token") seen = true;
      }
    }
    const ended = Date.now();
    await endRun(redis, id, {
      status: "completed",
      reason: "duration",
      retentionSeconds: config.retention.seconds,
    });
    await worker.waitFor(1);
    assert(Date.now() - ended < 1000, `aborted in ${Date.now() - ended} ms, not after ~3 s`);
    assertEquals(worker.results[0]!.result.outcome, "cancelled");
    assertEquals(await redis.xlen(keys.responses(1)), 0);
    await worker.stop();
  });
});

Deno.test("runAgentPool() does not count an interrupted run's pause in the turn's wall time", async () => {
  await withRig({ tokenDelayMs: 1 }, async ({ redis, pool }) => {
    const id = "paused";
    const keys = conversationKeys(id);
    await createRunning(redis, id);
    // Routed a minute ago, then the run was interrupted and resumed just now.
    const request = { ...requestFor(id, 1), queue_timestamp: Date.now() - 60_000 };
    const entry = await redis.xadd(keys.requests(1), "*", ...encodeEntry(request));
    await redis.hset(keys.routed, "1", entry!);
    await redis.hset(keys.meta, "resumed_at", String(Date.now()));
    const worker = pool();
    addAgentTicket(
      redis,
      { conversation_id: id, agent: 1, seq: 1, request: entry!, model: "tiny" },
      {
        partitions: 1,
      },
    );
    await worker.waitFor(1);
    const [response] = await readWholeStream(redis, keys.responses(1));
    const wall = response!.message.metadata.wall_time_ms;
    assert(wall < 5_000, `wall time ${wall} ms counts from the resume, not from the request`);
    assert(wall >= response!.message.metadata.llm_ms);
    await worker.stop();
  });
});

Deno.test("runAgentPool() with a model filter serves only the work of its models", async () => {
  await withRig({ tokenDelayMs: 1, models: ["alpha:latest", "beta:latest"] }, async (rig) => {
    const { redis, config, connect } = rig;
    const results: Record<string, string[]> = { alpha: [], beta: [] };
    const controller = new AbortController();
    const done = new Map<string, () => void>();
    const pools = await Promise.all(["alpha", "beta"].map(async (model) => {
      const finished = new Promise<void>((r) => done.set(model, r));
      const running = runAgentPool({
        config,
        redis: await connect(`pool-${model}`),
        subscriber: await connect(`pool-${model}-sub`, true),
        consumer: `only-${model}`,
        models: [model],
        blockMs: 100,
        onTurn: (ticket) => {
          results[model]!.push(`${ticket.conversation_id}:${ticket.model}`);
          if (results[model]!.length === 2) done.get(model)!();
        },
        signal: controller.signal,
      });
      return { running, finished };
    }));
    for (const [id, model] of [["a1", "alpha"], ["b1", "beta"], ["a2", "alpha"], ["b2", "beta"]]) {
      await createRunning(redis, id!, { model: model! });
      await route(redis, id!, 1, model!);
    }
    await Promise.all(pools.map((p) => p.finished));
    controller.abort();
    await Promise.all(pools.map((p) => p.running));
    assertEquals(results, { alpha: ["a1:alpha", "a2:alpha"], beta: ["b1:beta", "b2:beta"] });
  });
});

Deno.test("runAgentPool() acknowledges the ticket of an interrupted run without serving it", async () => {
  await withRig({ tokenDelayMs: 1 }, async ({ redis, double, pool }) => {
    const id = "interrupted";
    await createRunning(redis, id);
    await redis.hset(conversationKeys(id).meta, "status", "interrupted");
    const worker = pool();
    await route(redis, id, 1);
    await worker.waitFor(1);
    assertEquals(worker.results[0]!.result.outcome, "held");
    assertEquals(double.requests.filter((r) => r.path === "/api/chat").length, 0);
    const pending = await redis.xpending(dispatchKeys.work("tiny", 0), WORKER_GROUP) as [number];
    assertEquals(pending[0], 0, "resume re-issues the ticket; this one is done");
    await worker.stop();
  });
});

Deno.test("runAgentPool() fails the run when its model is missing, through endRun", async () => {
  await withRig({ tokenDelayMs: 1 }, async ({ redis, double, pool }) => {
    const id = "no-model";
    await createRunning(redis, id);
    double.enqueueFault({ kind: "status", status: 404, error: "model 'tiny' not found" });
    const worker = pool();
    await route(redis, id, 1);
    await worker.waitFor(1);
    assertEquals(worker.results[0]!.result.outcome, "failed");
    const meta = await redis.hmget(conversationKeys(id).meta, "status", "stop_reason", "error");
    assertEquals(meta.slice(0, 2), ["failed", "error"]);
    assert(meta[2]?.includes("tiny"), meta[2] ?? "");
    await worker.stop();
  });
});
