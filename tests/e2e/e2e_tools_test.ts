/**
 * End to end, the tools around a run: listing, cleaning, retention,
 * analysis, replay, and keeping hostile model output off the terminal.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint, type RunResult } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { conversationIndexKey, conversationKeys } from "../../lib/bus/keys.ts";
import { RunAnalysis } from "../../lib/analysis/run_analysis.ts";
import type { Redis } from "ioredis";

const STORY = "tests/fixtures/story.json";

interface Rig {
  double: OllamaDouble;
  redisServer: RedisServer;
  redis: Redis;
  env: Record<string, string>;
  store: ConversationStore;
  /** Runs main.ts with the fixture story; asserts it completed; returns the new id. */
  chat(args?: string[]): Promise<{ id: string; run: RunResult }>;
  /** Every key in Redis that belongs to conversation `id`. */
  keysOf(id: string): Promise<string[]>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const double = await OllamaDouble.start();
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  const env = { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
  const store = new ConversationStore(redis);
  return {
    double,
    redisServer,
    redis,
    env,
    store,
    async chat(args = []) {
      const before = await store.latest();
      const run = await runEntrypoint(
        "main.ts",
        ["--story", STORY, "--max-turns", "2", "--no-analysis", ...args],
        { env, timeoutMs: 30_000 },
      );
      assertEquals(run.code, 0, run.stderr);
      const id = await store.latest();
      assert(id && id !== before, "main.ts created a new conversation");
      return { id, run };
    },
    async keysOf(id) {
      return (await redis.keys("*")).filter((key) => key.includes(`{${id}}`)).sort();
    },
    async close() {
      await closeRedis(redis);
      await redisServer.stop();
      await double.close();
    },
  };
}

/** `text` with each run of whitespace as one space: the view word-wraps messages. */
function unwrapped(text: string): string {
  return text.replace(/\s+/g, " ");
}

function lines(text: string): string[] {
  return text.trim().split("\n");
}

