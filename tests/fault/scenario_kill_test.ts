/**
 * A manager killed while it writes the scenario: under `deno task chat` the
 * supervisor starts the manager pool again, the new process takes its own
 * start ticket back (same consumer name) and writes the scenario again, and
 * the run completes. Real processes, a real redis-server, the Ollama double
 * holding the scenario request until the manager dies.
 */
import { assertEquals } from "../helpers/assert.ts";
import { assertTurnLog, childProcesses, FaultRig, until } from "../helpers/fault_rig.ts";

Deno.test("deno task chat: the manager pool SIGKILLed while writing the scenario is restarted and the run completes", async () => {
  // Long timeouts: only the kill may end the held scenario request.
  const rig = await FaultRig.start({ config: { ollama: { request_timeout_ms: 60_000 } } });
  try {
    rig.double.enqueueFault({ kind: "hang" }); // the first /api/chat: the scenario
    const chat = await rig.spawn("main.ts", ["--max-turns", "4", "--no-analysis"], "chat");
    const id = await until("the conversation", async () => await rig.store.latest());
    await until(
      "the scenario request",
      () => Promise.resolve(rig.chatRequests().length >= 1 || undefined),
    );
    assertEquals((await rig.meta(id)).status, "pending");
    const manager = await until(
      "chat's manager child",
      async () => (await childProcesses(chat.pid)).find((c) => c.cmd.includes("/manager.ts "))?.pid,
    );
    Deno.kill(manager, "SIGKILL");
    assertEquals(await chat.wait(60_000), 0, chat.describe());
    const meta = await rig.meta(id);
    assertEquals([meta.status, meta.turns], ["completed", 4], meta.error);
    await assertTurnLog(rig, id, { turns: 4 });
    // The scenario was asked for again by the restarted manager.
    const scenarioRequests = rig.chatRequests().filter((r) =>
      JSON.stringify(r.format ?? "").includes('"personas"')
    );
    assertEquals(scenarioRequests.length, 2, "the restarted manager wrote the scenario again");
  } finally {
    await rig.close();
  }
});
