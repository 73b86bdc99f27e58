/**
 * Fault injection, OpenAI-compatible backend, under `deno task chat` as a
 * user runs it against the OpenAI double: a rejected key and an unknown
 * model stop the run before it starts, in one line; a cut stream, a 429 with
 * Retry-After and a 500 mid-run are retried (the 429's pause honoured) and
 * the run completes with every turn once.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { assertTurnLog, FaultRig, hasStackTrace, STORY } from "../helpers/fault_rig.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { OpenAiDouble } from "../../lib/testing/openai/openai_double.ts";

/** The problem line of chat's stderr, beside the lines naming Redis and the backends. */
function problemLines(stderr: string): string[] {
  return stderr.trim().split("\n").filter((l) =>
    l.trim() !== "" && !l.startsWith("chat: Redis:") && !l.startsWith("chat: backends:")
  );
}

Deno.test("deno task chat --backend openai with a rejected key: one line naming OPENAI_API_KEY, the key never shown, no run", async () => {
  const double = await OpenAiDouble.start({ models: ["tiny"], apiKey: "sk-right" });
  const rig = await FaultRig.start();
  try {
    const run = await runEntrypoint(
      "main.ts",
      ["--backend", "openai", "--openai-base-url", double.url, "--model", "tiny", "--story", STORY],
      { env: { ...rig.env, OPENAI_API_KEY: "sk-wrong-secret" } },
    );
    assertEquals(run.code, 1, run.stderr);
    const lines = problemLines(run.stderr);
    assertEquals(lines.length, 1, run.stderr);
    assertStringIncludes(lines[0]!, "OPENAI_API_KEY");
    assert(!run.stderr.includes("sk-wrong-secret") && !run.stdout.includes("sk-wrong-secret"));
    assert(!hasStackTrace(run.stderr));
    assertEquals(await rig.store.latest(), undefined, "no run was created");
  } finally {
    await rig.close();
    await double.close();
  }
});

Deno.test("deno task chat --backend openai with a model the server does not have: one line naming it and /v1/models", async () => {
  const double = await OpenAiDouble.start({ models: ["tiny"] });
  const rig = await FaultRig.start();
  try {
    const run = await runEntrypoint(
      "main.ts",
      [
        "--backend",
        "openai",
        "--openai-base-url",
        double.url,
        "--model",
        "nosuch",
        "--story",
        STORY,
      ],
      { env: rig.env },
    );
    assertEquals(run.code, 1, run.stderr);
    const lines = problemLines(run.stderr);
    assertEquals(lines.length, 1, run.stderr);
    assertStringIncludes(lines[0]!, "nosuch");
    assertStringIncludes(lines[0]!, "/models");
    assertEquals(await rig.store.latest(), undefined);
  } finally {
    await rig.close();
    await double.close();
  }
});

Deno.test("deno task chat --backend openai: a cut stream, a 429 with Retry-After and a 500 mid-run are retried and the run completes with every turn once", async () => {
  const double = await OpenAiDouble.start({ models: ["tiny"] });
  // Four attempts per turn: turn 1 meets all three faults, then succeeds.
  const rig = await FaultRig.start({ config: { agents: { max_attempts: 4 } } });
  try {
    double.enqueueFault({ kind: "cut_connection", afterChunks: 2 });
    double.enqueueFault({ kind: "status", status: 429, retryAfter: 2 });
    double.enqueueFault({ kind: "status", status: 500 });
    const chat = await rig.spawn("main.ts", [
      "--backend",
      "openai",
      "--openai-base-url",
      double.url,
      "--model",
      "tiny",
      "--story",
      STORY,
      "--max-turns",
      "4",
      "--no-analysis",
    ], "chat");
    assertEquals(await chat.wait(60_000), 0, chat.describe());
    const id = (await rig.store.latest())!;
    await assertTurnLog(rig, id, { turns: 4 });
    const { responses } = await rig.store.transcript(id);
    const first = responses.find((r) => r.metadata.sequence_number === 1)!;
    assertEquals(first.metadata.attempts, 4);
    assertStringIncludes(first.metadata.last_error ?? "", "500");
    // The 429 asked for 2 s: the attempt after it waited at least that long.
    const calls = double.requests.filter((r) => r.path === "/v1/chat/completions");
    const gap = calls[2]!.at - calls[1]!.at;
    assert(gap >= 2000, `retried ${gap} ms after the 429 that asked for 2 s`);
  } finally {
    await rig.close();
    await double.close();
  }
});