Deno.test("after two finished runs", async (t) => {
  const rigged = await rig();
  try {
    const first = await rigged.chat();
    const second = await rigged.chat();

    await t.step(
      "observe --list shows both, newest first, with status, turns and len/pending queues",
      async () => {
        const list = await runEntrypoint("observer.ts", ["--list"], { env: rigged.env });
        assertEquals(list.code, 0, list.stderr);
        const [header, ...rows] = lines(list.stdout);
        assertStringIncludes(header!, "STATUS");
        assertStringIncludes(header!, "TURNS");
        assertStringIncludes(header!, "len/pending");
        assertEquals(rows.length, 2, list.stdout);
        assert(rows[0]!.startsWith(second.id), `newest first:\n${list.stdout}`);
        assert(rows[1]!.startsWith(first.id), `oldest last:\n${list.stdout}`);
        for (const row of rows) {
          assertMatch(row, /\bcompleted\b/);
          assertMatch(row, /\bmax_turns\b/);
          assertMatch(row, /\b2\/2\b/);
          // Two turns: one request and one response per agent, all acknowledged.
          assert(row.endsWith("1/0 1/0 1/0 1/0"), `queue columns in ${JSON.stringify(row)}`);
        }
        const limited = await runEntrypoint("observer.ts", ["--list", "--limit", "1"], {
          env: rigged.env,
        });
        assertEquals(limited.code, 0, limited.stderr);
        assertEquals(lines(limited.stdout).length, 2, limited.stdout);
        assert(lines(limited.stdout)[1]!.startsWith(second.id));
      },
    );

    await t.step("analyze without an id reports the newest run", async () => {
      const json = await runEntrypoint("analyze.ts", ["--json"], { env: rigged.env });
      assertEquals(json.code, 0, json.stderr);
      assertEquals(RunAnalysis.parse(JSON.parse(json.stdout)).conversation.id, second.id);
      const text = await runEntrypoint("analyze.ts", [], { env: rigged.env });
      assertEquals(text.code, 0, text.stderr);
      assertStringIncludes(text.stdout, second.id);
      assert(!text.stdout.includes(first.id), "only the newest run");
    });

    await t.step(
      "analyze with an unknown id exits 1 with one line naming it and --list",
      async () => {
        const missing = await runEntrypoint("analyze.ts", ["nosuchid"], { env: rigged.env });
        assertEquals(missing.code, 1, missing.stderr);
        assertEquals(lines(missing.stderr).length, 1, missing.stderr);
        assertStringIncludes(missing.stderr, "nosuchid");
        assertStringIncludes(missing.stderr, "--list");
        assert(!missing.stderr.includes("    at "), "no stack trace");
      },
    );

    await t.step("analyze --markdown prints a Markdown report with a table", async () => {
      const markdown = await runEntrypoint("analyze.ts", ["--markdown"], { env: rigged.env });
      assertEquals(markdown.code, 0, markdown.stderr);
      assertStringIncludes(markdown.stdout, `# Run ${second.id}`);
      const table = lines(markdown.stdout).filter((line) => line.startsWith("|"));
      assert(table.length >= 3, `a table with a header, a rule and rows:\n${markdown.stdout}`);
      assert(
        table.some((line) => /^\|(\s*:?-{3,}:?\s*\|)+$/.test(line)),
        `a header rule line:\n${markdown.stdout}`,
      );
    });

    await t.step(
      "the observer replays a finished run: every message, then how it ended",
      async () => {
        const replay = await runEntrypoint("observer.ts", ["--conversation", first.id], {
          env: rigged.env,
          timeoutMs: 20_000,
        });
        assertEquals(replay.code, 0, replay.stderr);
        const { responses } = await rigged.store.transcript(first.id);
        assertEquals(responses.length, 2);
        let from = 0;
        for (const response of responses) {
          const at = unwrapped(replay.stdout).indexOf(unwrapped(response.content), from);
          assert(at >= from, `message ${response.metadata.sequence_number} replayed in order`);
          from = at;
        }
        assertStringIncludes(replay.stdout, "Run ended: completed (max_turns) after 2 turns");
        assert(
          unwrapped(replay.stdout).indexOf("Run ended") > from,
          "the ending comes after the messages",
        );
      },
    );

    await t.step("by default the keys of a finished run never expire", async () => {
      const keys = await rigged.keysOf(first.id);
      assert(keys.length >= 5, keys.join(", "));
      for (const key of keys) assertEquals(await rigged.redis.ttl(key), -1, key);
      assertEquals(await rigged.redis.ttl(conversationIndexKey()), -1, "nor does the index");
    });

    // Last: it deletes a run.
    await t.step("clean --dry-run deletes nothing; clean deletes only the chosen run", async () => {
      const goneKeys = await rigged.keysOf(first.id);
      const keptKeys = await rigged.keysOf(second.id);
      assert(goneKeys.includes(conversationKeys(first.id).meta), goneKeys.join(", "));

      const dry = await runEntrypoint("clean.ts", ["--conversation", first.id, "--dry-run"], {
        env: rigged.env,
      });
      assertEquals(dry.code, 0, dry.stderr);
      assertStringIncludes(dry.stdout, `would delete ${first.id}`);
      assertEquals(await rigged.keysOf(first.id), goneKeys, "the dry run deleted nothing");
      assertEquals(await rigged.store.ids(), [second.id, first.id]);

      const clean = await runEntrypoint("clean.ts", ["--conversation", first.id], {
        env: rigged.env,
      });
      assertEquals(clean.code, 0, clean.stderr);
      assertStringIncludes(clean.stdout, `deleted ${first.id}`);
      assertEquals(await rigged.keysOf(first.id), [], "no key of the deleted run is left");
      assertEquals(await rigged.store.ids(), [second.id], "its index entry is gone");
      assertEquals(await rigged.keysOf(second.id), keptKeys, "the other run is untouched");
      assertEquals((await rigged.store.get(second.id))?.status, "completed");
    });
  } finally {
    await rigged.close();
  }
});

Deno.test("clean without a selection exits 2 and deletes nothing", async () => {
  const t = await rig();
  try {
    await t.redis.set("canary", "1");
    const run = await runEntrypoint("clean.ts", [], { env: t.env });
    assertEquals(run.code, 2, run.stderr);
    assertEquals(lines(run.stderr).length, 1, run.stderr);
    assertStringIncludes(run.stderr, "--conversation");
    assertEquals(await t.redis.dbsize(), 1);
  } finally {
    await t.close();
  }
});

Deno.test("clean keeps a running conversation unless --force", async () => {
  const t = await rig();
  try {
    const id = "running-one";
    await t.store.create({
      id,
      status: "running",
      created_at: Date.now() - 60_000,
      turns: 1,
      max_turns: 10,
      duration_seconds: 300,
      models: { manager: "tiny", agent1: "tiny", agent2: "tiny" },
      config: {},
    });
    await t.redis.xadd(conversationKeys(id).requests(1), "*", "message", "{}");
    const before = await t.keysOf(id);
    assertEquals(before.length, 2);

    const kept = await runEntrypoint("clean.ts", ["--conversation", id], { env: t.env });
    assertEquals(kept.code, 0, kept.stderr);
    assertStringIncludes(kept.stderr, `kept ${id}`);
    assertStringIncludes(kept.stderr, "--force");
    assertStringIncludes(kept.stdout, "0 conversation(s) deleted");
    assertEquals(await t.keysOf(id), before);

    const forced = await runEntrypoint("clean.ts", ["--conversation", id, "--force"], {
      env: t.env,
    });
    assertEquals(forced.code, 0, forced.stderr);
    assertStringIncludes(forced.stdout, `deleted ${id}`);
    assertEquals(await t.keysOf(id), []);
    assertEquals(await t.store.ids(), []);
  } finally {
    await t.close();
  }
});

