/**
 * Fault injection, agents: an agent process killed mid-generation, several
 * processes serving one slot. Real processes, a real redis-server and the
 * Ollama double; the verdict is what the streams hold at the end.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  assertCleanExit,
  assertTurnLog,
  FaultRig,
  newTestId,
  type Proc,
  until,
} from "../helpers/fault_rig.ts";

Deno.test("an agent killed mid-generation is replaced by a new process that claims its request: no turn lost or duplicated", async () => {
  // About 1.5 s per reply, so the kill lands mid-generation.
  const rig = await FaultRig.start({ tokenDelayMs: 40, wordsPerReply: 25 });
  try {
    const id = newTestId("agent-kill");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "3"]);
    await rig.waitForTokens(id, 3);
    agent1.kill("SIGKILL");
    await agent1.done;

    // The request for turn 3 is left pending, owned by the dead process.
    const pending = await rig.pendingRequests(id, 1);
    assertEquals(pending.length, 1, JSON.stringify(pending));
    assert(
      pending[0]!.consumer.includes(`-${agent1.pid}-`),
      `owned by the killed process: ${pending[0]!.consumer}`,
    );
    const replacement = await rig.agent(id, 1, "agent 1 (replacement)");

    await assertCleanExit(manager, [0], 45_000);
    await assertCleanExit(agent2, [0]);
    await assertCleanExit(replacement, [0]);
    await assertTurnLog(rig, id, { turns: 3 });
    // Turn 3 was started twice (killed, then claimed) and answered once.
    const starts = (await rig.liveEvents(id)).filter((e) => e.type === "turn_start" && e.seq === 3);
    assertEquals(starts.length, 2, "turn 3 started by the killed agent and by its replacement");
  } finally {
    await rig.close();
  }
});

Deno.test("two processes serve agent slot 1; the one generating is killed and the other takes over without a duplicate", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 40, wordsPerReply: 25 });
  try {
    const id = newTestId("agent-pair");
    const slot1 = [await rig.agent(id, 1, "agent 1a"), await rig.agent(id, 1, "agent 1b")];
    const agent2 = await rig.agent(id, 2);
    const manager = await rig.manager(id, ["--max-turns", "4"]);
    await rig.waitForTokens(id, 3);

    const [owner] = await until("the pending request of turn 3", async () => {
      const pending = await rig.pendingRequests(id, 1);
      return pending.length === 1 ? pending : undefined;
    });
    const victim = slot1.find((p) => owner!.consumer.includes(`-${p.pid}-`));
    assert(victim, `a slot-1 process owns ${owner!.consumer}`);
    const survivor = slot1.find((p) => p !== victim)!;
    victim.kill("SIGKILL");

    await assertCleanExit(manager, [0], 45_000);
    await assertCleanExit(agent2, [0]);
    await assertCleanExit(survivor, [0]);
    await assertTurnLog(rig, id, { turns: 4 });
  } finally {
    await rig.close();
  }
});

Deno.test("a generation slower than claim_idle_seconds is not taken over by a second process serving the slot", async () => {
  // About 3.5 s per reply against a 2 s claim threshold: only the heartbeat
  // keeps the idle process from claiming the request mid-generation.
  const rig = await FaultRig.start({
    tokenDelayMs: 60,
    wordsPerReply: 40,
    config: { ollama: { request_timeout_ms: 30_000 } },
  });
  try {
    const id = newTestId("agent-heartbeat");
    const slot1: Proc[] = [await rig.agent(id, 1, "agent 1a"), await rig.agent(id, 1, "agent 1b")];
    const agent2 = await rig.agent(id, 2);
    const manager = await rig.manager(id, ["--max-turns", "2"]);

    await assertCleanExit(manager, [0], 40_000);
    for (const proc of [...slot1, agent2]) await assertCleanExit(proc, [0]);
    await assertTurnLog(rig, id, { turns: 2 });
    const starts = (await rig.liveEvents(id)).filter((e) => e.type === "turn_start");
    assertEquals(starts.map((e) => e.type === "turn_start" && e.seq), [1, 2], "one start a turn");
    assertEquals(rig.chatRequests().length, 2, "each turn generated once");
    const durations = (await rig.store.transcript(id)).responses.map((r) =>
      r.metadata.generation_time_ms
    );
    assert(durations[0]! > 2500, `turn 1 outlasted claim_idle_seconds: ${durations[0]} ms`);
  } finally {
    await rig.close();
  }
});
