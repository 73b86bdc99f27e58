/**
 * End to end: `deno task batch` as a process against a private redis-server
 * and the Ollama double — a 2 × 3 × 3 batch completes with intervals, a
 * batch interrupted with Ctrl-C resumes only what is missing, its export
 * carries each run's cell and settings, and a bad file fails in one line.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint, spawnEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { readBatchState } from "../../lib/batch/batch_runs.ts";
import { BatchComparison } from "../../lib/analysis/batch_comparison.ts";
import { BATCH_HELP } from "../../batch.ts";
import type { Redis } from "ioredis";

interface Rig {
  double: OllamaDouble;
  redis: Redis;
  env: Record<string, string>;
  dir: string;
  /** Writes a batch file into the rig's folder; its path. */
  file(content: unknown): Promise<string>;
  close(): Promise<void>;
}

async function rig(options: { tokenDelayMs?: number; wordsPerReply?: number } = {}): Promise<Rig> {
  const double = await OllamaDouble.start(options);
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  const dir = await Deno.makeTempDir();
  return {
    double,
    redis,
    dir,
    env: { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url },
    async file(content) {
      const path = `${dir}/batch-${crypto.randomUUID().slice(0, 6)}.jsonc`;
      await Deno.writeTextFile(
        path,
        typeof content === "string" ? content : JSON.stringify(content),
      );
      return path;
    },
    async close() {
      await closeRedis(redis);
      await redisServer.stop();
      await double.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The id a batch printed on its first line. */
function batchId(stdout: string): string {
  const first = stdout.split("\n")[0] ?? "";
  assertMatch(first, /^batch b\d{8}-\d{6}-[0-9a-f]{6}$/);
  return first.slice("batch ".length);
}

/** The most runs the progress lines showed in flight. */
function maxRunning(stderr: string): number {
  const counts = [...stderr.matchAll(/done · (\d+) running/g)].map((m) => Number(m[1]));
  assert(counts.length > 0, `no progress line in: ${stderr}`);
  return Math.max(...counts);
}

/** Reads a stream into a string, resolving `until(pattern)` once the text matches. */
function watch(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const w of [...waiters]) {
        if (w.pattern.test(text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
    for (const w of waiters) w.resolve();
  })();
  return {
    text: () => text,
    done,
    until: (pattern: RegExp) =>
      pattern.test(text)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
  };
}

const STORY = new URL("../fixtures/story.json", import.meta.url).pathname;
const TOPICS = ["a lighthouse in a storm", "two chefs and one oven", "the last train home"];

Deno.test("deno task batch runs 2 models × 3 topics × 3 seeds through the pools and compares them with intervals", async () => {
  const t = await rig();
  try {
    const file = await t.file(`{
      // the issue's smallest shape, with limits
      "models": ["tiny", "llama3.2"],
      "topics": ${JSON.stringify(TOPICS)},
      "seeds": [1, 2, 3],
      "max_turns": 3,
      "duration": "2m",
      "max_parallel": 6,
    }`);
    const run = await runEntrypoint("batch.ts", [file], { env: t.env, timeoutMs: 120_000 });
    assertEquals(run.code, 0, run.stderr);
    const id = batchId(run.stdout);
    assertStringIncludes(run.stderr, "18/18 done · 0 running · 0 failed");
    assertEquals(maxRunning(run.stderr), 6, "max_parallel runs in flight, never more");
    assertStringIncludes(run.stdout, "18 runs in 6 cells; means with 95% percentile bootstrap");
    assertMatch(
      run.stdout,
      /c1 tiny × tiny · a lighthouse in a storm\s+3\s+[\d.]+ \[[\d.]+, [\d.]+\]/,
    );
    assertStringIncludes(run.stdout, "By models");
    assertStringIncludes(run.stdout, "By topic");
    assertStringIncludes(run.stdout, "Differences larger than their intervals");

    // Every run recorded once, tagged with its batch and cell, made with its cell's settings.
    const { runs } = await readBatchState(t.redis, id);
    assertEquals(runs.length, 18);
    assertEquals(runs.every((r) => r.status === "completed"), true);
    const store = new ConversationStore(t.redis);
    assertEquals((await store.ids(100)).length, 18);
    for (const r of runs) {
      const meta = await store.require(r.id!);
      assertEquals(meta.config.batch, { id, cell: r.run.cell.id, run: r.run.key });
      assertEquals((meta.config.manager as { topic: string }).topic, r.run.cell.topic);
      assertEquals((meta.config.generation as { seed: number }).seed, r.run.seed);
      assertEquals(meta.models.agent1, r.run.cell.agent1_model);
      assertEquals(meta.turns, 3);
    }
    // The pools used each run's own topic and seed, not their own config's.
    const chats = t.double.requests.filter((q) => q.path === "/api/chat");
    const text = JSON.stringify(chats.map((q) => q.body));
    for (const topic of TOPICS) assertStringIncludes(text, topic);
    const seeds = new Set(
      chats.map((q) => (q.body as { options?: { seed?: number } }).options?.seed),
    );
    for (const seed of [1, 2, 3]) {
      assert(seeds.has(seed), `the manager wrote a scenario with seed ${seed}`);
      assert(seeds.has(seed + 1 * 10 + 1), `agent 1's first turn used seed ${seed}`);
    }

    // analyze --batch: the same comparison as JSON, with intervals.
    const json = await runEntrypoint("analyze.ts", ["--batch", id, "--json"], { env: t.env });
    assertEquals(json.code, 0, json.stderr);
    const comparison = BatchComparison.parse(JSON.parse(json.stdout));
    assertEquals(comparison.factors, ["models", "topic"]);
    assertEquals(comparison.cells.map((c) => c.runs), [3, 3, 3, 3, 3, 3]);
    const tps = comparison.cells[0]!.figures.tokens_per_second!;
    assert(tps.low !== null && tps.low <= tps.mean && tps.mean <= tps.high!, JSON.stringify(tps));
    assertEquals(comparison.by_factor[0]!.levels.map((l) => l.runs), [9, 9]);

    // The export: the whole batch as a dataset, each line with its cell and settings.
    const out = await runEntrypoint("analyze.ts", ["--export", "sharegpt", "--batch", id], {
      env: t.env,
    });
    assertEquals(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.length, 18);
    for (const line of lines) {
      const r = runs.find((x) => x.id === line.id)!;
      assertEquals(line.metadata.batch.batch_id, id);
      assertEquals(line.metadata.batch.cell, r.run.cell.id);
      assertEquals(line.metadata.batch.run, r.run.key);
      assertEquals(line.metadata.batch.levels.topic, r.run.cell.topic);
      assertEquals(line.metadata.settings.seed, r.run.seed);
      assertEquals(line.metadata.settings.topic, r.run.cell.topic);
      assertEquals(line.metadata.settings.agents["1"].model, r.run.cell.agent1_model);
    }
  } finally {
    await t.close();
  }
});

Deno.test("the pools give each batch run its story file, temperature and prompt variant", async () => {
  const t = await rig();
  try {
    const file = await t.file({
      models: ["tiny"],
      story_files: [STORY],
      temperatures: [0.1, 1.3],
      prompts: {
        plain: {},
        pirate: { agent_system: "You are {{name}}, a pirate at heart. {{format_instructions}}" },
      },
      seeds: [4],
      max_turns: 2,
    });
    const run = await runEntrypoint("batch.ts", [file], { env: t.env, timeoutMs: 120_000 });
    assertEquals(run.code, 0, run.stderr);
    const id = batchId(run.stdout);
    assertStringIncludes(run.stdout, "4 runs in 4 cells");
    const { runs } = await readBatchState(t.redis, id);
    const story = JSON.parse(await Deno.readTextFile(STORY));
    const store = new ConversationStore(t.redis);
    for (const r of runs) assertEquals((await store.require(r.id!)).scenario?.story, story.story);
    // With story files the manager writes nothing: every chat request is an agent's.
    const chats = t.double.requests.filter((q) => q.path === "/api/chat")
      .map((q) => q.body as { messages: { content: string }[]; options: { temperature: number } });
    assertEquals(chats.length, 4 * 2);
    assertEquals(new Set(chats.map((c) => c.options.temperature)), new Set([0.1, 1.3]));
    const pirate = chats.filter((c) => c.messages[0]!.content.includes("a pirate at heart"));
    assertEquals(pirate.length, 4, "the pirate cells' turns, and only those, use that prompt");
    // The HTML comparison: a chart per figure, the four cells.
    const html = await runEntrypoint(
      "analyze.ts",
      ["--batch", id, "--html", "--out", `${t.dir}/batch.html`],
      { env: t.env },
    );
    assertEquals(html.code, 0, html.stderr);
    const page = await Deno.readTextFile(`${t.dir}/batch.html`);
    assertEquals(page.match(/<svg /g)?.length, 10);
    for (const cell of ["c1", "c2", "c3", "c4"]) assertStringIncludes(page, `>${cell} `);
  } finally {
    await t.close();
  }
});

Deno.test("a batch interrupted with Ctrl-C resumes with --resume and runs only what is missing", async () => {
  const t = await rig({ tokenDelayMs: 10, wordsPerReply: 10 });
  try {
    const file = await t.file({
      models: ["tiny", "llama3.2"],
      topics: ["tea", "coffee"],
      seeds: [1, 2],
      max_turns: 4,
      max_parallel: 5, // --max-parallel 2 wins
    });
    const child = await spawnEntrypoint(
      "batch.ts",
      [file, "--no-analysis", "--max-parallel", "2"],
      {
        env: t.env,
      },
    );
    const stdout = watch(child.stdout);
    const stderr = watch(child.stderr);
    // Mid-batch: one run has ended, others are in flight or not started.
    await stderr.until(/[12]\/8 done · 2 running/);
    child.kill("SIGINT");
    const status = await child.status;
    await Promise.all([stdout.done, stderr.done]);
    assertEquals(status.code, 130, stderr.text());
    assertEquals(maxRunning(stderr.text()), 2);
    const id = batchId(stdout.text());
    assertStringIncludes(
      stdout.text(),
      `Interrupted: continue with 'deno task batch --resume ${id}'`,
    );

    const before = (await readBatchState(t.redis, id)).runs;
    const completed = before.filter((r) => r.status === "completed");
    const interrupted = before.filter((r) => r.status === "interrupted");
    const missing = before.filter((r) => r.id === undefined);
    assert(completed.length >= 1, "a run had ended");
    assert(interrupted.length >= 1, "runs in flight were interrupted");
    assert(missing.length >= 1, "some runs had not started");
    assertEquals(before.filter((r) => r.status === "running" || r.status === "pending").length, 0);
    const store = new ConversationStore(t.redis);
    const endedAt = new Map<string, number | undefined>();
    for (const r of completed) endedAt.set(r.id!, (await store.require(r.id!)).ended_at);

    const resumed = await runEntrypoint("batch.ts", ["--resume", id], {
      env: t.env,
      timeoutMs: 120_000,
    });
    assertEquals(resumed.code, 0, resumed.stderr);
    assertEquals(batchId(resumed.stdout), id);
    assertStringIncludes(
      resumed.stdout,
      `resuming: ${8 - completed.length} of 8 runs left`,
    );
    assertStringIncludes(resumed.stdout, "8 runs in 4 cells");
    const after = (await readBatchState(t.redis, id)).runs;
    assertEquals(after.every((r) => r.status === "completed"), true);
    // Nothing ran twice: the same conversation per run, the finished ones untouched.
    assertEquals((await store.ids(100)).length, 8);
    for (const r of [...completed, ...interrupted]) {
      assertEquals(after.find((a) => a.run.key === r.run.key)!.id, r.id);
    }
    for (const [cid, at] of endedAt) assertEquals((await store.require(cid)).ended_at, at);
    for (const r of interrupted) {
      const meta = await store.require(r.id!);
      assertEquals(meta.turns, 4);
      assert((meta.paused_ms ?? 0) > 0, "an interrupted run resumed with its pause recorded");
    }
  } finally {
    await t.close();
  }
});

Deno.test("a bad batch file fails in one line per problem, exit code 2, nothing in Redis", async () => {
  const t = await rig();
  try {
    const bad = await t.file({ models: ["tiny"], topics: [], seeds: [1, 1], colour: "red" });
    const run = await runEntrypoint("batch.ts", [bad], { env: t.env });
    assertEquals(run.code, 2, run.stderr);
    assertEquals(run.stdout, "");
    const lines = run.stderr.trim().split("\n");
    assertEquals(lines.length, 3, run.stderr);
    assertStringIncludes(run.stderr, "Invalid batch file field topics");
    assertStringIncludes(run.stderr, "Invalid batch file field seeds");
    assertStringIncludes(run.stderr, `Unknown batch file field "colour"`);
    const notJson = await t.file("{ models: ");
    const parse = await runEntrypoint("batch.ts", [notJson], { env: t.env });
    assertEquals(parse.code, 2);
    assertEquals(parse.stderr.trim().split("\n").length, 1, parse.stderr);
    assertStringIncludes(parse.stderr, "Cannot parse batch file");
    const unknown = await runEntrypoint("batch.ts", ["--resume", "b20260101-000000-abcdef"], {
      env: t.env,
    });
    assertEquals(unknown.code, 1, unknown.stderr);
    assertStringIncludes(unknown.stderr, "Cannot find batch b20260101-000000-abcdef");
    const both = await runEntrypoint("batch.ts", [bad, "--resume", "b1"], { env: t.env });
    assertEquals(both.code, 2);
    assertStringIncludes(both.stderr, "drop FILE");
    assertEquals(await t.redis.dbsize(), 0);
    const help = await runEntrypoint("batch.ts", ["--help"], { env: t.env });
    assertEquals(help.code, 0);
    assertEquals(help.stdout, `${BATCH_HELP}\n`);
  } finally {
    await t.close();
  }
});
