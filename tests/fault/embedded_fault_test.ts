/**
 * Fault injection, embedded backend, under `deno task chat` as a user runs it:
 * the model's own process killed mid-run (the agent survives, the turn is
 * retried, the run completes with every turn once), a model file that cannot
 * load (one line before anything runs), and a history far beyond the model's
 * context (trimmed, never failing the run). Real processes, a real
 * redis-server, the real tiny model.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  assertTurnLog,
  childProcesses,
  FaultRig,
  hasStackTrace,
  STORY,
  until,
} from "../helpers/fault_rig.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";

const TINY_MODEL = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const HAVE_TINY = await Deno.stat(TINY_MODEL).then((s) => s.isFile, () => false);
if (!HAVE_TINY) {
  console.warn(`SKIPPED: the embedded fault tests need the tiny model at ${TINY_MODEL}`);
}

/** Every descendant of `pid` (children, their children, …), read with `ps`. */
async function descendants(pid: number): Promise<{ pid: number; cmd: string }[]> {
  const out: { pid: number; cmd: string }[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of await childProcesses(queue.shift()!)) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

const EMBEDDED = ["--backend", "embedded", "--model-file", TINY_MODEL];

Deno.test({
  name:
    "deno task chat: the embedded model's process killed mid-run is started again, the agent lives on and the run completes with every turn once",
  ignore: !HAVE_TINY,
  async fn() {
    // Short replies and history keep each turn well under a second.
    const rig = await FaultRig.start({
      config: { conversation: { max_reply_tokens: 48, history_messages: 4 } },
    });
    try {
      const chat = await rig.spawn(
        "main.ts",
        [...EMBEDDED, "--story", STORY, "--max-turns", "8", "--output", "text", "--no-analysis"],
        "chat",
      );
      const id = await until("the conversation", async () => await rig.store.latest());
      await until("turn 2 recorded", async () => {
        const meta = await rig.store.get(id);
        return meta && meta.turns >= 2 ? true : undefined;
      }, 60_000);
      const hosts = async () =>
        (await descendants(chat.pid)).filter((p) => p.cmd.includes("model_host.ts"));
      const agent = async () =>
        (await childProcesses(chat.pid)).find((p) => p.cmd.includes("/agent.ts "))?.pid;
      const agentBefore = await agent();
      // The agent pool's model process (the manager's, given a story, never starts one).
      const [victim] = await until("the model process", async () => {
        const found = await hosts();
        return found.length ? found : undefined;
      });
      Deno.kill(victim!.pid, "SIGKILL");
      assertEquals(await chat.wait(90_000), 0, chat.describe());
      await assertTurnLog(rig, id, { turns: 8 });
      assertEquals(await agent(), undefined, "chat stopped its children at the end");
      const { responses } = await rig.store.transcript(id);
      assertEquals(responses.length, 8);
      assert(responses.every((r) => r.metadata.backend === "embedded"));
      // The agent process was never replaced: only its model process died.
      assert(agentBefore !== undefined);
      // (chat logs "The … process exited (…); starting it again" when it restarts one.)
      assert(!chat.stderr().includes("starting it again"), chat.describe());
    } finally {
      await rig.close();
    }
  },
});

Deno.test("deno task chat --backend embedded with a file that is no GGUF model: one line naming it and --model-file, no run created", async () => {
  const rig = await FaultRig.start();
  const notModel = `${rig.dir}/notes.gguf`;
  await Deno.writeTextFile(notModel, "these are not model weights\n");
  try {
    const run = await runEntrypoint("main.ts", [
      "--backend",
      "embedded",
      "--model-file",
      notModel,
      "--story",
      STORY,
    ], { env: rig.env });
    assertEquals(run.code, 1, run.stderr);
    // Beside the lines that name Redis and the backends, one line: the problem.
    const lines = run.stderr.trim().split("\n").filter((l) =>
      !l.startsWith("chat: Redis:") && !l.startsWith("chat: backends:")
    );
    assertEquals(lines.length, 1, run.stderr);
    assertStringIncludes(lines[0]!, notModel);
    assertStringIncludes(lines[0]!, "--model-file");
    assert(!hasStackTrace(run.stderr));
    assertEquals(await rig.store.latest(), undefined, "no run was created");
  } finally {
    await rig.close();
  }
});

Deno.test({
  name:
    "deno task chat: a history far beyond the embedded model's context is trimmed and the run completes",
  ignore: !HAVE_TINY,
  async fn() {
    // A 256-token context per sequence (llama.cpp's smallest: it pads to
    // 256) and a 40-message history: the system prompt alone is most of it,
    // so every turn after the first overflows and must be trimmed, never fail.
    const rig = await FaultRig.start({
      config: { embedded: { context_tokens: 256 }, conversation: { max_reply_tokens: 48 } },
    });
    try {
      const chat = await rig.spawn(
        "main.ts",
        [...EMBEDDED, "--story", STORY, "--max-turns", "8", "--output", "text", "--no-analysis"],
        "chat",
      );
      assertEquals(await chat.wait(90_000), 0, chat.describe());
      const id = (await rig.store.latest())!;
      await assertTurnLog(rig, id, { turns: 8 });
      const { responses } = await rig.store.transcript(id);
      // Every prompt fit: the model never saw more than its context.
      assert(
        responses.every((r) => r.metadata.prompt_tokens + 48 <= 256),
        JSON.stringify(
          responses.map((r) => r.metadata.prompt_tokens),
        ),
      );
    } finally {
      await rig.close();
    }
  },
});
