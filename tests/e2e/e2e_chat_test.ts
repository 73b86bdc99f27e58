/**
 * End to end: the real entrypoints as processes, against a private
 * redis-server and the Ollama test double.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { collect, runEntrypoint, spawnEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { RunAnalysis } from "../../lib/analysis/run_analysis.ts";
import type { Redis } from "ioredis";

interface Rig {
  double: OllamaDouble;
  redisServer: RedisServer;
  redis: Redis;
  env: Record<string, string>;
  store: ConversationStore;
  close(): Promise<void>;
}

/** `text` with each run of whitespace as one space: the view word-wraps messages. */
function unwrapped(text: string): string {
  return text.replace(/\s+/g, " ");
}

async function rig(options: { tokenDelayMs?: number; wordsPerReply?: number } = {}): Promise<Rig> {
  const double = await OllamaDouble.start(options);
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  return {
    double,
    redisServer,
    redis,
    env: { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" },
    store: new ConversationStore(redis),
    async close() {
      await closeRedis(redis);
      await redisServer.stop();
      await double.close();
    },
  };
}

Deno.test("deno task chat runs a conversation to max_turns, logs it in the streams and analyzes it", async () => {
  const t = await rig();
  try {
    const run = await runEntrypoint("main.ts", ["--max-turns", "4", "--duration", "60"], {
      env: t.env,
    });
    assertEquals(run.code, 0, run.stderr);
    const id = (await t.store.latest())!;
    const { meta, responses, requests } = await t.store.transcript(id);
    assertEquals(meta.status, "completed");
    assertEquals(meta.stop_reason, "max_turns");
    assertEquals(meta.turns, 4);
    assert(meta.scenario, "the manager's scenario is stored");
    assertEquals(responses.map((r) => r.metadata.sequence_number), [1, 2, 3, 4]);
    assertEquals(responses.map((r) => r.metadata.agent_id), [1, 2, 1, 2]);
    assertEquals(requests.length, 4);
    for (const response of responses) {
      assert(response.metadata.tokens_generated > 0, "eval_count recorded");
      assert(response.metadata.tokens_per_second > 0, "tokens/s recorded");
      assert(response.metadata.total_duration_ms > 0, "Ollama's total duration recorded");
      assert(response.metadata.wall_time_ms >= response.metadata.total_duration_ms * 0.5);
      assertEquals(response.metadata.model, "tiny");
      // The live view printed every message, in order.
    }
    let from = 0;
    for (const response of responses) {
      const at = unwrapped(run.stdout).indexOf(unwrapped(response.content), from);
      assert(at >= from, `message ${response.metadata.sequence_number} shown in order`);
      from = at;
    }
    assertStringIncludes(run.stdout, "Run ended: completed (max_turns) after 4 turns");
    assertMatch(run.stdout, /tok\/s/);
    // Every request was acknowledged: nothing pending on any queue.
    for (const stat of await t.store.queueStats(id)) assertEquals(stat.pending, 0, stat.stream);

    const analyze = await runEntrypoint("analyze.ts", [id, "--json"], { env: t.env });
    assertEquals(analyze.code, 0, analyze.stderr);
    const report = RunAnalysis.parse(JSON.parse(analyze.stdout));
    assertEquals(report.conversation.stop_reason, "max_turns");
    assertEquals(report.agents["1"].turns, 2);
    assertEquals(report.agents["2"].turns, 2);
    assertEquals(
      report.overall.tokens_generated,
      responses.reduce((n, r) => n + r.metadata.tokens_generated, 0),
    );
  } finally {
    await t.close();
  }
});

Deno.test("the observer process shows every message of a live run in order with its figures", async () => {
  const t = await rig({ tokenDelayMs: 15 });
  try {
    const chat = await spawnEntrypoint("main.ts", ["--max-turns", "4", "--no-analysis"], {
      env: t.env,
    });
    const chatOut = collect(chat.stdout);
    const chatErr = collect(chat.stderr);
    // Attach as soon as the conversation exists, while it runs.
    while (!(await t.store.latest())) await new Promise((r) => setTimeout(r, 100));
    const observer = await runEntrypoint("observer.ts", [], { env: t.env, timeoutMs: 60_000 });
    const status = await chat.status;
    await Promise.all([chatOut.done, chatErr.done]);
    assertEquals(status.code, 0, chatErr.text());
    assertEquals(observer.code, 0, observer.stderr);
    const { responses } = await t.store.transcript((await t.store.latest())!);
    assertEquals(responses.length, 4);
    let from = 0;
    for (const response of responses) {
      const at = unwrapped(observer.stdout).indexOf(unwrapped(response.content), from);
      assert(at >= from, `observer shows message ${response.metadata.sequence_number} in order`);
      const figures = unwrapped(observer.stdout).slice(at).match(/↳ (\d+) tokens · [\d.]+ tok\/s/);
      assert(figures, "a figures line follows the message");
      assertEquals(Number(figures[1]), response.metadata.tokens_generated);
      from = at;
    }
    assertStringIncludes(observer.stdout, "Run ended: completed (max_turns)");
  } finally {
    await t.close();
  }
});

Deno.test("the deadline cancels a slow generation on time and is recorded as the stop reason", async () => {
  // Each reply would take ~200 words × 100 ms = 20 s; the run may last 3 s.
  const t = await rig({ tokenDelayMs: 100, wordsPerReply: 200 });
  try {
    const run = await runEntrypoint(
      "main.ts",
      [
        "--max-turns",
        "10",
        "--duration",
        "3",
        "--no-analysis",
        "--story",
        "tests/fixtures/story.json",
      ],
      { env: t.env, timeoutMs: 40_000 },
    );
    assertEquals(run.code, 0, run.stderr);
    const meta = (await t.store.get((await t.store.latest())!))!;
    assertEquals(meta.stop_reason, "duration");
    assertEquals(meta.status, "completed");
    const overrun = meta.ended_at! - meta.deadline!;
    assert(overrun < 1500, `ended ${overrun} ms after the deadline`);
    assert(run.elapsedMs < 15_000, `main exited after ${run.elapsedMs} ms`);
    assertStringIncludes(run.stdout, "abandoned");
    // The cancelled reply never reached the log.
    assertEquals(await t.redis.xlen(conversationKeys(meta.id).responses(1)), 0);
  } finally {
    await t.close();
  }
});

Deno.test("a missing model stops deno task chat before anything starts, naming the pull command", async () => {
  const t = await rig();
  try {
    const run = await runEntrypoint("main.ts", ["--model", "llama9"], { env: t.env });
    assertEquals(run.code, 1);
    assertStringIncludes(run.stderr, "ollama pull llama9");
    assert(!run.stderr.includes("    at "), "no stack trace");
    assertEquals(await t.store.latest(), undefined);
  } finally {
    await t.close();
  }
});

Deno.test("an unreachable Ollama is reported with the host and how to fix it", async () => {
  const t = await rig();
  try {
    const env = { ...t.env, OLLAMA_HOST: "http://127.0.0.1:9" };
    const run = await runEntrypoint("main.ts", [], { env });
    assertEquals(run.code, 1);
    assertStringIncludes(run.stderr, "127.0.0.1:9");
    assertStringIncludes(run.stderr, "OLLAMA_HOST");
    assert(!run.stderr.includes("    at "), "no stack trace");
  } finally {
    await t.close();
  }
});

Deno.test("a bad flag value ends with one line naming it, exit code 2, nothing in Redis", async () => {
  const t = await rig();
  try {
    const run = await runEntrypoint("main.ts", ["--max-turns=-3"], { env: t.env });
    assertEquals(run.code, 2);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assertStringIncludes(run.stderr, "conversation.max_turns");
    assertStringIncludes(run.stderr, "-3");
    assertEquals(await t.redis.dbsize(), 0);
  } finally {
    await t.close();
  }
});

Deno.test("the manager ends a run early when the agents loop, recording loop as the stop reason", async () => {
  const t = await rig();
  try {
    const farewells = [
      "Thank you so much, goodbye my friend!",
      "Thank you, goodbye to you too, friend!",
    ];
    for (let i = 0; i < 20; i++) {
      t.double.enqueueFault({ kind: "text", content: farewells[i % 2]! });
    }
    const run = await runEntrypoint(
      "main.ts",
      [
        "--max-turns",
        "20",
        "--output",
        "text",
        "--no-analysis",
        "--story",
        "tests/fixtures/story.json",
      ],
      { env: t.env },
    );
    assertEquals(run.code, 0, run.stderr);
    const meta = (await t.store.get((await t.store.latest())!))!;
    assertEquals(meta.stop_reason, "loop");
    assert(meta.turns < 20, `stopped early, at turn ${meta.turns}`);
    assertStringIncludes(run.stdout, "(loop)");
  } finally {
    await t.close();
  }
});

Deno.test("with loop_action warn the run goes on and observers get a notice", async () => {
  const t = await rig();
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/config.jsonc`;
    await Deno.writeTextFile(config, `{ "conversation": { "loop_action": "warn" } }`);
    for (let i = 0; i < 8; i++) t.double.enqueueFault({ kind: "text", content: "Thanks, bye!" });
    const run = await runEntrypoint(
      "main.ts",
      [
        "--config",
        config,
        "--max-turns",
        "8",
        "--output",
        "text",
        "--no-analysis",
        "--story",
        "tests/fixtures/story.json",
      ],
      { env: t.env },
    );
    assertEquals(run.code, 0, run.stderr);
    const meta = (await t.store.get((await t.store.latest())!))!;
    assertEquals(meta.stop_reason, "max_turns");
    assertEquals(meta.turns, 8);
    assertStringIncludes(run.stdout, "repeating each other");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await t.close();
  }
});
