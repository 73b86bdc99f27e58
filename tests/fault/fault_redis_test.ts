/**
 * Fault injection, Redis: the server killed and restarted mid-run (AOF on),
 * and an outage longer than `redis.max_unavailable_seconds`. Real processes,
 * a real redis-server and the Ollama double.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  assertCleanExit,
  assertTurnLog,
  FaultRig,
  hasStackTrace,
  newTestId,
  until,
} from "../helpers/fault_rig.ts";

Deno.test("Redis killed and restarted mid-run (AOF): every process reconnects, the run completes, no turn is lost", async () => {
  const rig = await FaultRig.start({
    aof: true,
    tokenDelayMs: 30,
    wordsPerReply: 25,
    config: { redis: { max_unavailable_seconds: 10 } },
  });
  try {
    const id = newTestId("redis-restart");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "5"]);
    await rig.waitForTokens(id, 2);
    await rig.redisServer.kill();
    await new Promise((r) => setTimeout(r, 1000));
    await rig.redisServer.restart();

    await assertCleanExit(manager, [0], 40_000);
    await assertCleanExit(agent1, [0]);
    await assertCleanExit(agent2, [0]);
    await assertTurnLog(rig, id, { turns: 5 });
    for (const proc of [manager, agent1, agent2]) {
      assert(!proc.stderr().includes("unreachable for more than"), proc.describe());
    }
  } finally {
    await rig.close();
  }
});

Deno.test("Redis down longer than max_unavailable_seconds: every process exits with a clear message and the run is recorded as failed once Redis is back", async () => {
  const rig = await FaultRig.start({
    aof: true,
    tokenDelayMs: 30,
    wordsPerReply: 25,
    config: { redis: { max_unavailable_seconds: 3 } },
  });
  try {
    const id = newTestId("redis-outage");
    const procs = await rig.trio(id, ["--max-turns", "20"]);
    await rig.waitForTokens(id, 2);
    await rig.redisServer.kill();
    const limit = "has been unreachable for more than 3 s";
    // Bring Redis back once the manager has given up, while it still waits
    // to record why the run stopped.
    await until(
      "the manager to give up on Redis",
      () => Promise.resolve(procs.manager.stderr().includes(limit) ? true : undefined),
      20_000,
      () => rig.report(),
    );
    await rig.redisServer.restart();

    for (const proc of [procs.manager, procs.agent1, procs.agent2]) {
      await assertCleanExit(proc, [1], 20_000);
      assertStringIncludes(proc.stderr(), `Redis at ${rig.redisServer.url} ${limit}`);
      assert(!hasStackTrace(proc.stderr()), proc.describe());
    }
    assertStringIncludes(procs.manager.stderr(), `recorded conversation ${id} as failed`);
    const meta = await rig.meta(id);
    assertEquals(meta.status, "failed");
    assertEquals(meta.stop_reason, "error");
    assertStringIncludes(meta.error ?? "", limit);
    assert(meta.turns < 20, `stopped at turn ${meta.turns}`);
  } finally {
    await rig.close();
  }
});

Deno.test("Redis restarted empty after an outage: the manager does not claim to have recorded the failure", async () => {
  // No AOF: the restarted server has lost the conversation.
  const rig = await FaultRig.start({
    tokenDelayMs: 30,
    wordsPerReply: 25,
    config: { redis: { max_unavailable_seconds: 3 } },
  });
  try {
    const id = newTestId("redis-empty");
    const procs = await rig.trio(id, ["--max-turns", "20"]);
    await rig.waitForTokens(id, 1);
    await rig.redisServer.kill();
    await until(
      "the manager to give up on Redis",
      () =>
        Promise.resolve(
          procs.manager.stderr().includes("unreachable for more than 3 s") ? true : undefined,
        ),
      20_000,
      () => rig.report(),
    );
    await rig.redisServer.restart();
    await assertCleanExit(procs.manager, [1], 20_000);
    assertEquals(await rig.store.get(id), undefined, "the conversation is gone");
    assert(
      !procs.manager.stderr().includes(`recorded conversation ${id} as failed`),
      `the manager says it recorded a conversation that no longer exists:\n${procs.manager.describe()}`,
    );
  } finally {
    await rig.close();
  }
});
