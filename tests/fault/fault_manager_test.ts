/**
 * Fault injection, manager: the manager killed mid-run and resumed from
 * Redis, and `deno task chat --resume` after Ctrl-C. Real processes, a real
 * redis-server and the Ollama double.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  assertCleanExit,
  assertTurnLog,
  FaultRig,
  newTestId,
  STORY,
  until,
} from "../helpers/fault_rig.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";

Deno.test("a manager killed mid-run is resumed with --resume from its state in Redis and the run completes", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 30, wordsPerReply: 25 });
  try {
    const id = newTestId("manager-kill");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "5"]);
    await rig.waitForTokens(id, 2);
    const before = await rig.meta(id);
    assertEquals(before.turns, 1);
    manager.kill("SIGKILL");
    await manager.done;

    // Agent 2 finishes turn 2 with nobody to route it: the answer waits in Redis.
    const keys = conversationKeys(id);
    await until(
      "agent 2's answer to turn 2",
      async () => await rig.redis.xlen(keys.responses(2)) === 1 ? true : undefined,
    );
    assertEquals(await rig.redis.xlen(keys.requests(1)), 1, "turn 3 not routed yet");
    assertEquals((await rig.meta(id)).status, "running", "a killed manager records nothing");

    const resumed = await rig.resumeManager(id);
    await assertCleanExit(resumed, [0], 40_000);
    await assertCleanExit(agent1, [0]);
    await assertCleanExit(agent2, [0]);
    assertStringIncludes(resumed.stderr(), `Resuming conversation "${id}" at turn 1`);
    await assertTurnLog(rig, id, { turns: 5 });
    const after = await rig.meta(id);
    assertEquals(after.deadline, before.deadline, "a resumed run keeps its deadline");
    assertEquals(after.started_at, before.started_at, "and its start time");
    assertEquals(after.max_turns, 5);
  } finally {
    await rig.close();
  }
});

Deno.test("deno task chat --resume continues a run interrupted by Ctrl-C on deno task chat to completion", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 30, wordsPerReply: 25 });
  try {
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--max-turns", "8", "--no-analysis"],
      "chat",
    );
    const id = await until("the conversation", async () => await rig.store.latest());
    await rig.waitForTokens(id, 2);
    chat.kill("SIGINT");
    await assertCleanExit(chat, [130], 30_000);
    const interrupted = await rig.meta(id);
    assertEquals(interrupted.status, "interrupted", rig.report());
    assertEquals(interrupted.stop_reason, "interrupted");
    assert(interrupted.turns < 8, `interrupted at turn ${interrupted.turns}`);

    const resumed = await rig.spawn("main.ts", ["--resume", id, "--no-analysis"], "chat --resume");
    await assertCleanExit(resumed, [0], 40_000);
    assertStringIncludes(resumed.stdout(), "Run ended: completed (max_turns) after 8 turns");
    await assertTurnLog(rig, id, { turns: 8 });
  } finally {
    await rig.close();
  }
});
