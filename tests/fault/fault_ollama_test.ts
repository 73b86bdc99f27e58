/**
 * Fault injection, Ollama: every failure the double can play, once per turn.
 * Each is either recovered (the run completes) or ends the run with the
 * reason recorded; no process crashes, and partial output already shown is
 * marked abandoned. Real processes, a real redis-server and the double.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import type { Fault } from "../../lib/testing/ollama_double.ts";
import {
  assertCleanExit,
  assertTurnLog,
  FaultRig,
  hasStackTrace,
  newTestId,
  STORY,
  until,
} from "../helpers/fault_rig.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";

const TOKEN_DELAY_MS = 20;
/** A "fault" that changes nothing: the next reply streams at the usual pace. */
const HEALTHY: Fault = { kind: "slow", tokenDelayMs: TOKEN_DELAY_MS };

/** Queues `faults` so that turn k's first attempt meets faults[k-1] and its retry succeeds. */
function onePerTurn(rig: FaultRig, faults: Fault[]): void {
  for (const fault of faults) {
    rig.double.enqueueFault(fault);
    rig.double.enqueueFault(HEALTHY);
  }
}

/** Runs `deno task chat` on the story to `turns` and checks what it left behind. */
async function chatRecovers(rig: FaultRig, faults: Fault[], reasons: RegExp[]): Promise<void> {
  onePerTurn(rig, faults);
  const turns = faults.length;
  const chat = await rig.spawn(
    "main.ts",
    ["--story", STORY, "--max-turns", String(turns), "--no-analysis"],
    "chat",
  );
  await assertCleanExit(chat, [0], 50_000);
  const id = (await rig.store.latest())!;
  await assertTurnLog(rig, id, { turns });
  assertStringIncludes(chat.stdout(), `Run ended: completed (max_turns) after ${turns} turns`);

  // The double saw each turn twice: the failed attempt, then its retry.
  const requests = rig.chatRequests();
  assertEquals(requests.length, 2 * turns, "one retry per turn");
  for (let turn = 0; turn < turns; turn++) {
    assertEquals(
      requests[2 * turn + 1]!.messages,
      requests[2 * turn]!.messages,
      `turn ${turn + 1}`,
    );
  }
  // Each failed attempt is marked abandoned, on the live stream and on screen.
  const abandoned = (await rig.liveEvents(id)).filter((e) => e.type === "turn_abandoned");
  for (let seq = 1; seq <= turns; seq++) {
    const event = abandoned.find((e) => e.type === "turn_abandoned" && e.seq === seq);
    assert(event?.type === "turn_abandoned", `turn ${seq} marked abandoned`);
    assertMatch(event.reason, reasons[seq - 1]!);
    assertStringIncludes(chat.stdout(), `turn ${seq} abandoned`);
  }
}

Deno.test("a model missing on Ollama (404) fails the run at once, naming ollama pull, with the error in meta", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: TOKEN_DELAY_MS });
  try {
    rig.double.enqueueFault({ kind: "status", status: 404 });
    const id = newTestId("ollama-404");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "4"]);
    await assertCleanExit(manager, [1], 30_000);
    await assertCleanExit(agent1, [0]);
    await assertCleanExit(agent2, [0]);
    assertStringIncludes(manager.stderr(), "ollama pull tiny");
    assertEquals(rig.chatRequests().length, 1, "a missing model is not retried");
    const meta = await rig.meta(id);
    assertEquals(meta.status, "failed");
    assertEquals(meta.stop_reason, "error");
    assertStringIncludes(meta.error ?? "", "ollama pull tiny");
    assertEquals(meta.turns, 0);
    assertEquals(await rig.redis.xlen(conversationKeys(id).responses(1)), 0);
    const events = await rig.liveEvents(id);
    assert(events.some((e) => e.type === "turn_abandoned" && e.seq === 1), "turn 1 abandoned");
  } finally {
    await rig.close();
  }
});

Deno.test("Ollama transport failures (503, 500, error mid-stream, cut connection, no done, hang) are retried and the run completes", async () => {
  const rig = await FaultRig.start({
    tokenDelayMs: TOKEN_DELAY_MS,
    config: { ollama: { request_timeout_ms: 2500 } },
  });
  try {
    await chatRecovers(rig, [
      { kind: "status", status: 503 },
      { kind: "status", status: 500 },
      { kind: "error_mid_stream", afterChunks: 5 },
      { kind: "cut_connection", afterChunks: 5 },
      { kind: "no_done", afterChunks: 5 },
      { kind: "hang" },
    ], [
      /answered 503/,
      /answered 500/,
      /unexpected EOF/,
      /failed mid-reply/,
      /Did not receive done/,
      /did not finish within 2500 ms/,
    ]);
  } finally {
    await rig.close();
  }
});

Deno.test("invalid model output (not JSON, cut at the length limit, breaking the schema) is retried and the run completes", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: TOKEN_DELAY_MS });
  try {
    await chatRecovers(rig, [
      { kind: "text", content: 'Sure! Here is my reply: {"message": ' },
      { kind: "length", afterChunks: 6 },
      { kind: "invalid_schema" },
    ], [/not JSON/, /length/, /invalid reply/]);
  } finally {
    await rig.close();
  }
});

