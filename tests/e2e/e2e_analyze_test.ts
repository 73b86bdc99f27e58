/**
 * End to end: runs produced by spawning `main.ts` against a private
 * redis-server and the Ollama test double, then `analyze.ts` spawned on
 * them as a user would run it.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { RunComparison } from "../../lib/analysis/run_comparison.ts";
import { CHART_IDS } from "../../lib/analysis/report/html_report.ts";
import type { Redis } from "ioredis";

interface Rig {
  double: OllamaDouble;
  env: Record<string, string>;
  store: ConversationStore;
  /** Runs `deno task chat` with the fixture story; returns the new run's id. */
  chat(maxTurns: number): Promise<string>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const double = await OllamaDouble.start();
  const redisServer = await RedisServer.start();
  const redis: Redis = await connectRedis(
    parseConfig({ redis: { url: redisServer.url } }).redis,
    { name: "test" },
  );
  const store = new ConversationStore(redis);
  const env = { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
  return {
    double,
    env,
    store,
    async chat(maxTurns) {
      const before = await store.latest();
      const run = await runEntrypoint("main.ts", [
        "--max-turns",
        String(maxTurns),
        "--story",
        "tests/fixtures/story.json",
        "--no-analysis",
      ], { env });
      assertEquals(run.code, 0, run.stderr);
      const id = await store.latest();
      assert(id && id !== before, "a new run was recorded");
      return id;
    },
    async close() {
      await closeRedis(redis);
      await redisServer.stop();
      await double.close();
    },
  };
}

/** A structured agent reply, as the double sends it when told to. */
function reply(message: string): string {
  return JSON.stringify({ message, sentiment: "positive", references: [] });
}

Deno.test("analyze on a looping run prints the summary with the loop flag, writes --html and exports", async () => {
  const t = await rig();
  const cwd = await Deno.makeTempDir({ prefix: "dialogue_e2e_analyze_" });
  try {
    const script = [
      "The lamp has failed and the ship is close to the rocks, Ilya.",
      "Then let me rewire the lens motor from the generator, quickly!",
      "Thank you so much, Ilya!",
      "You're very welcome, Mara!",
      "Thank you so much, Ilya!",
      "You're very welcome, Mara!",
      "Thank you so much, Ilya!",
      "You're very welcome, Mara!",
    ];
    for (const line of script) t.double.enqueueFault({ kind: "text", content: reply(line) });
    const id = await t.chat(8);

    const text = await runEntrypoint("analyze.ts", [], { env: t.env });
    assertEquals(text.code, 0, text.stderr);
    assertMatch(text.stdout, new RegExp(`^Run ${id} {2}completed`));
    for (const part of ["Metric", "tok/s per turn", "sentiment per turn", "Dialogue", "Flags"]) {
      assertStringIncludes(text.stdout, part);
    }
    assertMatch(text.stdout, /! loop from turn 5: Agents are repeating each other/);

    const env = { ...t.env, DIALOGUE_HOME: `${cwd}/home` };
    const html = await runEntrypoint("analyze.ts", [id, "--html"], { env, cwd });
    assertEquals(html.code, 0, html.stderr);
    const path = `${cwd}/home/reports/dialogue-${id}.html`;
    assertEquals(html.stdout, `Wrote ${path}\n`);
    const page = await Deno.readTextFile(path);
    for (const chart of CHART_IDS) assertStringIncludes(page, `<svg id="${chart}"`);
    assertStringIncludes(page, "Thank you so much, Ilya!");
    assertStringIncludes(page, "You&#39;re very welcome, Mara!");
    assertMatch(page, /<li class="flag loop">/);

    const exported = await runEntrypoint("analyze.ts", ["--export", "openai"], { env: t.env });
    assertEquals(exported.code, 0, exported.stderr);
    const [record, ...more] = exported.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assertEquals(more.length, 0);
    const roles = record.messages.map((m: { role: string }) => m.role);
    assertEquals(roles.slice(0, 3), ["system", "user", "assistant"]);
    assertEquals(record.messages[1].content, script[0]);

    // A dataset of every run leaves the looping one out by default, and says so on stderr.
    const dataset = await runEntrypoint("analyze.ts", ["--export", "openai", "--all"], {
      env: t.env,
    });
    assertEquals(dataset.code, 0, dataset.stderr);
    assertEquals(dataset.stdout, "");
    assertMatch(
      dataset.stderr,
      /^analyze: Exported 0 of 1 run\(s\); left out 1: 1 flagged loop \(--exclude-flag loop;/m,
    );
    const kept = await runEntrypoint(
      "analyze.ts",
      ["--export", "openai", "--all", "--exclude-flag", "none", "--status", "any"],
      { env: t.env },
    );
    assertEquals(kept.code, 0, kept.stderr);
    assertEquals(kept.stdout.trimEnd().split("\n").length, 1);
    const wrong = await runEntrypoint("analyze.ts", ["--export", "openai", "--status", "done"], {
      env: t.env,
    });
    assertEquals(wrong.code, 2);
    assertMatch(
      wrong.stderr,
      /Invalid --status "done": expected a comma-separated list of pending,/,
    );
  } finally {
    await Deno.remove(cwd, { recursive: true });
    await t.close();
  }
});

Deno.test("analyze --compare and --all --since print one table across runs", async () => {
  const t = await rig();
  try {
    const first = await t.chat(2);
    const second = await t.chat(4);

    const compare = await runEntrypoint("analyze.ts", ["--compare", first, second], { env: t.env });
    assertEquals(compare.code, 0, compare.stderr);
    const lines = compare.stdout.trimEnd().split("\n");
    assertMatch(lines[0] ?? "", /^ID +MODELS +TURNS +STOP +TOK\/S +DISTINCT-2 +REPETITION +LOOP/);
    assertMatch(lines[1] ?? "", new RegExp(`^${first} +tiny +2/2 +max_turns +\\d+\\.\\d`));
    assertMatch(lines[2] ?? "", new RegExp(`^${second} +tiny +4/4 +max_turns`));

    const all = await runEntrypoint("analyze.ts", ["--all", "--since", "1h", "--json"], {
      env: t.env,
    });
    assertEquals(all.code, 0, all.stderr);
    const table = RunComparison.parse(JSON.parse(all.stdout));
    assertEquals(table.runs.map((r) => r.id), [second, first]);
    assert(table.runs.every((r) => r.tokens_per_second !== null && r.tokens_per_second > 0));

    const bad = await runEntrypoint("analyze.ts", ["--compare", first], { env: t.env });
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, "--compare needs at least two conversation ids");
  } finally {
    await t.close();
  }
});
