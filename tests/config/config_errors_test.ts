/**
 * Bad configuration and flags, for every entrypoint: an invalid flag value,
 * an unknown flag, a bad config-file field (wrong type, out of range, unknown
 * key), a missing or unparsable config file, a bad environment value. Each
 * ends with one stderr line naming the flag or field, the value (unless it is
 * secret) and the expected form, exit code 2, and nothing written to Redis.
 */
import { assertEquals } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint, type RunResult } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";

const STORY = "tests/fixtures/story.json";
const SECRET = "cfg-s3cr3t-MARKER";

/** Arguments each entrypoint needs to get as far as loading its configuration. */
const ENTRYPOINTS: Record<string, string[]> = {
  "main.ts": [],
  "manager.ts": ["--story", STORY],
  "agent.ts": ["--id", "1"],
  "observer.ts": ["--list"],
  "analyze.ts": [],
  "clean.ts": ["--all"],
};

/** One bad input and what its one line must say. */
interface Case {
  name: string;
  args?: string[];
  env?: Record<string, string>;
  /** Config file text, written to a temporary file passed with --config. */
  file?: string;
  /** Patterns the stderr line must match: the flag or field, the value, the expected form. */
  expect: RegExp[];
}

/**
 * A numeric configuration flag each entrypoint takes; observe and clean take
 * none (they only talk to Redis: --config, --redis-url, --log-level, --log-format).
 */
const NUMERIC_CONFIG_FLAG: Record<string, [flag: string, field: string] | undefined> = {
  "main.ts": ["--max-turns", "conversation.max_turns"],
  "manager.ts": ["--max-turns", "conversation.max_turns"],
  // Agents read the limits from the conversation, not from their own flags.
  "agent.ts": ["--num-ctx", "generation.num_ctx"],
  "analyze.ts": ["--num-ctx", "generation.num_ctx"],
};

/** A non-numeric value for the entrypoint's numeric configuration flag, if it has one. */
function nonNumericFlag(script: string): Case[] {
  const numeric = NUMERIC_CONFIG_FLAG[script];
  if (numeric === undefined) return [];
  const [flag, field] = numeric;
  return [{
    name: `non-numeric ${flag}`,
    args: [flag, "abc"],
    expect: [new RegExp(`${field.replace(".", "\\.")}|${flag}`), /"abc"/, /expected number/i],
  }];
}

/** One mistake of each kind, tried on every entrypoint. */
const EVERY_ENTRYPOINT: Case[] = [
  {
    name: "flag value outside its choices",
    args: ["--log-level", "loud"],
    expect: [/logging\.level|--log-level/, /"loud"/, /debug/],
  },
  {
    name: "unknown flag",
    args: ["--max-turn", "3"],
    expect: [/--max-turn\b/, /--help/],
  },
  {
    name: "config field of the wrong type",
    file: `{ "conversation": { "max_turns": "ten" } }`,
    expect: [/conversation\.max_turns/, /"ten"/, /expected number/i],
  },
  {
    name: "config field out of range",
    file: `{ "generation": { "temperature": 5 } }`,
    expect: [/generation\.temperature/, /\b5\b/, /<=\s*2|at most 2/],
  },
  {
    name: "unknown config field",
    file: `{ "conversation": { "max_turnz": 3 } }`,
    expect: [/max_turnz/, /conversation/, /spelling|expected|did you mean/i],
  },
  {
    name: "missing config file",
    args: ["--config", "/nonexistent/dialogue.jsonc"],
    expect: [/\/nonexistent\/dialogue\.jsonc/, /does not exist|not found|no such/i, /--config/],
  },
  {
    name: "config file that is not JSON (spread over lines)",
    file: `{\n  "conversation": {\n    "max_turns":\n  }\n}\n`,
    expect: [/config file/i, /JSON/],
  },
  {
    name: "non-numeric environment value",
    env: { DIALOGUE_MAX_TURNS: "abc" },
    expect: [/conversation\.max_turns|DIALOGUE_MAX_TURNS/, /"abc"/, /expected number/i],
  },
];

