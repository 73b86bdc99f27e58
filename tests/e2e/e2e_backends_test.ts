/**
 * End to end, one backend at a time, as a user runs them: `deno task chat`
 * spawned against a private redis-server with
 * - the embedded backend and the real tiny model (no Ollama anywhere),
 * - the OpenAI-compatible double,
 * - a mixed run (agent 1 embedded, agent 2 on the Ollama double),
 * - `auto`, which picks one and says why, or lists the ways forward.
 * Tests that need the tiny model are skipped, saying so, where it is absent.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { OpenAiDouble } from "../../lib/testing/openai/openai_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { FaultRig, newTestId, until } from "../helpers/fault_rig.ts";
import { createConversation } from "../../lib/manager/conversation_setup.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import type { StoredTranscript as Transcript } from "../../lib/bus/transcript_reader.ts";

const TINY_MODEL = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const HAVE_TINY = await Deno.stat(TINY_MODEL).then((s) => s.isFile, () => false);
if (!HAVE_TINY) {
  console.warn(
    `SKIPPED: the embedded end-to-end tests need the tiny model at ${TINY_MODEL} (see ../shared/models/README.md)`,
  );
}

/** A port nothing listens on: no Ollama there, so a run can only use what it was told to. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Rig {
  env: Record<string, string>;
  store: ConversationStore;
  /** Runs `deno task chat ARGS`; the new run's transcript, and the process's output. */
  chat(
    args: string[],
    extraEnv?: Record<string, string>,
  ): Promise<{ t: Transcript; stderr: string; stdout: string }>;
  close(): Promise<void>;
}

async function rig(ollamaHost = `http://127.0.0.1:${closedPort()}`): Promise<Rig> {
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  const store = new ConversationStore(redis);
  // A fresh data folder: no cached default model can be found by accident.
  const home = await Deno.makeTempDir({ prefix: "dialogue_backends_home_" });
  const env = { REDIS_URL: redisServer.url, OLLAMA_HOST: ollamaHost, DIALOGUE_HOME: home };
  return {
    env,
    store,
    async chat(args, extraEnv = {}) {
      const run = await runEntrypoint("main.ts", [...args, "--no-analysis"], {
        env: { ...env, ...extraEnv },
        timeoutMs: 120_000,
      });
      assertEquals(run.code, 0, `chat failed:\n${run.stderr}\n${run.stdout}`);
      const id = await store.latest();
      assert(id, "a run was recorded");
      return { t: await store.transcript(id), stderr: run.stderr, stdout: run.stdout };
    },
    async close() {
      await closeRedis(redis);
      await redisServer.stop();
      await Deno.remove(home, { recursive: true });
    },
  };
}

const STORY = ["--story", "tests/fixtures/story.json"];

Deno.test({
  name:
    "chat --backend embedded --model-file runs end to end with no Ollama: real text, counted tokens",
  ignore: !HAVE_TINY,
  async fn() {
    const r = await rig();
    try {
      const { t } = await r.chat([
        "--backend",
        "embedded",
        "--model-file",
        TINY_MODEL,
        "--max-turns",
        "4",
        ...STORY,
      ]);
      assertEquals(t.meta.status, "completed");
      assertEquals(t.meta.backends, {
        manager: "embedded",
        agent1: "embedded",
        agent2: "embedded",
      });
      assertEquals(t.meta.models.agent1, "stories260K");
      assertEquals(t.responses.length, 4);
      for (const response of t.responses) {
        const md = response.metadata;
        assertEquals(md.backend, "embedded");
        assertEquals(md.token_source, "counted");
        assertEquals(md.timing_source, "timed");
        assert(md.tokens_generated > 0 && md.prompt_tokens > 0, JSON.stringify(md));
        assert(md.tokens_per_second > 0);
        assert(response.content.trim().length > 0, "real generated text");
      }
    } finally {
      await r.close();
    }
  },
});

Deno.test({
  name: "the embedded manager writes a scenario that validates, and the run completes",
  ignore: !HAVE_TINY,
  async fn() {
    const r = await rig();
    try {
      const { t } = await r.chat([
        "--backend",
        "embedded",
        "--model-file",
        TINY_MODEL,
        "--max-turns",
        "2",
        "--seed",
        "7",
      ]);
      assertEquals(t.meta.status, "completed", t.meta.error);
      assert(t.meta.scenario, "the scenario was written by the tiny model");
      assertEquals(t.meta.scenario.personas.length, 2);
      assertEquals(t.responses.length, 2);
    } finally {
      await r.close();
    }
  },
});

