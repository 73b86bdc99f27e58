/**
 * Single-slot agents (`deno task agent --id N`, no `--conversation`) do not
 * stay attached to a run that never starts (its manager died before writing
 * the scenario, and no manager pool took it over): past the bound they say
 * so and wait for the next conversation, and a newer conversation draws them
 * away at once. The stuck run is left pending (resumable), not failed. Real
 * processes, a real redis-server, the Ollama double.
 */
import { assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { FaultRig, newTestId, until } from "../helpers/fault_rig.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { redactConfig } from "../../lib/config/redaction.ts";

/** A run left pending by a manager that died before writing its scenario: no start ticket. */
async function stuckRun(rig: FaultRig): Promise<string> {
  const id = newTestId("stuck");
  await rig.store.create({
    id,
    status: "pending",
    created_at: Date.now(),
    turns: 0,
    max_turns: 4,
    duration_seconds: 60,
    models: { manager: "tiny", agent1: "tiny", agent2: "tiny" },
    config: redactConfig(parseConfig({})),
  });
  return id;
}

/** Runs conversation `id` with a manager and agent 2; agent 1 must come to it. */
async function runWithAgent2(
  rig: FaultRig,
  id: string,
  agent1: { wait(ms: number): Promise<number>; describe(): string },
) {
  const manager = await rig.manager(id, ["--max-turns", "4"]);
  const agent2 = await rig.agent(id, 2);
  assertEquals(await manager.wait(60_000), 0, rig.report());
  const meta = await rig.meta(id);
  assertEquals([meta.status, meta.turns], ["completed", 4], rig.report());
  assertEquals(await agent1.wait(30_000), 0, agent1.describe());
  assertEquals(await agent2.wait(30_000), 0, rig.report());
}

Deno.test("agent --id 1 leaves a run still pending past the bound, saying so, and serves the next conversation", async () => {
  // Bound: 1 attempt at a 1 s request timeout + 2 s takeover = 3 s.
  const rig = await FaultRig.start({
    config: {
      ollama: { request_timeout_ms: 1000 },
      manager: { max_attempts: 1 },
      dispatch: { dead_after_ms: 2000 },
    },
  });
  try {
    const stuck = await stuckRun(rig);
    const agent1 = await rig.spawn("agent.ts", ["--id", "1"], "agent 1");
    const line = await until(
      "agent 1 leaving the stuck run",
      () =>
        Promise.resolve(
          agent1.stderr().split("\n").find((l) =>
            l.includes("leaves conversation") && l.includes(stuck)
          ),
        ),
      15_000,
      () => agent1.describe(),
    );
    assertStringIncludes(line, "pending for");
    assertStringIncludes(line, "deno task manager --pool");
    await runWithAgent2(rig, newTestId("next"), agent1);
    assertEquals((await rig.meta(stuck)).status, "pending", "the stuck run is left resumable");
  } finally {
    await rig.close();
  }
});

Deno.test("agent --id 1 waiting on a run that never starts moves to a newer conversation at once", async () => {
  const rig = await FaultRig.start(); // bound: 3 attempts at 3 s + 5 s, longer than this takes
  try {
    const stuck = await stuckRun(rig);
    const agent1 = await rig.spawn("agent.ts", ["--id", "1"], "agent 1");
    await until(
      "agent 1 attached to the stuck run",
      () =>
        Promise.resolve(agent1.stderr().includes(`serving conversation "${stuck}"`) || undefined),
      15_000,
      () => agent1.describe(),
    );
    const next = newTestId("next");
    await runWithAgent2(rig, next, agent1);
    assertStringIncludes(agent1.stderr(), `newer conversation ${next} to serve`);
  } finally {
    await rig.close();
  }
});
