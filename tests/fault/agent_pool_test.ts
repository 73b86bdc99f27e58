/**
 * Fault injection, agent pool: real worker processes (`agent.ts` without
 * --id) share the turns of many conversations; one is SIGKILLed mid-run and
 * its held turns are taken over. The manager's side is played in-process by
 * tests/agent/pool_rig.ts. The verdict is what the streams hold at the end.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { assertCleanExit, FaultRig, until } from "../helpers/fault_rig.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { conversationKeys, dispatchKeys, WORKER_GROUP } from "../../lib/bus/keys.ts";
import {
  createRunning,
  responseCounts,
  route,
  SCENARIO,
  standInManager,
} from "../agent/pool_rig.ts";
import { createConversation } from "../../lib/manager/conversation_setup.ts";

const CONVERSATIONS = 30;
const TURNS = 6;

Deno.test("3 pool workers serve 30 conversations while one is SIGKILLed: every turn recorded exactly once", async () => {
  // A few hundred ms per reply, so the kill lands with generations in flight.
  const rig = await FaultRig.start({
    tokenDelayMs: 5,
    wordsPerReply: 10,
    config: { dispatch: { heartbeat_ms: 200, dead_after_ms: 1000 } },
  });
  const managerConn = await connectRedis(
    parseConfig({ redis: { url: rig.redisServer.url } }).redis,
    { name: "stand-in-manager", blocking: true },
  );
  const stop = new AbortController();
  try {
    const workers = await Promise.all(
      [1, 2, 3].map((n) =>
        rig.spawn("agent.ts", ["--concurrency", "4", "--consumer", `w${n}`], `worker ${n}`)
      ),
    );
    const manager = standInManager(managerConn, { maxTurns: TURNS, signal: stop.signal });
    const ids = Array.from({ length: CONVERSATIONS }, (_, i) => `pool-kill-${i}`);
    for (const id of ids) await createRunning(rig.redis, id, { maxTurns: TURNS });
    for (const id of ids) await route(rig.redis, id, 1);

    // Kill worker 1 once the run is well under way and it holds tickets.
    const work = dispatchKeys.work("tiny", 0);
    await until("worker 1 holding tickets a third of the way in", async () => {
      const turns = await Promise.all(
        ids.map((id) => rig.redis.hget(conversationKeys(id).meta, "turns")),
      );
      const done = turns.reduce((sum, t) => sum + Number(t ?? 0), 0);
      if (done < (CONVERSATIONS * TURNS) / 3) return undefined;
      const held = await rig.redis.xpending(work, WORKER_GROUP, "-", "+", 10, "w1") as unknown[];
      return held.length > 0 ? true : undefined;
    }, 30_000);
    workers[0]!.kill("SIGKILL");
    await workers[0]!.done;

    await until("every conversation completed", async () => {
      const statuses = await Promise.all(
        ids.map((id) => rig.redis.hget(conversationKeys(id).meta, "status")),
      );
      return statuses.every((s) => s === "completed") ? true : undefined;
    }, 45_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${rig.report()}`);
    });
    stop.abort();
    const { accepted } = await manager;
    assertEquals(accepted, CONVERSATIONS * TURNS, "each turn accepted once");
    for (const id of ids) {
      const counts = await responseCounts(rig.redis, id);
      assertEquals(
        [...counts.entries()].sort((a, b) => a[0] - b[0]),
        Array.from({ length: TURNS }, (_, i) => [i + 1, 1]),
        `${id}: one response per turn`,
      );
    }
    for (const worker of workers.slice(1)) worker.kill("SIGTERM");
    for (const worker of workers.slice(1)) await assertCleanExit(worker, [0], 10_000);
    const served = workers.slice(1).map((w) => w.stderr()).join("\n");
    assert(
      /Took over \d+ ticket\(s\) of "?w1"?/.test(served),
      `w1's tickets taken over:\n${served}`,
    );
  } finally {
    stop.abort();
    await closeRedis(managerConn);
    await rig.close();
  }
});

Deno.test("agent pool workers and a manager pool run 30 conversations while a worker is SIGKILLed: all complete, 0 lost, 0 duplicated", async () => {
  const rig = await FaultRig.start({
    tokenDelayMs: 5,
    wordsPerReply: 10,
    config: { dispatch: { heartbeat_ms: 200, dead_after_ms: 1000 } },
  });
  try {
    const config = parseConfig({
      redis: { url: rig.redisServer.url },
      agents: { model: "tiny" },
      conversation: { max_turns: TURNS, loop_action: "off", duration_seconds: 120 },
    });
    const manager = await rig.spawn("manager.ts", ["--pool", "--consumer", "m1"], "manager pool");
    const workers = await Promise.all(
      [1, 2, 3].map((n) =>
        rig.spawn("agent.ts", ["--concurrency", "4", "--consumer", `w${n}`], `worker ${n}`)
      ),
    );
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      ids.push(
        await createConversation(rig.redis, config, { id: `pools-${i}`, scenario: SCENARIO }),
      );
    }
    const work = dispatchKeys.work("tiny", 0);
    await until("worker 2 holding tickets a third of the way in", async () => {
      const turns = await Promise.all(
        ids.map((id) => rig.redis.hget(conversationKeys(id).meta, "turns")),
      );
      if (turns.reduce((sum, t) => sum + Number(t ?? 0), 0) < (CONVERSATIONS * TURNS) / 3) {
        return undefined;
      }
      const held = await rig.redis.xpending(work, WORKER_GROUP, "-", "+", 10, "w2") as unknown[];
      return held.length > 0 ? true : undefined;
    }, 30_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${rig.report()}`);
    });
    workers[1]!.kill("SIGKILL");
    await workers[1]!.done;
    await until("every conversation completed", async () => {
      const statuses = await Promise.all(
        ids.map((id) => rig.redis.hget(conversationKeys(id).meta, "status")),
      );
      return statuses.every((s) => s === "completed") ? true : undefined;
    }, 45_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${rig.report()}`);
    });
    for (const id of ids) {
      const meta = await rig.redis.hmget(conversationKeys(id).meta, "turns", "stop_reason");
      assertEquals(meta, [String(TURNS), "max_turns"], id);
      const counts = await responseCounts(rig.redis, id);
      assertEquals(
        [...counts.entries()].sort((a, b) => a[0] - b[0]),
        Array.from({ length: TURNS }, (_, i) => [i + 1, 1]),
        `${id}: one response per turn`,
      );
    }
    for (const proc of [manager, workers[0]!, workers[2]!]) proc.kill("SIGTERM");
    for (const proc of [manager, workers[0]!, workers[2]!]) {
      await assertCleanExit(proc, [0, 130], 10_000);
    }
  } finally {
    await rig.close();
  }
});
