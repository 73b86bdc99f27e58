/**
 * End to end: the live echo action in a run of `main.ts` (what `deno task
 * chat` runs) against a private redis-server and the Ollama double told to
 * send an echoing script, then `analyze.ts` on the run.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";

const ECHOING = [
  "The lamp flickered twice last night and I logged the storm at force nine.",
  "So the lamp flickered twice last night, and you logged the storm at force nine.",
  "The brass fittings are corroded and the spare wick is nearly gone.",
  "Right, the brass fittings are corroded and the spare wick is nearly gone.",
  "We must ration the paraffin until the supply boat comes.",
  "Yes, we must ration the paraffin until the supply boat comes.",
  "Go down and count the paraffin cans in the cellar.",
  "I will go down and count the paraffin cans in the cellar.",
];

async function echoingRun(echoAction: "stop" | "warn") {
  const double = await OllamaDouble.start();
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  const dir = await Deno.makeTempDir({ prefix: "dialogue_e2e_insight_" });
  try {
    const config = `${dir}/config.jsonc`;
    await Deno.writeTextFile(config, JSON.stringify({ conversation: { echo_action: echoAction } }));
    for (const line of ECHOING) double.enqueueFault({ kind: "text", content: line });
    const env = { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    const run = await runEntrypoint("main.ts", [
      "--config",
      config,
      "--max-turns",
      "8",
      "--output",
      "text",
      "--no-analysis",
      "--story",
      "tests/fixtures/story.json",
    ], { env });
    assertEquals(run.code, 0, run.stderr);
    const store = new ConversationStore(redis);
    const id = (await store.latest())!;
    const meta = (await store.get(id))!;
    const analysis = await runEntrypoint("analyze.ts", [id, "--json"], { env });
    assertEquals(analysis.code, 0, analysis.stderr);
    return { meta, run, analysis: JSON.parse(analysis.stdout) };
  } finally {
    await Deno.remove(dir, { recursive: true });
    await closeRedis(redis);
    await redisServer.stop();
    await double.close();
  }
}

Deno.test("with echo_action stop an echoing run ends after the second restatement, as echo", async () => {
  const { meta, analysis } = await echoingRun("stop");
  assertEquals(meta.status, "completed");
  assertEquals(meta.stop_reason, "echo");
  assertEquals(meta.turns, 4);
  assertEquals(analysis.conversation.stop_reason, "echo");
  assertEquals(analysis.insight.echo.from_turn, 2);
  assertEquals(analysis.flags.some((f: { code: string }) => f.code === "echo"), true);
});

Deno.test("with echo_action warn (the default) an echoing run goes on and observers get a notice", async () => {
  const { meta, run } = await echoingRun("warn");
  assertEquals(meta.stop_reason, "max_turns");
  assertEquals(meta.turns, 8);
  assertStringIncludes(run.stdout, "echoing its partner");
});

Deno.test("analyze --input reads our --export jsonl and ShareGPT files without Redis, showing absent figures as absent", async () => {
  const double = await OllamaDouble.start();
  const redisServer = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "dialogue_e2e_input_" });
  try {
    const env = { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    const run = await runEntrypoint("main.ts", [
      "--max-turns",
      "4",
      "--no-analysis",
      "--story",
      "tests/fixtures/story.json",
    ], { env });
    assertEquals(run.code, 0, run.stderr);
    const fromRedis = await runEntrypoint("analyze.ts", ["--json"], { env });
    assertEquals(fromRedis.code, 0, fromRedis.stderr);
    const exported = await runEntrypoint("analyze.ts", ["--export", "jsonl"], { env });
    assertEquals(exported.code, 0, exported.stderr);
    const file = `${dir}/run.jsonl`;
    await Deno.writeTextFile(file, exported.stdout);
    await redisServer.stop();

    // Redis is gone: --input must not need it.
    const fromFile = await runEntrypoint("analyze.ts", ["--input", file, "--json"], { env });
    assertEquals(fromFile.code, 0, fromFile.stderr);
    const [a, b] = [JSON.parse(fromRedis.stdout), JSON.parse(fromFile.stdout)];
    assertEquals(b.source.format, "dialoguellm_jsonl");
    assertEquals(b.overall.tokens_generated, a.overall.tokens_generated);
    assertEquals(
      b.per_turn.map((r: { tokens: number }) => r.tokens),
      a.per_turn.map((r: { tokens: number }) => r.tokens),
    );
    assertEquals(b.dialogue, a.dialogue);
    assertEquals(b.conversation.max_turns, null);

    const sharegpt = "tests/fixtures/insight/input/sharegpt.jsonl";
    const json = await runEntrypoint("analyze.ts", ["--input", sharegpt, "--json"], { env });
    assertEquals(json.code, 0, json.stderr);
    const many = JSON.parse(json.stdout);
    assertEquals(many.kind, "input");
    assertEquals(many.conversations.length, 3);
    assertEquals(many.conversations[0].overall.tokens_per_second, null);
    assertEquals(many.comparison.runs.length, 3);
    assertEquals(
      many.conversations.map((c: { flags: { code: string }[] }) => c.flags.map((f) => f.code)),
      [[], ["persona_break"], ["echo"]],
    );
    const md = await runEntrypoint("analyze.ts", ["--input", sharegpt, "--markdown"], { env });
    assertEquals(md.code, 0, md.stderr);
    assertMatch(md.stdout, /\| tok\/s mean +\| +– \| +– \| +– \|/);
    assertStringIncludes(md.stdout, "## Insight");
    assertStringIncludes(md.stdout, "# Comparison");
    const page = `${dir}/one.html`;
    const html = await runEntrypoint(
      "analyze.ts",
      ["--input", "tests/fixtures/insight/input/openai.json", "--html", "--out", page],
      { env },
    );
    assertEquals(html.code, 0, html.stderr);
    const text = await Deno.readTextFile(page);
    assertStringIncludes(text, `<h2>Insight</h2>`);
    assertStringIncludes(text, "collapse");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await redisServer.stop().catch(() => {});
    await double.close();
  }
});

const COLLAPSING = [
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "Fascinating! Does the salt spray affect the lichen colonies on the north cliff?",
  "Salt eats everything here. Brass, rope, my patience. The cliff is off limits in this wind.",
  "But the ferry leaves Thursday and my supervisor expects a specimen of the orange lichen.",
  "We are together in this, the light and the lichen.",
  "Together in this, the light and the lichen, yes.",
  "Together, the light and the lichen.",
  "Yes, together, the light and the lichen.",
  "The light and the lichen, together.",
  "Together. The light. The lichen.",
  "The light, the lichen.",
  "Light. Lichen.",
];

Deno.test("with collapse_action stop a run whose talk collapses ends as collapse, before its turn limit", async () => {
  const double = await OllamaDouble.start();
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  const dir = await Deno.makeTempDir({ prefix: "dialogue_e2e_collapse_" });
  try {
    const config = `${dir}/config.jsonc`;
    // Only the collapse check acts: the others would see other signs in this script.
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        conversation: {
          collapse_action: "stop",
          echo_action: "off",
          loop_action: "off",
          stale_action: "off",
        },
      }),
    );
    for (const line of COLLAPSING) double.enqueueFault({ kind: "text", content: line });
    const env = { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    const run = await runEntrypoint("main.ts", [
      "--config",
      config,
      "--max-turns",
      String(COLLAPSING.length),
      "--output",
      "text",
      "--no-analysis",
      "--story",
      "tests/fixtures/story.json",
    ], { env });
    assertEquals(run.code, 0, run.stderr);
    const store = new ConversationStore(redis);
    const meta = (await store.get((await store.latest())!))!;
    assertEquals(meta.status, "completed");
    assertEquals(meta.stop_reason, "collapse");
    assertMatch(String(meta.turns), /^([5-9]|1[01])$/, `stopped before the limit: ${meta.turns}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await closeRedis(redis);
    await redisServer.stop();
    await double.close();
  }
});