Deno.test("retention.seconds gives every key of a finished run a TTL", async () => {
  const t = await rig();
  const dir = await Deno.makeTempDir({ prefix: "dialogue_retention_" });
  try {
    const configFile = `${dir}/retention.json`;
    await Deno.writeTextFile(configFile, JSON.stringify({ retention: { seconds: 3600 } }));
    const { id } = await t.chat(["--config", configFile]);
    const found = await t.keysOf(id);
    const keys = conversationKeys(id);
    for (const key of [keys.meta, keys.requests(1), keys.responses(2), keys.live]) {
      assert(found.includes(key), `${key} exists`);
    }
    for (const key of found) {
      const ttl = await t.redis.ttl(key);
      assert(ttl > 0 && ttl <= 3600, `${key} has TTL ${ttl}`);
    }
    assertEquals(await t.redis.ttl(conversationIndexKey()), -1, "the shared index never expires");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await t.close();
  }
});

Deno.test("retention.seconds also expires a run that failed because an agent gave up", async () => {
  const t = await rig();
  const dir = await Deno.makeTempDir({ prefix: "dialogue_retention_" });
  try {
    const configFile = `${dir}/retention.json`;
    await Deno.writeTextFile(configFile, JSON.stringify({ retention: { seconds: 3600 } }));
    // Agent 1's three attempts at turn 1 all break the reply schema.
    for (let i = 0; i < 3; i++) t.double.enqueueFault({ kind: "invalid_schema" });
    const run = await runEntrypoint(
      "main.ts",
      ["--config", configFile, "--story", STORY, "--max-turns", "2", "--no-analysis"],
      { env: t.env, timeoutMs: 30_000 },
    );
    assertEquals(run.code, 1, run.stderr);
    const id = (await t.store.latest())!;
    const meta = (await t.store.get(id))!;
    assertEquals(meta.status, "failed");
    const keys = await t.keysOf(id);
    assert(keys.length >= 3, keys.join(", "));
    for (const key of keys) {
      const ttl = await t.redis.ttl(key);
      assert(ttl > 0 && ttl <= 3600, `${key} has TTL ${ttl}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await t.close();
  }
});

Deno.test("hostile model output never reaches the terminal, while its words do", async () => {
  const t = await rig();
  try {
    const hostile = [
      "\x1b[2J\x1b[Hmarigold",
      "\x1b]52;c;cm0gLXJmIH4=\x07pelican",
      "\x1b]8;;https://evil.example/\x1b\\quartz\x1b]8;;\x1b\\",
      "saffron\x07\x07",
      "\u009b31mtundra\u009b0m",
      "decoy\x08\x08\x08\x08\x08juniper",
      "\u202eosmium\u202c",
    ].join(" ");
    // --story: no manager request, so the two faults are the two agent turns.
    t.double.enqueueFault({ kind: "text", content: hostile });
    t.double.enqueueFault({ kind: "text", content: hostile });
    const { id, run } = await t.chat(["--output", "text"]);
    const replay = await runEntrypoint("observer.ts", ["--conversation", id], { env: t.env });
    assertEquals(replay.code, 0, replay.stderr);
    const { responses } = await t.store.transcript(id);
    assertEquals(responses.length, 2);

    for (const [who, out] of [["main.ts", run.stdout], ["observer.ts", replay.stdout]]) {
      for (const word of ["marigold", "pelican", "quartz", "saffron", "tundra", "juniper"]) {
        assertStringIncludes(out!, word, `${who} shows ${word}`);
      }
      assertStringIncludes(out!, "osmium");
      for (const control of ["\x1b", "\x07", "\x08", "\u009b", "\u202e"]) {
        assert(
          !out!.includes(control),
          `${who} stdout contains ${JSON.stringify(control)}:\n${JSON.stringify(out)}`,
        );
      }
    }
    // Stderr is a terminal too.
    for (const control of ["\x1b", "\x07", "\x08", "\u009b", "\u202e"]) {
      assert(!run.stderr.includes(control), `main.ts stderr contains ${JSON.stringify(control)}`);
    }
  } finally {
    await t.close();
  }
});
