/**
 * Fault injection, manager pool: a `deno task manager --pool` process
 * SIGKILLed while it serves several conversations, and a second pool taking
 * them over from Redis. Real processes (manager pools and an agent pool), a
 * real redis-server and the Ollama double.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { assertCleanExit, assertTurnLog, FaultRig, until } from "../helpers/fault_rig.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { createConversation } from "../../lib/manager/conversation_setup.ts";
import { readScenarioFile } from "../../lib/manager/scenario_writer.ts";

const TURNS = 8;
const RUNS = 6;

Deno.test("a manager pool SIGKILLed mid-run is taken over by a new one and every run completes with 0 lost and 0 duplicated turns", async () => {
  const rig = await FaultRig.start({
    tokenDelayMs: 15,
    wordsPerReply: 20,
    config: { dispatch: { heartbeat_ms: 200, dead_after_ms: 1000 } },
  });
  try {
    const config = parseConfig({
      agents: { model: "tiny" },
      conversation: { max_turns: TURNS, loop_action: "off", stale_action: "off" },
    });
    const scenario = await readScenarioFile("tests/fixtures/story.json");
    const first = await rig.spawn("manager.ts", ["--pool", "--consumer", "pool-a"], "manager A");
    const agents = await rig.spawn(
      "agent.ts",
      ["--consumer", "agents", "--concurrency", "4"],
      "agents",
    );
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      ids.push(await createConversation(rig.redis, config, { scenario }));
    }

    await until(
      "every run past turn 2",
      async () => {
        const metas = await Promise.all(ids.map((id) => rig.meta(id)));
        return metas.every((m) => m.turns >= 2) ? true : undefined;
      },
      30_000,
      () => rig.report(),
    );
    first.kill("SIGKILL");
    await first.done;
    const atKill = await Promise.all(ids.map((id) => rig.meta(id)));
    assert(atKill.every((m) => m.status === "running"), "a killed pool records nothing");

    // Replies recorded meanwhile wait in Redis for a manager.
    await until(
      "an answer nobody accepted",
      async () => {
        for (const [i, id] of ids.entries()) {
          const answered = await rig.redis.hlen(conversationKeys(id).answered);
          if (answered > atKill[i]!.turns) return true;
        }
        return undefined;
      },
      20_000,
      () => rig.report(),
    );

    const second = await rig.spawn("manager.ts", ["--pool", "--consumer", "pool-b"], "manager B");
    await until(
      "every run to complete",
      async () => {
        const metas = await Promise.all(ids.map((id) => rig.meta(id)));
        return metas.every((m) => m.status === "completed") ? true : undefined;
      },
      60_000,
      () => rig.report(),
    );
    for (const id of ids) await assertTurnLog(rig, id, { turns: TURNS });

    second.kill("SIGTERM");
    agents.kill("SIGTERM");
    await assertCleanExit(second, [0], 10_000);
    await assertCleanExit(agents, [0], 10_000);
    assertEquals(
      await rig.redis.hexists("dialogue:heartbeats", "pool-b"),
      0,
      "a pool stopped cleanly leaves no heartbeat behind",
    );
  } finally {
    await rig.close();
  }
});
