/**
 * End to end: `deno task observe` as a process, against a private
 * redis-server, the Ollama double and real runs (`deno task chat`, or a
 * manager and two agents): started before a run, attached mid-run, stopped
 * with Ctrl-C, through a Redis outage, and given an id that does not exist.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import {
  assertCleanExit,
  FaultRig,
  newTestId,
  type Proc,
  STORY,
  until,
} from "../helpers/fault_rig.ts";

/** Waits until `proc` has printed `text` on stdout. */
async function printed(rig: FaultRig, proc: Proc, text: string, timeoutMs = 30_000) {
  await until(
    `${proc.name} to print ${JSON.stringify(text)}`,
    () => Promise.resolve(proc.stdout().includes(text) ? true : undefined),
    timeoutMs,
    () => rig.report(),
  );
}

/** `deno task chat` on the story file, without the analysis at the end. */
function chat(rig: FaultRig, turns: number): Promise<Proc> {
  return rig.spawn(
    "main.ts",
    ["--story", STORY, "--max-turns", String(turns), "--no-analysis"],
    "chat",
  );
}

/** The dim status line printed after turn `seq`, e.g. `  turn 2/4 · 1:57 left`. */
function statusLine(stdout: string, seq: number, max: number): string | undefined {
  return stdout.split("\n").find((line) => line.startsWith(`  turn ${seq}/${max}`));
}

Deno.test("deno task observe started before any run waits for the next one, then follows it to its end", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 5, wordsPerReply: 60 });
  try {
    const observer = await rig.spawn("observer.ts", [], "observer");
    await printed(rig, observer, "waiting for a conversation …");
    assert(!observer.exited, `the observer waits:\n${observer.describe()}`);
    const run = await chat(rig, 2);
    await assertCleanExit(run, [0], 60_000);
    await assertCleanExit(observer, [0]);
    const out = observer.stdout();
    assertEquals(out.split("waiting for a conversation").length, 2, "said once");
    const id = (await rig.store.latest())!;
    assertStringIncludes(out, `Conversation ${id}`);
    assertStringIncludes(out, "[1] Mara (tiny)");
    assertStringIncludes(out, "[2] Ilya (tiny)");
    assertStringIncludes(out, "Run ended: completed (max_turns) after 2 turns");
    // 60-word replies are wrapped at word boundaries to 100 columns (not a terminal):
    // on a pipe a word that outgrew its line after it was written finishes on it.
    const { responses } = await rig.store.transcript(id);
    const lines = out.split("\n");
    for (const line of lines) assert(line.length <= 100 + 3, `too long: ${line}`);
    assert(lines.some((line) => line.length > 90), "wrapped at 100 columns, not 80");
    for (const response of responses) {
      const words = response.content.split(/\s+/).filter(Boolean);
      const shown = out.split(/\s+/);
      for (const word of words) assert(shown.includes(word), `word ${word} shown whole`);
    }
  } finally {
    await rig.close();
  }
});

Deno.test("an id that does not exist is answered at once by observe, analyze, clean, manager --resume and chat --resume", async () => {
  const rig = await FaultRig.start();
  try {
    const id = newTestId("missing");
    const notFound = `Cannot find conversation ${id} in Redis`;
    const cases: [string, string[], number, string][] = [
      ["observer.ts", ["--conversation", id], 1, notFound],
      ["analyze.ts", [id], 1, notFound],
      ["manager.ts", ["--resume", id], 1, notFound],
      ["main.ts", ["--resume", id], 1, notFound],
      ["clean.ts", ["--conversation", id], 0, `no conversation ${id}; skipped`],
    ];
    for (const [script, args, code, message] of cases) {
      const started = performance.now();
      const proc = await rig.spawn(script, args);
      await assertCleanExit(proc, [code], 20_000);
      const elapsed = performance.now() - started;
      assertStringIncludes(proc.stdout() + proc.stderr(), message, proc.describe());
      // Process start-up included; the old wait was 30 s.
      assert(elapsed < 8_000, `${script} took ${Math.round(elapsed)} ms`);
    }
  } finally {
    await rig.close();
  }
});

Deno.test("Ctrl-C in the observer says watching stopped and the run goes on; the run completes", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 40, wordsPerReply: 20 });
  try {
    const run = await chat(rig, 6);
    const id = await until("the run to be created", () => rig.store.latest());
    const observer = await rig.observer(id);
    await printed(rig, observer, "[2] Ilya");
    observer.kill("SIGINT");
    await assertCleanExit(observer, [0]);
    const out = observer.stdout();
    assertMatch(
      out,
      new RegExp(`Stopped watching; conversation ${id} is still running \\(turn \\d/6\\)`),
    );
    assert(!out.includes("Run ended"), out);
    await assertCleanExit(run, [0], 60_000);
    const meta = await rig.meta(id);
    assertEquals([meta.status, meta.turns], ["completed", 6]);
  } finally {
    await rig.close();
  }
});

Deno.test("attached mid-run, the observer shows replayed turns without a time left and live ones with their own", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 40, wordsPerReply: 25 });
  try {
    const run = await chat(rig, 5);
    const id = await until("the run to be created", () => rig.store.latest());
    await until("two turns", async () => (await rig.meta(id)).turns >= 2 ? true : undefined);
    const observer = await rig.observer(id);
    await assertCleanExit(observer, [0], 60_000);
    await assertCleanExit(run, [0], 60_000);
    const out = observer.stdout();
    assertEquals(statusLine(out, 1, 5), "  turn 1/5", out);
    assertEquals(statusLine(out, 2, 5), "  turn 2/5", out);
    assertMatch(statusLine(out, 4, 5) ?? "", /^ {2}turn 4\/5 · \d:\d\d left$/, out);
    assertStringIncludes(out, "Run ended: completed (max_turns) after 5 turns");
  } finally {
    await rig.close();
  }
});

Deno.test("while Redis is away the observer says it waits for it, then that it is back, and follows the run to its end", async () => {
  const rig = await FaultRig.start({ aof: true, tokenDelayMs: 30, wordsPerReply: 25 });
  try {
    const id = newTestId("observer-outage");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "5"]);
    await until("the run to be created", () => rig.store.get(id));
    const observer = await rig.observer(id);
    await printed(rig, observer, "[2] Ilya");
    await rig.redisServer.kill();
    await printed(rig, observer, "Redis is unreachable: waiting for it to come back (up to 5 s)");
    await rig.redisServer.restart();
    await printed(rig, observer, "Redis is back after");
    for (const proc of [manager, agent1, agent2]) await assertCleanExit(proc, [0], 40_000);
    await assertCleanExit(observer, [0]);
    const out = observer.stdout();
    assert(
      out.indexOf("Redis is unreachable") < out.indexOf("Redis is back"),
      "waiting, then back",
    );
    assertStringIncludes(out, "Run ended: completed (max_turns) after 5 turns");
  } finally {
    await rig.close();
  }
});
