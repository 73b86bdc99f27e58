/**
 * The analyze command against a private redis-server holding hand-made runs
 * (and the Ollama double for the embedding and judge passes).
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { RunAnalysis } from "../../lib/analysis/run_analysis.ts";
import { RunComparison } from "../../lib/analysis/run_comparison.ts";
import {
  type AnalyzeCommandOptions,
  htmlFileName,
  runAnalyzeCommand,
} from "../../lib/analysis/analyze_command.ts";

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const SCENARIO = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/story.json", import.meta.url)),
);

interface Rig {
  redis: Redis;
  store: ConversationStore;
  run(options: Partial<AnalyzeCommandOptions>): ReturnType<typeof runAnalyzeCommand>;
  dir: string;
}

async function withRuns(fn: (rig: Rig) => Promise<void>, ollamaHost = "http://127.0.0.1:9") {
  const server = await RedisServer.start();
  const config = parseConfig({ redis: { url: server.url }, ollama: { host: ollamaHost } });
  const redis = await connectRedis(config.redis, { name: "test" });
  const dir = await Deno.makeTempDir({ prefix: "dialogue_analyze_" });
  try {
    const store = new ConversationStore(redis);
    // Two runs an hour apart (old first), and one two days old.
    await seed(redis, store, "run-old", NOW - 48 * HOUR, ["Hello there.", "Hi, who are you?"]);
    await seed(redis, store, "run-a", NOW - 2 * HOUR, [
      "The lamp has failed, Ilya.",
      "Can we rewire it from the generator?",
      "Try it, quickly.",
    ]);
    await seed(redis, store, "run-b", NOW - HOUR, ["Ship ahoy!", "Where?", "By the rocks!"]);
    await fn({
      redis,
      store,
      dir,
      run: (options) =>
        runAnalyzeCommand(store, config, { ids: [], format: "text", now: NOW, ...options }),
    });
  } finally {
    await closeRedis(redis);
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function seed(
  redis: Redis,
  store: ConversationStore,
  id: string,
  createdAt: number,
  texts: string[],
  overrides: Record<string, unknown> = {},
): Promise<void> {
  await store.create(ConversationMeta.parse({
    id,
    status: "completed",
    created_at: createdAt,
    started_at: createdAt,
    ended_at: createdAt + 1000 * (texts.length + 1),
    turns: texts.length,
    max_turns: texts.length,
    duration_seconds: 60,
    stop_reason: "max_turns",
    models: { manager: "m", agent1: "tiny", agent2: "tiny" },
    config: {},
    scenario: SCENARIO,
    ...overrides,
  }));
  for (const [i, content] of texts.entries()) {
    const agent = (i % 2) + 1;
    const message = DialogMessage.parse({
      queue_timestamp: createdAt + 1000 * (i + 1),
      message_id: `${id}-${i + 1}`,
      role: "assistant",
      content,
      metadata: {
        conversation_id: id,
        sequence_number: i + 1,
        agent_id: agent,
        tokens_generated: 10,
        tokens_per_second: 50,
      },
    });
    // Recorded and accepted as the engine does: the answered hash names the entry.
    const keys = conversationKeys(id);
    const entryId = await redis.xadd(keys.responses(agent as 1 | 2), "*", ...encodeEntry(message));
    await redis.hset(keys.answered, String(i + 1), entryId!);
  }
}

Deno.test("analyze reports the newest run by default, in each format", async () => {
  await withRuns(async ({ run, dir }) => {
    const text = await run({});
    assert.match(text.text, /^Run run-b {2}completed/);
    const json = RunAnalysis.parse(
      JSON.parse((await run({ format: "json", ids: ["run-a"] })).text),
    );
    assert.equal(json.conversation.id, "run-a");
    assert.equal(json.per_turn.length, 3);
    assert.match((await run({ format: "markdown" })).text, /^# Run run-b\n/);
    const out = `${dir}/report.html`;
    const html = await run({ format: "html", ids: ["run-a"], out });
    assert.equal(html.file, out);
    assert.equal(html.text, `Wrote ${out}\n`);
    assert.match(await Deno.readTextFile(out), /^<!DOCTYPE html>[\s\S]*Run run-a/);
  });
});

Deno.test("analyze --html without --out writes into the reports folder, never the current one", async () => {
  await withRuns(async ({ store, dir }) => {
    const cwd = Deno.cwd();
    const here = `${dir}/cwd`;
    await Deno.mkdir(here);
    Deno.chdir(here);
    try {
      const options = { ids: ["run-a"], format: "html" as const, now: NOW };
      // Default: `reports` in the local store's data folder.
      const env = (name: string) => name === "DIALOGUE_HOME" ? `${dir}/home` : undefined;
      const byDefault = await runAnalyzeCommand(store, parseConfig({}), { ...options, env });
      const expected = `${dir}/home/reports/${htmlFileName("run-a")}`;
      assert.equal(byDefault.file, expected);
      assert.equal(byDefault.text, `Wrote ${expected}\n`);
      assert.match(await Deno.readTextFile(expected), /^<!DOCTYPE html>/);
      // Config reports.dir (created if missing) wins over the default; --out over both.
      const config = parseConfig({ reports: { dir: `${dir}/mine/deep` } });
      const configured = await runAnalyzeCommand(store, config, { ...options, env });
      assert.equal(configured.file, `${dir}/mine/deep/${htmlFileName("run-a")}`);
      const out = await runAnalyzeCommand(store, config, { ...options, env, out: "x.html" });
      assert.equal(out.file, `${here}/x.html`);
      const left = [...Deno.readDirSync(here)].map((e) => e.name);
      assert.deepEqual(left, ["x.html"]);
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("analyze --compare tables the given runs in order; --all --since picks recent ones", async () => {
  await withRuns(async ({ run }) => {
    const given = RunComparison.parse(
      JSON.parse((await run({ compare: true, ids: ["run-a", "run-old"], format: "json" })).text),
    );
    assert.deepEqual(given.runs.map((r) => r.id), ["run-a", "run-old"]);
    const recent = (await run({ all: true, sinceMs: 3 * HOUR })).text;
    assert.match(recent, /^ID +MODELS/);
    assert.deepEqual(recent.trimEnd().split("\n").slice(1).map((l) => l.split(" ")[0]), [
      "run-b",
      "run-a",
    ]);
    const all = (await run({ all: true, format: "markdown" })).text;
    assert.match(all, /run-old/);
    await assert.rejects(
      run({ all: true, sinceMs: 60_000 }),
      (e: unknown) => e instanceof DialogueError && e.code === ErrorCode.NotFound,
    );
  });
});

Deno.test("analyze --export writes dataset lines for one run or all of them", async () => {
  await withRuns(async ({ run, dir }) => {
    const one = (await run({ export: "jsonl", ids: ["run-a"] })).text.trimEnd().split("\n");
    assert.equal(one.length, 3);
    assert.ok(one.every((line) => JSON.parse(line).conversation_id === "run-a"));
    const out = `${dir}/data.jsonl`;
    await run({ export: "sharegpt", all: true, sinceMs: 3 * HOUR, out });
    const lines = (await Deno.readTextFile(out)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.id), ["run-b", "run-a"]);
  });
});

Deno.test("analyze --export --all leaves failed and looping runs out of datasets unless asked, and says so", async () => {
  await withRuns(async ({ redis, store, run }) => {
    await seed(redis, store, "run-failed", NOW - 30 * 60_000, [], {
      status: "failed",
      stop_reason: "error",
      error: "model not found",
      turns: 0,
      max_turns: 10,
    });
    const loop = ["Thank you so much, Ilya!", "You're very welcome, Mara!"];
    await seed(redis, store, "run-loop", NOW - 20 * 60_000, [
      "The lamp has failed and the ship is close to the rocks.",
      "Then let me rewire the lens motor from the generator!",
      ...loop,
      ...loop,
      ...loop,
    ]);
    const ids = (text: string) => text.trimEnd().split("\n").map((l) => JSON.parse(l).id);
    const byDefault = await run({ export: "sharegpt", all: true });
    assert.deepEqual(ids(byDefault.text), ["run-b", "run-a", "run-old"]);
    assert.equal(
      byDefault.notice,
      "Exported 3 of 5 run(s); left out 2: 1 failed, 1 flagged loop (--status completed, --exclude-flag loop; '--status any' and '--exclude-flag none' keep every run)",
    );
    const everything = await run({
      export: "sharegpt",
      all: true,
      statuses: ["completed", "failed"],
      excludeFlags: [],
    });
    // Asked for: the failed and the looping run are back.
    assert.deepEqual(ids(everything.text), ["run-loop", "run-failed", "run-b", "run-a", "run-old"]);
    assert.equal(everything.notice, undefined);
    // A run named by id is exported as asked, unless a filter is given.
    assert.equal((await run({ export: "sharegpt", ids: ["run-loop"] })).notice, undefined);
    const named = await run({ export: "sharegpt", ids: ["run-loop"], excludeFlags: ["loop"] });
    assert.equal(named.text, "");
    assert.match(named.notice ?? "", /^Exported 0 of 1 run\(s\); left out 1: 1 flagged loop/);
  });
});

Deno.test("analyze rejects flags that do not go together, naming them", async () => {
  await withRuns(async ({ run }) => {
    const usage = (pattern: RegExp) => (e: unknown) =>
      e instanceof DialogueError && e.code === ErrorCode.Usage && pattern.test(e.message);
    await assert.rejects(run({ compare: true, ids: ["run-a"] }), usage(/at least two/));
    await assert.rejects(run({ ids: ["run-a", "run-b"] }), usage(/use --compare/));
    await assert.rejects(run({ sinceMs: 1000 }), usage(/--since goes with --all/));
    await assert.rejects(run({ all: true, format: "html" }), usage(/--html reports on one run/));
    await assert.rejects(run({ all: true, ids: ["run-a"] }), usage(/not both/));
    await assert.rejects(run({ export: "jsonl", format: "json" }), usage(/--export/));
    await assert.rejects(run({ statuses: ["failed"] }), usage(/add --export/));
    await assert.rejects(
      run({ compare: true, ids: ["run-a", "run-b"], judgeModel: "tiny" }),
      usage(/--judge-model apply to one run/),
    );
    await assert.rejects(
      run({ ids: ["nosuchid"] }),
      (e: unknown) => e instanceof DialogueError && e.code === ErrorCode.NotFound,
    );
  });
});

Deno.test("analyze --embed-model and --judge-model add model-based sections", async () => {
  const double = await OllamaDouble.start();
  try {
    await withRuns(async ({ run }) => {
      const a = RunAnalysis.parse(JSON.parse(
        (await run({ format: "json", ids: ["run-a"], embedModel: "tiny", judgeModel: "tiny" }))
          .text,
      ));
      assert.equal(a.topic_drift.method, "embedding");
      assert.equal(a.topic_drift.model, "tiny");
      // The personas are embedded too: persona breaks are judged by embeddings.
      assert.equal(a.insight.persona_break?.method, "embedding");
      assert.equal(a.persona_judge?.judged_by, "model");
      assert.ok(a.persona_judge?.agents["1"].scores);
      const paths = double.requests.map((r) => r.path);
      assert.ok(paths.includes("/api/embed") && paths.includes("/api/chat"));
    }, double.url);
  } finally {
    await double.close();
  }
});

Deno.test("htmlFileName() makes a safe file name from an id", () => {
  assert.equal(htmlFileName("20261125-1"), "dialogue-20261125-1.html");
  assert.equal(htmlFileName("../x y"), "dialogue-.._x_y.html");
});

Deno.test("analyze --embed-model with the embedded backend says to use an HTTP backend instead, at once", async () => {
  await withRuns(async ({ store }) => {
    const config = parseConfig({ backend: "embedded", embedded: { model: "/x.gguf" } });
    await assert.rejects(
      runAnalyzeCommand(store, config, {
        ids: ["run-a"],
        format: "text",
        now: NOW,
        embedModel: "tiny",
      }),
      (e: unknown) =>
        e instanceof DialogueError && e.code === ErrorCode.Usage &&
        e.message.includes("--backend ollama") && e.message.includes("--openai-base-url"),
    );
  });
});