Deno.test("a model failing every attempt ends the run as failed with the reason recorded; the observer shows the abandoned attempts", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: TOKEN_DELAY_MS });
  try {
    rig.double.enqueueFault({ kind: "status", status: 503 });
    rig.double.enqueueFault({ kind: "error_mid_stream", afterChunks: 4 });
    rig.double.enqueueFault({ kind: "invalid_schema" });
    const id = newTestId("ollama-fatal");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "4"]);
    await until("the conversation", async () => await rig.store.get(id));
    const observer = await rig.observer(id);
    await assertCleanExit(manager, [1], 30_000);
    await assertCleanExit(agent1, [0]);
    await assertCleanExit(agent2, [0]);
    await assertCleanExit(observer, [0]);

    assertEquals(rig.chatRequests().length, 3, "agents.max_attempts attempts");
    const meta = await rig.meta(id);
    assertEquals(meta.status, "failed");
    assertEquals(meta.stop_reason, "error");
    assertStringIncludes(meta.error ?? "", "gave no valid reply for turn 1 in 3 attempts");
    assertStringIncludes(manager.stderr(), "gave no valid reply for turn 1");
    assertMatch(observer.stdout(), /turn 1 abandoned/);
    assertStringIncludes(observer.stdout(), "Run ended: failed (error)");
    for (const proc of rig.procs) assert(!hasStackTrace(proc.stderr()), proc.describe());
  } finally {
    await rig.close();
  }
});

Deno.test("a hanging Ollama under chat --duration 5 ends the run near 5 s, not after the 300 s request timeout, with the cut turn recorded", async () => {
  const rig = await FaultRig.start({
    tokenDelayMs: TOKEN_DELAY_MS,
    config: { ollama: { request_timeout_ms: 300_000 } },
  });
  try {
    rig.double.enqueueFault(HEALTHY);
    rig.double.enqueueFault({ kind: "hang" });
    const started = Date.now();
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--max-turns", "10", "--duration", "5", "--no-analysis"],
      "chat",
    );
    await assertCleanExit(chat, [0], 30_000);
    const elapsed = Date.now() - started;
    assert(elapsed < 15_000, `chat exited after ${elapsed} ms`);
    const meta = await rig.meta((await rig.store.latest())!);
    assertEquals([meta.status, meta.stop_reason, meta.turns], ["completed", "duration", 1]);
    assert(meta.ended_at! - meta.deadline! < 1500, "ended on time");
    assertMatch(meta.error ?? "", /^Turn 2 was cut by the deadline after waiting \d+\.\d s/);
    assertStringIncludes(chat.stdout(), "Run ended: completed (duration) after 1 turn");
    assertStringIncludes(chat.stdout(), "Turn 2 was cut by the deadline");
  } finally {
    await rig.close();
  }
});

Deno.test("a hang while writing the scenario fails the run within the request timeout, with progress and the reason recorded", async () => {
  const rig = await FaultRig.start({
    tokenDelayMs: TOKEN_DELAY_MS,
    config: { ollama: { request_timeout_ms: 2000 } },
  });
  try {
    rig.double.enqueueFault({ kind: "hang" });
    const started = Date.now();
    const chat = await rig.spawn("main.ts", ["--max-turns", "4", "--no-analysis"], "chat");
    await assertCleanExit(chat, [0, 1], 30_000);
    const elapsed = Date.now() - started;
    assert(elapsed < 15_000, `chat exited after ${elapsed} ms`);
    assertEquals(rig.chatRequests().length, 1, "the budget was spent on the one hanging attempt");
    const id = (await rig.store.latest())!;
    const meta = await rig.meta(id);
    assertEquals([meta.status, meta.stop_reason], ["failed", "error"]);
    assertMatch(
      meta.error ?? "",
      /^Cannot write the scenario with '.+' as it did not finish within 2 s/,
    );
    const notices = (await rig.liveEvents(id)).flatMap((e) => e.type === "notice" ? [e.text] : []);
    assertMatch(notices[0] ?? "", /^Writing the scenario with .+…$/);
    for (const proc of rig.procs) assert(!hasStackTrace(proc.stderr()), proc.describe());
  } finally {
    await rig.close();
  }
});

Deno.test("deno task chat shows the scenario being written, and each retry, before the story", async () => {
  const rig = await FaultRig.start({
    tokenDelayMs: TOKEN_DELAY_MS,
    // The scenario streams for a few seconds: room for it and its retry.
    config: { ollama: { request_timeout_ms: 30_000 } },
  });
  try {
    rig.double.enqueueFault({ kind: "status", status: 503 });
    const chat = await rig.spawn("main.ts", ["--max-turns", "2", "--no-analysis"], "chat");
    await assertCleanExit(chat, [0], 50_000);
    const out = chat.stdout();
    const story = out.indexOf("Story");
    assert(story > 0, out);
    const writing = out.indexOf("Writing the scenario with ");
    const retry = out.indexOf("Scenario attempt 1/3 failed");
    assert(writing >= 0 && writing < story, `progress shown before the story:\n${out}`);
    assert(retry > writing && retry < story, `the retry shown before the story:\n${out}`);
    assertStringIncludes(out, "Run ended: completed (max_turns) after 2 turns");
  } finally {
    await rig.close();
  }
});
