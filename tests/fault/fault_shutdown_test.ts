/**
 * Fault injection, graceful shutdown: SIGTERM to an agent mid-generation and
 * SIGINT to the manager, then carrying the run on. Real processes, a real
 * redis-server and the Ollama double.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  assertCleanExit,
  assertTurnLog,
  FaultRig,
  newTestId,
  until,
} from "../helpers/fault_rig.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";

Deno.test("SIGTERM to an agent mid-generation: it exits promptly, acknowledges nothing and closes its connections", async () => {
  // About 3 s per reply: the signal lands well inside the generation.
  const rig = await FaultRig.start({
    tokenDelayMs: 50,
    wordsPerReply: 50,
    config: { ollama: { request_timeout_ms: 20_000 } },
  });
  try {
    const id = newTestId("agent-sigterm");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "2"]);
    await rig.waitForTokens(id, 1);
    const signalled = performance.now();
    agent1.kill("SIGTERM");
    await assertCleanExit(agent1, [130], 10_000);
    const elapsed = performance.now() - signalled;
    assert(elapsed < 3000, `agent 1 exited ${Math.round(elapsed)} ms after SIGTERM`);

    const pending = await rig.pendingRequests(id, 1);
    assertEquals(pending.length, 1, "the unfinished request stays pending");
    assert(pending[0]!.consumer.includes(`-${agent1.pid}-`), pending[0]!.consumer);
    assertEquals(await rig.redis.xlen(conversationKeys(id).responses(1)), 0, "no answer written");
    const abandoned = (await rig.liveEvents(id)).find((e) =>
      e.type === "turn_abandoned" && e.seq === 1
    );
    assert(abandoned, "the partial turn is marked abandoned on the live stream");
    const clients = String(await rig.redis.client("LIST"));
    assert(!clients.includes("name=dialogue-agent-1"), `agent 1 connections left:\n${clients}`);

    // The run is not lost: a new agent 1 takes the request over.
    const replacement = await rig.agent(id, 1, "agent 1 (replacement)");
    await assertCleanExit(manager, [0], 30_000);
    await assertCleanExit(replacement, [0]);
    await assertCleanExit(agent2, [0]);
    await assertTurnLog(rig, id, { turns: 2 });
  } finally {
    await rig.close();
  }
});

Deno.test("SIGINT to the manager mid-generation records the run as interrupted, and --resume completes it", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 40, wordsPerReply: 25 });
  try {
    const id = newTestId("manager-sigint");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "4"]);
    await rig.waitForTokens(id, 2);
    manager.kill("SIGINT");
    await assertCleanExit(manager, [130], 10_000);
    const meta = await rig.meta(id);
    assertEquals(meta.status, "interrupted");
    assertEquals(meta.stop_reason, "interrupted");
    await assertCleanExit(agent1, [0]);
    await assertCleanExit(agent2, [0]);

    // Turn 2 was being generated: its request must survive for the resumed run.
    const keys = conversationKeys(id);
    const answered = await rig.redis.xlen(keys.responses(2));
    const pending = await rig.pendingRequests(id, 2);
    assert(
      answered === 1 || pending.length === 1,
      `turn 2 was neither answered nor left pending (the cancelled agent acknowledged it): ` +
        `responses:2 has ${answered} entries, requests:2 has ${pending.length} pending\n${rig.report()}`,
    );

    const resumed = await rig.resumeManager(id);
    await until(
      "the resumed run",
      async () => (await rig.meta(id)).status === "running" ? true : undefined,
    );
    const agents = [
      await rig.agent(id, 1, "agent 1 (2nd)"),
      await rig.agent(id, 2, "agent 2 (2nd)"),
    ];
    await assertCleanExit(resumed, [0], 30_000);
    for (const agent of agents) await assertCleanExit(agent, [0]);
    assertStringIncludes(resumed.stderr(), "Resuming conversation");
    await assertTurnLog(rig, id, { turns: 4 });
  } finally {
    await rig.close();
  }
});