/**
 * More shapes of the same mistakes. They go through the same shared code
 * (lib/cli/cli.ts, lib/config/config.ts) in every entrypoint, so one entrypoint is enough.
 */
const MORE_SHAPES: Case[] = [
  {
    name: "flag value outside its choices",
    args: ["--output", "yaml"],
    expect: [/agents\.output|--output/, /"yaml"/, /json.*text/],
  },
  {
    name: "flag value out of range",
    args: ["--temperature", "7"],
    expect: [/generation\.temperature|--temperature/, /\b7\b/, /<=\s*2|at most 2/],
  },
  {
    name: "flag without its value",
    args: ["--log-level"],
    expect: [/--log-level/, /argument missing|value/i],
  },
  {
    name: "secret config field of the wrong type (value withheld)",
    file: `{ "redis": { "password": ["${SECRET}"] } }`,
    expect: [/redis\.password/, /expected string/i],
  },
  {
    name: "config file holding an array",
    file: `[1, 2]`,
    expect: [/config file/i, /object/i],
  },
  {
    name: "environment value outside its choices",
    env: { DIALOGUE_LOG_LEVEL: "loud" },
    expect: [/logging\.level|DIALOGUE_LOG_LEVEL/, /"loud"/, /debug/],
  },
  {
    name: "negative duration from the environment",
    env: { DIALOGUE_DURATION_SECONDS: "-5" },
    expect: [/conversation\.duration_seconds|DIALOGUE_DURATION_SECONDS/, /-5/, />\s*0|positive/],
  },
];

/** A private redis-server every process is pointed at; it must stay empty. */
interface Rig {
  server: RedisServer;
  dir: string;
  dbsize(): Promise<number>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const server = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "dialogue_config_errors_" });
  return {
    server,
    dir,
    async dbsize() {
      const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
        name: "inspect",
      });
      try {
        return await redis.dbsize();
      } finally {
        await closeRedis(redis);
      }
    },
    async close() {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs `fn` over `items`, `size` at a time. */
async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>) {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...await Promise.all(items.slice(i, i + size).map(fn)));
  }
  return out;
}

/** What is wrong with a run that should have been a one-line usage error. */
function usageProblems(label: string, run: RunResult, expect: RegExp[]): string[] {
  const problems: string[] = [];
  const lines = run.stderr.split("\n").filter((line) => line.trim() !== "");
  if (run.code !== 2) problems.push(`${label}: exit ${run.code}, expected 2`);
  if (lines.length !== 1) {
    problems.push(`${label}: ${lines.length} stderr lines, expected 1:\n${run.stderr}`);
  }
  if (run.stderr.includes("    at ")) problems.push(`${label}: stack trace`);
  if (run.stdout !== "") problems.push(`${label}: wrote to stdout: ${run.stdout.slice(0, 200)}`);
  if ((run.stdout + run.stderr).includes(SECRET)) problems.push(`${label}: echoed the secret`);
  for (const pattern of expect) {
    if (!pattern.test(lines.join(" "))) {
      problems.push(`${label}: line does not match ${pattern}: ${lines.join(" ⏎ ")}`);
    }
  }
  return problems;
}

/** Runs every (entrypoint, case) pair against `t`; returns the problems found. */
async function runCases(
  t: Rig,
  pairs: { script: string; args: string[]; c: Case }[],
): Promise<string[]> {
  let n = 0;
  const results = await inBatches(pairs, 8, async ({ script, args, c }) => {
    const extra: string[] = [];
    if (c.file !== undefined) {
      const path = `${t.dir}/config_${n++}.jsonc`;
      await Deno.writeTextFile(path, c.file);
      extra.push("--config", path);
    }
    const run = await runEntrypoint(script, [...args, ...extra, ...(c.args ?? [])], {
      env: {
        REDIS_URL: t.server.url,
        OLLAMA_HOST: "http://127.0.0.1:9",
        ...c.env,
      },
      timeoutMs: 20_000,
    });
    return usageProblems(`${script} (${c.name})`, run, c.expect);
  });
  return results.flat();
}

