/**
 * A model's text inside an error never reaches the terminal with its escape
 * sequences. The Ollama double answers an agent with invalid JSON full of
 * control sequences (clear screen, window title, 8-bit CSI, OSC 52, bidi
 * override, CR and backspace); with one attempt per turn the run fails with
 * that reply quoted in its error. Real processes: `deno task chat` (with its
 * manager and agent pools), then `analyze` and `observe --conversation` of the
 * run; none prints an ESC, BEL or C1 character, and the error stays readable.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import {
  assertCleanExit,
  FaultRig,
  hasStackTrace,
  newTestId,
  STORY,
} from "../helpers/fault_rig.ts";

/** Invalid JSON that starts with the sequences, so V8's JSON.parse snippet quotes them too. */
const CONTENT =
  `\x1b[2J\x1b]0;pwned\x07\x9b2J\x1b]52;c;ZXZpbA==\x07\u202e\r\b HOSTILE {"message": ` +
  `"\x1b[31m\x1bP+q\x1b\\\x90x\x9c\x07"`;

/** ESC, BEL, every other C0 control but newline and tab, DEL, C1 and bidi controls. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function assertInert(what: string, text: string): void {
  const at = text.search(CONTROL);
  assert(
    at === -1,
    `${what} holds control character U+${text.charCodeAt(at).toString(16).padStart(4, "0")} near ${
      JSON.stringify(text.slice(Math.max(0, at - 80), at + 80))
    }`,
  );
}

Deno.test("a model's control sequences quoted in an error are inert on the stdout and stderr of chat, analyze and observe", async () => {
  const rig = await FaultRig.start({ config: { agents: { max_attempts: 1, output: "json" } } });
  try {
    rig.double.enqueueFault({ kind: "text", content: CONTENT });
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--max-turns", "2", "--no-analysis"],
      "chat",
    );
    const code = await chat.wait(60_000);
    assertEquals(code, 1, rig.report());
    const id = (await rig.store.latest())!;
    const meta = await rig.meta(id);
    assertEquals(meta.status, "failed", rig.report());

    const analyze = await runEntrypoint("analyze.ts", [id], { env: rig.env, timeoutMs: 60_000 });
    const observe = await runEntrypoint("observer.ts", ["--conversation", id], {
      env: rig.env,
      timeoutMs: 60_000,
    });
    const outputs: [string, string][] = [
      ["chat stderr", chat.stderr()],
      ["chat stdout", chat.stdout()],
      ["analyze stderr", analyze.stderr],
      ["analyze stdout", analyze.stdout],
      ["observe stderr", observe.stderr],
      ["observe stdout", observe.stdout],
    ];
    for (const [what, text] of outputs) {
      assertInert(what, text);
      assert(!hasStackTrace(text), `${what}:\n${text}`);
    }
    if (Deno.env.get("SHOW_OUTPUT")) {
      for (const [what, text] of outputs) console.log(what, text);
    }
    // V8's snippet of the reply is quoted with its controls as visible escapes.
    assertStringIncludes(meta.error ?? "", "\\u001b]0;pw");
    // Still readable: the failure and the quoted words are shown.
    // V8's snippet of the reply is quoted with its controls as visible escapes.
    assertStringIncludes(meta.error ?? "", "\\u001b]0;pw");
    // Still readable: the failure, the quoted start of the reply (its controls
    // shown as escapes) and the advice after it are all there, nothing swallowed.
    for (const [what, text] of [outputs[0]!, outputs[1]!, outputs[3]!, outputs[5]!]) {
      for (
        const part of [
          "gave no valid reply for turn 1",
          "\\u001b]0;pw",
          "is not valid JSON",
          "agents.max_attempts",
        ]
      ) {
        assertStringIncludes(text, part, what);
      }
    }
  } finally {
    await rig.close();
  }
});

Deno.test("the manager's failure line quoting meta.error is inert: an LLM host's error text with control sequences", async () => {
  const rig = await FaultRig.start({ config: { agents: { max_attempts: 1 } } });
  try {
    rig.double.enqueueFault({ kind: "error_mid_stream", afterChunks: 2, error: CONTENT });
    const id = newTestId("model-text");
    const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", "2"]);
    await assertCleanExit(manager, [1], 30_000);
    await assertCleanExit(agent1, [0]);
    await assertCleanExit(agent2, [0]);
    assertStringIncludes((await rig.meta(id)).error ?? "", "\x1b]0;pwned", "raw in Redis (data)");
    for (const proc of [manager, agent1, agent2]) {
      assertInert(`${proc.name} stderr`, proc.stderr());
      assertInert(`${proc.name} stdout`, proc.stdout());
    }
    assertStringIncludes(manager.stderr(), `conversation ${id} failed: `);
    assertStringIncludes(manager.stderr(), "failed mid-reply: \\u001b[2J\\u001b]0;pwned\\u0007");
    assertStringIncludes(manager.stderr(), "HOSTILE");
  } finally {
    await rig.close();
  }
});

Deno.test("the entrypoint's one-line error quoting a story file with control sequences is inert", async () => {
  const rig = await FaultRig.start();
  try {
    const story = `${rig.dir}/evil.json`;
    await Deno.writeTextFile(story, CONTENT);
    const chat = await rig.spawn("main.ts", ["--story", story, "--max-turns", "2"], "chat");
    assertEquals(await chat.wait(30_000), 2, rig.report());
    assertInert("chat stderr", chat.stderr());
    assertInert("chat stdout", chat.stdout());
    const lines = chat.stderr().trim().split("\n");
    assertEquals(lines.length, 1, chat.stderr());
    assertStringIncludes(lines[0]!, `Story file ${story} is not JSON: `);
    assertStringIncludes(lines[0]!, "\\u001b]0;pw");
  } finally {
    await rig.close();
  }
});
