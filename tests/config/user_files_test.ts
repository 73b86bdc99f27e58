/**
 * What a new user hands the entrypoints, run as real processes: the plan's
 * configuration template as written, a file with several mistakes, and
 * paths that are not files (`/dev/zero`, a FIFO), too big, or missing
 * (`redis.ca_file`). Each bad one ends at once with exit 2 and one line a
 * problem, no stack trace; nothing is read past the cap and nothing blocks.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint, type RunResult } from "../helpers/entrypoints.ts";

const STORY = "tests/fixtures/story.json";

/** The configuration template of the user's plan, character for character. */
const PLAN_TEMPLATE = `{
    "redis": { "host": "localhost", "port": 6379, "db": 0 },
    "conversation": { "duration_seconds": 300, "max_turns": 50 },
    "logging": { "level": "INFO", "format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s" }
}
`;

/** Longer than any of these refusals takes, far shorter than the runner's kill. */
const FAST_MS = 10_000;

interface Rig {
  dir: string;
  env: Record<string, string>;
  write(name: string, text: string | Uint8Array): Promise<string>;
  run(script: string, args: string[], env?: Record<string, string>): Promise<RunResult>;
}

/** A temporary folder, and processes that would find no Redis or Ollama if they got that far. */
async function withRig(fn: (rig: Rig) => Promise<void>, server?: RedisServer): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dialogue_user_files_" });
  const env = {
    REDIS_URL: server?.url ?? "redis://127.0.0.1:9/0",
    OLLAMA_HOST: "http://127.0.0.1:9",
  };
  try {
    await fn({
      dir,
      env,
      async write(name, text) {
        const path = `${dir}/${name}`;
        if (typeof text === "string") await Deno.writeTextFile(path, text);
        else await Deno.writeFile(path, text);
        return path;
      },
      run: (script, args, extra = {}) =>
        runEntrypoint(script, args, { env: { ...env, ...extra }, timeoutMs: FAST_MS + 2000 }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assertEquals(code, 0, "mkfifo failed");
}

/** Stderr's non-empty lines. */
function lines(run: RunResult): string[] {
  return run.stderr.split("\n").filter((line) => line.trim() !== "");
}

/** Asserts a prompt usage error: exit 2, `count` lines, no stack trace, each pattern somewhere. */
function assertRefused(label: string, run: RunResult, count: number, expect: RegExp[]): void {
  const text = lines(run).join(" ⏎ ");
  assertEquals(run.code, 2, `${label}: exit ${run.code} after ${run.elapsedMs} ms: ${text}`);
  assert(run.elapsedMs < FAST_MS, `${label}: took ${Math.round(run.elapsedMs)} ms`);
  assertEquals(lines(run).length, count, `${label}: ${count} stderr line(s) expected: ${text}`);
  assert(!run.stderr.includes("    at "), `${label}: stack trace: ${run.stderr}`);
  assert(!/Uncaught/.test(run.stderr), `${label}: uncaught error: ${run.stderr}`);
  for (const pattern of expect) assertMatch(text, pattern, `${label}: ${text}`);
}

Deno.test("deno task manager --story /dev/zero or a FIFO ends at once with one line and exit 2", async () => {
  await withRig(async (rig) => {
    const fifo = `${rig.dir}/story.fifo`;
    await mkfifo(fifo);
    const [zero, pipe] = await Promise.all([
      rig.run("manager.ts", ["--story", "/dev/zero"]),
      rig.run("manager.ts", ["--story", fifo]),
    ]);
    assertRefused("--story /dev/zero", zero, 1, [/\/dev\/zero/, /character device/, /--story/]);
    assertRefused("--story FIFO", pipe, 1, [/story\.fifo/, /FIFO/, /--story/]);
  });
});

Deno.test("--config /dev/zero, a FIFO, or a prompt file that is a device ends at once with one line and exit 2", async () => {
  await withRig(async (rig) => {
    const fifo = `${rig.dir}/config.fifo`;
    await mkfifo(fifo);
    const prompts = await rig.write(
      "prompts.json",
      `{ "prompts": { "scenario": { "file": "/dev/zero" } } }`,
    );
    const [zero, pipe, prompt] = await Promise.all([
      rig.run("agent.ts", ["--id", "1", "--config", "/dev/zero"]),
      rig.run("observer.ts", ["--list", "--config", fifo]),
      rig.run("manager.ts", ["--story", STORY, "--config", prompts]),
    ]);
    assertRefused("--config /dev/zero", zero, 1, [/config file \/dev\/zero/, /--config/]);
    assertRefused("--config FIFO", pipe, 1, [/config\.fifo/, /FIFO/, /--config/]);
    assertRefused("prompt file /dev/zero", prompt, 1, [
      /prompts\.scenario/,
      /\/dev\/zero/,
      /character device/,
    ]);
  });
});

Deno.test("a story or config file over 1 MiB is refused, naming the limit", async () => {
  await withRig(async (rig) => {
    // Valid JSON padded with spaces: only its size is wrong.
    const pad = new TextEncoder().encode(" ".repeat(2 * 1024 * 1024));
    const story = new Uint8Array([...await Deno.readFile(STORY), ...pad]);
    const config = new Uint8Array([...new TextEncoder().encode("{}"), ...pad]);
    const [bigStory, bigConfig] = await Promise.all([
      rig.run("manager.ts", ["--story", await rig.write("big_story.json", story)]),
      rig.run("manager.ts", ["--story", STORY, "--config", await rig.write("big.json", config)]),
    ]);
    assertRefused("2 MiB story", bigStory, 1, [
      /big_story\.json/,
      /over the 1 MiB limit/,
      /--story/,
    ]);
    assertRefused("2 MiB config", bigConfig, 1, [/big\.json/, /over the 1 MiB limit/, /--config/]);
  });
});

Deno.test("a missing redis.ca_file is one line naming the field and the path, not an uncaught NotFound", async () => {
  await withRig(async (rig) => {
    const config = await rig.write(
      "tls.json",
      `{ "redis": { "url": "rediss://127.0.0.1:9", "ca_file": "${rig.dir}/no-such-ca.pem" } }`,
    );
    const run = await rig.run("agent.ts", ["--id", "1", "--config", config], { REDIS_URL: "" });
    assertRefused("missing CA", run, 1, [/redis\.ca_file/, /no-such-ca\.pem/, /does not exist/]);
  });
});

Deno.test("a config file with several mistakes reports every one at once, one line each, exit 2", async () => {
  await withRig(async (rig) => {
    const config = await rig.write(
      "mistakes.jsonc",
      `{
        "redis": { "port": "6379x" },
        "conversation": { "max_turnz": 3, "duration_seconds": "soon" },
        "generation": { "temperature": 5 },
        "logging": { "level": "LOUD", "format": "%(asctime)s %(colour)s %(message)s" }
      }`,
    );
    const run = await rig.run("manager.ts", ["--story", STORY, "--config", config]);
    assertRefused("five mistakes", run, 6, [
      /redis\.port: got "6379x"/,
      /"max_turnz" in conversation/,
      /conversation\.duration_seconds: got "soon" \(expected a number of seconds or a duration such as 90s, 10m or 1h\)/,
      /generation\.temperature: got 5/,
      /logging\.level: got "LOUD"/,
      /logging\.format: got .*unknown field %\(colour\)s/,
    ]);
  });
});

Deno.test("the plan's configuration template is accepted as written and its log pattern is used", async () => {
  const server = await RedisServer.start();
  try {
    await withRig(async (rig) => {
      const plan = await rig.write("plan.json", PLAN_TEMPLATE);
      // REDIS_URL (the test's server) wins over the template's localhost:6379;
      // debug shows the line every process logs when its logging is set up.
      const run = await rig.run("clean.ts", ["--all", "--config", plan], {
        DIALOGUE_LOG_LEVEL: "DEBUG",
      });
      assertEquals(run.code, 0, run.stderr);
      assertMatch(
        run.stderr,
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - dialogue - DEBUG - Logging for "clean" at "debug"\n$/,
      );
      // Where a line was logged is captured only for a pattern that shows it.
      const located = await rig.run("clean.ts", ["--all", "--config", plan], {
        DIALOGUE_LOG_LEVEL: "debug",
        DIALOGUE_LOG_FORMAT: "%(filename)s:%(lineno)d %(levelname)s %(message)s",
      });
      assertEquals(located.code, 0, located.stderr);
      assertMatch(located.stderr, /^logger\.ts:\d+ DEBUG Logging for "clean" at "debug"\n$/);
    }, server);
  } finally {
    await server.stop();
  }
});

Deno.test("--duration takes 10m and 1h like analyze --since: the process gets past its configuration", async () => {
  await withRig(async (rig) => {
    const [manager, chat, wrong] = await Promise.all([
      rig.run("manager.ts", ["--story", STORY, "--duration", "10m"]),
      rig.run("main.ts", ["--duration", "1h"]),
      rig.run("manager.ts", ["--story", STORY, "--duration", "10 minutes"]),
    ]);
    // Redis (port 9) refuses: the first thing after a configuration that loaded.
    for (const [label, run] of [["manager", manager], ["chat", chat]] as const) {
      assertEquals(run.code, 1, `${label}: ${run.stderr}`);
      assertMatch(run.stderr, /Cannot use Redis at redis:\/\/127\.0\.0\.1:9/, label);
    }
    assertRefused("--duration 10 minutes", wrong, 1, [
      /conversation\.duration_seconds: got "10 minutes"/,
      /90s, 10m or 1h/,
    ]);
  });
});