Deno.test("every entrypoint rejects bad flags, config files and environment values in one line with exit 2, writing nothing", async () => {
  const t = await rig();
  try {
    const pairs = [
      ...Object.entries(ENTRYPOINTS).flatMap(([script, args]) =>
        [...EVERY_ENTRYPOINT, ...nonNumericFlag(script)].map((c) => ({ script, args, c }))
      ),
      ...MORE_SHAPES.map((c) => ({ script: "manager.ts", args: ENTRYPOINTS["manager.ts"]!, c })),
    ];
    const problems = await runCases(t, pairs);
    assertEquals(problems, []);
    assertEquals(await t.dbsize(), 0, "nothing was written to Redis");
  } finally {
    await t.close();
  }
});

Deno.test("each entrypoint's own flags reject bad values in one line with exit 2, writing nothing", async () => {
  const t = await rig();
  try {
    const badStory = `${t.dir}/story.json`;
    await Deno.writeTextFile(badStory, `{\n  "story": {\n    "setting":\n  }\n}\n`);
    const own: { script: string; args: string[]; c: Case }[] = [
      {
        script: "main.ts",
        args: [],
        c: {
          name: "malformed --resume id",
          args: ["--resume", "bad id!"],
          expect: [/--resume|conversation id/, /"bad id!"/, /letters, digits/],
        },
      },
      {
        script: "main.ts",
        args: [],
        c: {
          name: "missing --story file",
          args: ["--story", "/nonexistent/story.json"],
          expect: [/\/nonexistent\/story\.json/, /--story/],
        },
      },
      {
        script: "main.ts",
        args: [],
        c: {
          name: "boolean flag given a value",
          args: ["--pull=yes"],
          expect: [/--pull/, /does not take an argument|--help/],
        },
      },
      {
        script: "manager.ts",
        args: [],
        c: {
          name: "malformed --conversation id",
          args: ["--conversation", "bad id!"],
          expect: [/conversation id|--conversation/, /"bad id!"/, /letters, digits/],
        },
      },
      {
        script: "manager.ts",
        args: [],
        c: {
          name: "missing --story file",
          args: ["--story", "/nonexistent/story.json"],
          expect: [/\/nonexistent\/story\.json/, /--story/],
        },
      },
      {
        script: "manager.ts",
        args: [],
        c: {
          name: "--story file that is not JSON (spread over lines)",
          args: ["--story", badStory],
          expect: [/story\.json/, /JSON/],
        },
      },
      {
        script: "agent.ts",
        args: [],
        c: { name: "--id 3", args: ["--id", "3"], expect: [/--id/, /"3"/, /1 or 2/] },
      },
      {
        script: "agent.ts",
        args: ["--id", "2"],
        c: {
          name: "malformed --conversation id",
          args: ["--conversation", "../x"],
          expect: [/--conversation/, /"\.\.\/x"/, /letters, digits/],
        },
      },
      {
        script: "observer.ts",
        args: [],
        c: {
          name: "--limit 0",
          args: ["--limit", "0"],
          expect: [/--limit/, /"0"/, /whole number/],
        },
      },
      {
        script: "analyze.ts",
        args: [],
        c: {
          name: "both --json and --markdown",
          args: ["--json", "--markdown"],
          expect: [/--json/, /--markdown/],
        },
      },
      {
        script: "clean.ts",
        args: [],
        c: {
          name: "--older-than without a unit",
          args: ["--older-than", "5y"],
          expect: [/--older-than/, /"5y"/, /unit/],
        },
      },
    ];
    const problems = await runCases(t, own);
    assertEquals(problems, []);
    assertEquals(await t.dbsize(), 0, "nothing was written to Redis");
  } finally {
    await t.close();
  }
});

