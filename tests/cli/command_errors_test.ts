/**
 * The command definition's rules as a user meets them: real `deno task
 * observe|analyze|clean` processes pointed at a real, empty redis-server.
 * Each mistake is one stderr line naming the command, exit code 2, nothing on
 * stdout and nothing written to Redis.
 */
import { assertEquals } from "../helpers/assert.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** One bad command line and what its one stderr line must be. */
interface Case {
  task: "observe" | "analyze" | "clean";
  args: string[];
  /** The whole line, after the `<task>: ` prefix. */
  line: string | RegExp;
}

const ID_RULE =
  "a conversation id has 1 to 128 letters, digits, '-', '_' or '.' (list them with 'deno task observe --list')";

const CASES: Case[] = [
  {
    task: "observe",
    args: ["--list", "--temperature", "2"],
    line:
      "Flag --temperature does not apply to deno task observe: its flags are --conversation, --list, --limit, --config, --redis-url, --log-level, --log-format, --help",
  },
  {
    task: "clean",
    args: ["--all", "--model", "llama3.2"],
    line:
      "Flag --model does not apply to deno task clean: its flags are --conversation, --older-than, --all, --force, --dry-run, --config, --redis-url, --log-level, --log-format, --help",
  },
  {
    task: "analyze",
    args: ["--max-turns", "3"],
    line:
      /^Flag --max-turns does not apply to deno task analyze: its flags are --json, .*--ollama-host, --backend, --openai-base-url, --model-file, --num-ctx, --help$/,
  },
  {
    task: "clean",
    args: ["--all", "--dryrun"],
    line:
      "Unknown flag --dryrun for deno task clean: did you mean --dry-run? (see 'deno task clean --help')",
  },
  {
    task: "analyze",
    args: ["--compar", "a", "b"],
    line:
      "Unknown flag --compar for deno task analyze: did you mean --compare? (see 'deno task analyze --help')",
  },
  {
    task: "observe",
    args: ["--lsit"],
    line:
      "Unknown flag --lsit for deno task observe: did you mean --list? (see 'deno task observe --help')",
  },
  {
    task: "observe",
    args: ["--conversation", "bad id!"],
    line: `Invalid --conversation "bad id!": ${ID_RULE}`,
  },
  {
    task: "clean",
    args: ["--conversation", "ok-1", "--conversation", "../x"],
    line: `Invalid --conversation "../x": ${ID_RULE}`,
  },
  {
    task: "analyze",
    args: ["--compare", "ok-1", "dialogue:{x}"],
    line: `Invalid conversation id "dialogue:{x}": ${ID_RULE}`,
  },
  {
    task: "analyze",
    args: ["--all", "--limit", "0"],
    line: 'Invalid --limit "0": expected a whole number ≥ 1',
  },
];

async function runTask(task: string, args: string[], redisUrl: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", task, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", REDIS_URL: redisUrl, OLLAMA_HOST: "http://127.0.0.1:9" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Connections Redis has accepted so far (INFO stats). */
async function connectionsReceived(redis: { info(section: string): Promise<string> }) {
  return Number(/total_connections_received:(\d+)/.exec(await redis.info("stats"))![1]);
}

Deno.test("deno task observe|analyze|clean answer a refused, unknown or malformed flag in one line, exit 2, Redis untouched", async () => {
  const server = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
    name: "inspect",
  });
  try {
    const before = await connectionsReceived(redis);
    const problems: string[] = [];
    const runs = await Promise.all(CASES.map((c) => runTask(c.task, c.args, server.url)));
    runs.forEach((run, i) => {
      const c = CASES[i]!;
      const label = `deno task ${c.task} ${c.args.join(" ")}`;
      const lines = run.stderr.split("\n").filter((line) => line.trim() !== "");
      if (run.code !== 2) problems.push(`${label}: exit ${run.code}`);
      if (run.stdout !== "") problems.push(`${label}: stdout ${run.stdout.slice(0, 200)}`);
      if (lines.length !== 1) problems.push(`${label}: ${lines.length} lines:\n${run.stderr}`);
      const line = lines[0] ?? "";
      const prefix = `${c.task}: `;
      const rest = line.startsWith(prefix) ? line.slice(prefix.length) : `(no prefix) ${line}`;
      const ok = typeof c.line === "string" ? rest === c.line : c.line.test(rest);
      if (!ok) problems.push(`${label}:\n  got      ${rest}\n  expected ${c.line}`);
    });
    assertEquals(problems, []);
    assertEquals(await redis.dbsize(), 0, "nothing was written to Redis");
    // Refused before the configuration is even loaded: no process connected.
    assertEquals(await connectionsReceived(redis), before, "no command connected to Redis");
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
});