Deno.test("chat --backend openai --openai-base-url runs end to end against the OpenAI double, with the key and reported usage", async () => {
  const double = await OpenAiDouble.start({ models: ["tiny"], apiKey: "sk-test-key" });
  const r = await rig();
  try {
    const { t, stderr, stdout } = await r.chat(
      [
        "--backend",
        "openai",
        "--openai-base-url",
        `${double.url}/v1`,
        "--model",
        "tiny",
        "--max-turns",
        "4",
      ],
      { OPENAI_API_KEY: "sk-test-key" },
    );
    assertEquals(t.meta.status, "completed", t.meta.error);
    assertEquals(t.meta.backends, { manager: "openai", agent1: "openai", agent2: "openai" });
    assert(t.meta.scenario, "the manager's scenario came through response_format");
    assertEquals(t.responses.length, 4);
    for (const response of t.responses) {
      assertEquals(response.metadata.backend, "openai");
      assertEquals(response.metadata.token_source, "reported");
      assert(response.metadata.tokens_generated > 0);
    }
    const chats = double.requests.filter((q) => q.path === "/v1/chat/completions");
    assert(chats.length >= 5, "one scenario and four turns");
    // The key went to the server and nowhere else.
    const stored = JSON.stringify(t.meta) + JSON.stringify(t.responses);
    for (const text of [stored, stderr, stdout]) assert(!text.includes("sk-test-key"));
  } finally {
    await r.close();
    await double.close();
  }
});

Deno.test("an OpenAI-compatible server that never sends usage: tokens are counted or estimated, and labelled so", async () => {
  const double = await OpenAiDouble.start({ models: ["tiny"], usage: "none" });
  const r = await rig();
  try {
    const { t } = await r.chat([
      "--backend",
      "openai",
      "--openai-base-url",
      double.url,
      "--model",
      "tiny",
      "--max-turns",
      "2",
      ...STORY,
    ]);
    assertEquals(t.meta.status, "completed", t.meta.error);
    for (const response of t.responses) {
      const source = response.metadata.token_source;
      assert(source === "counted" || source === "estimated", `source ${source}`);
      assert(response.metadata.tokens_generated > 0, "never a silent 0");
    }
  } finally {
    await r.close();
    await double.close();
  }
});

Deno.test({
  name: "a mixed run: agent 1 embedded, agent 2 on Ollama, each recorded with its backend",
  ignore: !HAVE_TINY,
  async fn() {
    const ollama = await OllamaDouble.start();
    const r = await rig(ollama.url);
    try {
      const { t } = await r.chat([
        "--backend",
        "ollama",
        "--agent1-backend",
        "embedded",
        "--model-file",
        TINY_MODEL,
        "--model",
        "tiny",
        "--max-turns",
        "4",
        ...STORY,
      ]);
      assertEquals(t.meta.status, "completed", t.meta.error);
      assertEquals(t.meta.backends?.agent1, "embedded");
      assertEquals(t.meta.backends?.agent2, "ollama");
      assertEquals(t.meta.models.agent1, "stories260K");
      assertEquals(t.meta.models.agent2, "tiny");
      for (const response of t.responses) {
        const expected = response.metadata.agent_id === 1 ? "embedded" : "ollama";
        assertEquals(response.metadata.backend, expected);
      }
      const ollamaChats = ollama.requests.filter((q) => q.path === "/api/chat");
      assertEquals(ollamaChats.length, 2, "only agent 2's turns went to Ollama");
    } finally {
      await r.close();
      await ollama.close();
    }
  },
});

Deno.test({
  name: "auto without Ollama uses the configured embedded model and says why",
  ignore: !HAVE_TINY,
  async fn() {
    const r = await rig();
    try {
      const { t, stderr } = await r.chat([
        "--model-file",
        TINY_MODEL,
        "--max-turns",
        "2",
        ...STORY,
      ]);
      assertEquals(t.meta.backends?.agent1, "embedded");
      // One line, whatever the log level: what each role uses, and why.
      assertStringIncludes(
        stderr,
        "chat: backends: manager embedded · agent 1 embedded · agent 2 embedded (Ollama did not answer at",
      );
      assertStringIncludes(stderr, `using the embedded model ${TINY_MODEL}`);
    } finally {
      await r.close();
    }
  },
});