Deno.test("a config flag a command does not take is refused naming the command and its flags; an unknown one suggests the nearest", async () => {
  const t = await rig();
  try {
    const refused = (task: string, flag: string): RegExp[] => [
      new RegExp(`Flag ${flag} does not apply to deno task ${task}: its flags are `),
      /--redis-url/,
      /--help$/,
    ];
    const pairs: { script: string; args: string[]; c: Case }[] = [
      {
        script: "observer.ts",
        args: ["--list"],
        c: {
          name: "--temperature",
          args: ["--temperature", "2"],
          expect: refused("observe", "--temperature"),
        },
      },
      {
        script: "clean.ts",
        args: ["--all"],
        c: {
          name: "--max-turns",
          args: ["--max-turns", "3"],
          expect: refused("clean", "--max-turns"),
        },
      },
      {
        script: "analyze.ts",
        args: [],
        c: { name: "--model", args: ["--model", "m"], expect: refused("analyze", "--model") },
      },
      {
        script: "observer.ts",
        args: [],
        c: {
          name: "typo of --limit",
          args: ["--limt", "3"],
          expect: [/Unknown flag --limt for deno task observe: did you mean --limit\?/, /--help/],
        },
      },
      {
        script: "analyze.ts",
        args: [],
        c: {
          name: "typo of --judge-model",
          args: ["--judge-modle", "m"],
          expect: [/Unknown flag --judge-modle .*did you mean --judge-model\?/, /--help/],
        },
      },
      {
        script: "clean.ts",
        args: [],
        c: {
          name: "typo of a config flag it takes",
          args: ["--redis-ulr", "redis://127.0.0.1:1"],
          expect: [/Unknown flag --redis-ulr .*did you mean --redis-url\?/, /--help/],
        },
      },
      {
        script: "clean.ts",
        args: [],
        c: {
          name: "malformed --conversation id",
          args: ["--conversation", "bad id!"],
          expect: [/--conversation/, /"bad id!"/, /letters, digits/],
        },
      },
      {
        script: "observer.ts",
        args: [],
        c: {
          name: "malformed --conversation id",
          args: ["--conversation", "a:b"],
          expect: [/--conversation/, /"a:b"/, /letters, digits/],
        },
      },
      {
        script: "analyze.ts",
        args: [],
        c: {
          name: "malformed conversation id argument",
          args: ["../etc"],
          expect: [/conversation id/, /"\.\.\/etc"/, /letters, digits/],
        },
      },
    ];
    const problems = await runCases(t, pairs);
    assertEquals(problems, []);
    assertEquals(await t.dbsize(), 0, "nothing was written to Redis");
  } finally {
    await t.close();
  }
});

Deno.test("a Redis URL that is not one is a usage error naming redis.url without its password", async () => {
  const t = await rig();
  try {
    // Unchecked, ioredis reads ':abc' as no port and goes to 6379 — another Redis.
    // The host cannot resolve, so a run that gets that far touches nothing.
    const pairs = [
      {
        script: "agent.ts",
        args: ENTRYPOINTS["agent.ts"]!,
        c: {
          name: "REDIS_URL with a port that is not a number",
          env: { REDIS_URL: `redis://alice:${SECRET}@nonexistent.invalid:abc/0` },
          expect: [/redis\.url|REDIS_URL/, /port|redis:\/\//i],
        },
      },
      {
        script: "observer.ts",
        args: ENTRYPOINTS["observer.ts"]!,
        c: {
          name: "--redis-url with another scheme",
          args: ["--redis-url", `http://alice:${SECRET}@nonexistent.invalid:6379`],
          expect: [/redis\.url|--redis-url/, /redis:\/\/|rediss:\/\//],
        },
      },
    ];
    const problems = await runCases(t, pairs);
    assertEquals(problems, []);
    assertEquals(await t.dbsize(), 0);
  } finally {
    await t.close();
  }
});

Deno.test("an unknown config field is answered with the fields that exist there", async () => {
  const t = await rig();
  try {
    const problems = await runCases(t, [{
      script: "manager.ts",
      args: ["--story", STORY],
      c: {
        name: "typo in a field name",
        file: `{ "conversation": { "max_turnz": 3 } }`,
        // The expected form of a field name is the list of valid ones (or the nearest).
        expect: [/max_turnz/, /max_turns/],
      },
    }]);
    assertEquals(problems, []);
  } finally {
    await t.close();
  }
});
