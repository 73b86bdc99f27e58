/**
 * Single-slot mode (runAgent) in-process against a real redis-server and the
 * Ollama double: the same decision and recording path as the pool.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { AGENT_GROUP, conversationKeys, dispatchKeys } from "../../lib/bus/keys.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { ollamaBackendFor } from "../../lib/llm/ollama/ollama_backend.ts";
import { runAgent } from "../../lib/agent/agent_worker.ts";
import { transitionStatus } from "../../lib/bus/status_transition.ts";
import { createRunning, requestFor, responseCounts } from "./pool_rig.ts";

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const giveUp = Date.now() + 10_000;
  while (Date.now() < giveUp) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test("runAgent() dead-letters a request with the other slot's turn number and records the routed one with record_response", async () => {
  const server = await RedisServer.start();
  const double = await OllamaDouble.start({ tokenDelayMs: 1 });
  const config = parseConfig({
    redis: { url: server.url },
    ollama: { host: double.url },
    conversation: { claim_idle_seconds: 2 },
  });
  const clients: Redis[] = [];
  const connect = async (name: string, blocking = false) => {
    const client = await connectRedis(config.redis, { name, blocking });
    clients.push(client);
    return client;
  };
  const controller = new AbortController();
  try {
    const redis = await connect("test");
    const id = "single-slot";
    const keys = conversationKeys(id);
    await createRunning(redis, id);
    // Turn 2 is agent 2's: injected on agent 1's stream before the routed turn 1.
    await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 2)));
    const routed = await redis.xadd(keys.requests(1), "*", ...encodeEntry(requestFor(id, 1)));
    await redis.hset(keys.routed, "1", routed!);
    const running = runAgent({
      config,
      agent: 1,
      conversationId: id,
      redis: await connect("agent"),
      blocking: await connect("agent-read", true),
      subscriber: await connect("agent-control", true),
      backend: ollamaBackendFor(config.ollama, double.url),
      signal: controller.signal,
    });
    await until(
      "turn 1 answered",
      () => redis.hget(keys.answered, "1").then((v) => v ?? undefined),
    );
    const [dead] = await redis.xrange(keys.deadLetter, "-", "+");
    assert(dead, "the injected request is dead-lettered");
    assert(
      dead[1][dead[1].indexOf("reason") + 1]!.includes("turn 2 is agent 2's"),
      dead[1].join(" "),
    );
    assertEquals(double.requests.filter((r) => r.path === "/api/chat").length, 1, "served once");
    assertEquals([...(await responseCounts(redis, id)).entries()], [[1, 1]]);
    const ticket = await redis.xrange(dispatchKeys.inbox(0), "-", "+");
    assertEquals(ticket.map(([, f]) => JSON.parse(f[1]!)), [{
      kind: "response",
      conversation_id: id,
      seq: 1,
    }]);
    const pending = await redis.xpending(keys.requests(1), AGENT_GROUP) as [number];
    assertEquals(pending[0], 0, "both requests acknowledged");
    await transitionStatus(redis, id, "completed", { set: { stop_reason: "max_turns" } });
    assertEquals((await running).turns, 1, "the agent exits once the run has ended");
  } finally {
    controller.abort();
    await closeRedis(...clients.reverse());
    await double.close();
    await server.stop();
  }
});