Deno.test("auto with Ollama answering uses Ollama, even with a model file configured", async () => {
  const ollama = await OllamaDouble.start();
  const r = await rig(ollama.url);
  try {
    const { t } = await r.chat([
      "--model-file",
      "/nonexistent/never-loaded.gguf",
      "--model",
      "tiny",
      "--max-turns",
      "2",
      ...STORY,
    ]);
    assertEquals(t.meta.backends, { manager: "ollama", agent1: "ollama", agent2: "ollama" });
    assertEquals(ollama.requests.filter((q) => q.path === "/api/chat").length, 2);
  } finally {
    await r.close();
    await ollama.close();
  }
});

Deno.test("auto with no Ollama and no model: one line listing the ways forward, nothing created", async () => {
  const r = await rig();
  try {
    const run = await runEntrypoint("main.ts", ["--max-turns", "2", ...STORY], { env: r.env });
    assertEquals(run.code, 1, run.stderr);
    const lines = run.stderr.trim().split("\n");
    assertEquals(lines.length, 1, run.stderr);
    for (
      const way of ["ollama serve", "OLLAMA_HOST", "--model-file", "--openai-base-url", "--pull"]
    ) {
      assertStringIncludes(run.stderr, way);
    }
    assertEquals(await r.store.latest(), undefined, "no run was created");
  } finally {
    await r.close();
  }
});

Deno.test({
  name:
    "processes started by hand follow the run's recorded backends: agent 1 embedded, agent 2 Ollama",
  ignore: !HAVE_TINY,
  async fn() {
    const rig = await FaultRig.start();
    try {
      const id = newTestId("mixed-by-hand");
      // The workers' own configuration says nothing of backends (auto, and
      // Ollama answers); the run the manager creates records agent 1 embedded.
      const agents = await Promise.all(([1, 2] as const).map((slot) =>
        rig.spawn(
          "agent.ts",
          ["--id", String(slot), "--conversation", id, "--model-file", TINY_MODEL],
          `agent ${slot}`,
        )
      ));
      const manager = await rig.manager(id, [
        "--max-turns",
        "4",
        "--agent1-backend",
        "embedded",
        "--model-file",
        TINY_MODEL,
      ]);
      assertEquals(await manager.wait(60_000), 0, manager.describe());
      for (const agent of agents) assertEquals(await agent.wait(30_000), 0, agent.describe());
      const { meta, responses } = await rig.store.transcript(id);
      assertEquals(meta.backends, { manager: "ollama", agent1: "embedded", agent2: "ollama" });
      assertEquals(responses.length, 4);
      for (const response of responses) {
        const expected = response.metadata.agent_id === 1 ? "embedded" : "ollama";
        assertEquals(response.metadata.backend, expected, JSON.stringify(response.metadata));
      }
    } finally {
      await rig.close();
    }
  },
});

Deno.test({
  name:
    "a manager pool writes each run's scenario on the backend the run recorded, not its own default",
  ignore: !HAVE_TINY,
  async fn() {
    const rig = await FaultRig.start();
    try {
      // Pools started by hand with nothing said of backends (auto: Ollama answers).
      const manager = await rig.spawn(
        "manager.ts",
        ["--pool", "--consumer", "m", "--model-file", TINY_MODEL],
        "manager pool",
      );
      const agents = await rig.spawn("agent.ts", ["--consumer", "a"], "agent pool");
      const config = parseConfig({
        manager: { backend: "embedded" },
        agents: { backend: "ollama", model: "tiny" },
        embedded: { model: TINY_MODEL, threads: 1 },
        conversation: { max_turns: 2 },
        // A fixed seed: the tiny model's scenario is then the same every run.
        generation: { seed: 7 },
      });
      const id = await createConversation(rig.redis, config);
      const meta = await until(
        "the run's end",
        async () => {
          const m = await rig.store.get(id);
          return m && (m.status === "completed" || m.status === "failed") ? m : undefined;
        },
        60_000,
        () => rig.report(),
      );
      assertEquals(meta.status, "completed", meta.error);
      assertEquals(meta.models.manager, "stories260K");
      assert(meta.scenario, "the tiny model wrote it");
      // Only the two agent turns reached Ollama: the scenario came from the embedded model.
      assertEquals(rig.chatRequests().length, 2, "two agent turns, no scenario request");
      manager.kill("SIGTERM");
      agents.kill("SIGTERM");
      await Promise.all([manager.done, agents.done]);
    } finally {
      await rig.close();
    }
  },
});
