/**
 * Security end to end: real runs of `deno task chat` against a Redis that
 * wants a password, an ACL user with narrow rights and TLS with a private CA;
 * secrets (Redis passwords, Ollama headers, URL credentials) never reach the
 * terminal, the logs or Redis; a wrong password or an untrusted certificate
 * is one clear line; the deno.json tasks grant only what each process needs.
 *
 * Hostile model output (terminal escapes) is covered by e2e_tools_test.ts.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { runEntrypoint, type RunResult } from "../helpers/entrypoints.ts";
import { freePort, makeTlsCerts, redisTlsArgs } from "../helpers/tls_certs.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";

const STORY = "tests/fixtures/story.json";
const DENO_JSON = new URL("../../deno.json", import.meta.url);

/** Distinctive secrets: none of them may ever be printed or stored. */
const REDIS_PASSWORD = "pw-s3cr3t-MARKER";
const ACL_PASSWORD = "acl-s3cr3t-MARKER";
const HEADER_SECRET = "hdr-s3cr3t-MARKER2";
const WRONG_PASSWORD = "wrong-s3cr3t-MARKER3";
const OLLAMA_SECRET = "oll-s3cr3t-MARKER4";
const MARKERS = [REDIS_PASSWORD, ACL_PASSWORD, HEADER_SECRET, WRONG_PASSWORD, OLLAMA_SECRET];

/** A short full run of `deno task chat` from the story fixture, at debug level. */
async function chat(env: Record<string, string>, extra: string[] = []): Promise<RunResult> {
  return await runEntrypoint(
    "main.ts",
    ["--max-turns", "2", "--duration", "60", "--story", STORY, "--log-level", "debug", ...extra],
    { env: { DIALOGUE_MODEL: "tiny", ...env }, timeoutMs: 60_000 },
  );
}

/** An inspection client on `url` (credentials in the URL). */
async function inspect(url: string): Promise<Redis> {
  return await connectRedis(parseConfig({ redis: { url } }).redis, { name: "inspect" });
}

/** Every key name and value in the server, as one text (streams, hashes, sets, …). */
async function dumpRedis(redis: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === "string") value = await redis.get(key);
      else if (type === "hash") value = await redis.hgetall(key);
      else if (type === "stream") value = await redis.xrange(key, "-", "+");
      else if (type === "zset") value = await redis.zrange(key, 0, -1, "WITHSCORES");
      else if (type === "list") value = await redis.lrange(key, 0, -1);
      else if (type === "set") value = await redis.smembers(key);
      else value = `(type ${type})`;
      parts.push(`${key} ${JSON.stringify(value)}`);
    }
  } while (cursor !== "0");
  return parts.join("\n");
}

/** Fails naming where a secret turned up. */
function assertNoSecrets(where: string, text: string): void {
  for (const marker of MARKERS) {
    const at = text.indexOf(marker);
    assert(
      at < 0,
      `${where} contains the secret ${marker}: …${text.slice(Math.max(0, at - 200), at + 100)}…`,
    );
  }
}

/** Asserts a completed two-turn run, with its output in the message on failure. */
async function assertCompleted(redis: Redis, run: RunResult): Promise<string> {
  assertEquals(run.code, 0, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  const store = new ConversationStore(redis);
  const id = await store.latest();
  assert(id, "a conversation was created");
  const meta = (await store.get(id))!;
  assertEquals(meta.status, "completed", meta.error);
  assertEquals(meta.turns, 2);
  assertStringIncludes(run.stdout, "Run ended: completed (max_turns) after 2 turns");
  return id;
}

/** One ACL LOG entry (a flat field/value list) as an object. */
function _aclEntry(entry: unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < entry.length; i += 2) out[String(entry[i])] = String(entry[i + 1]);
  return out;
}

/** Lines of stderr, without blank ones. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

Deno.test("a run against a password-protected Redis completes and the password is never shown or stored", async () => {
  const double = await OllamaDouble.start();
  const server = await RedisServer.start({ args: ["--requirepass", REDIS_PASSWORD] });
  const url = `redis://:${REDIS_PASSWORD}@127.0.0.1:${server.port}`;
  const redis = await inspect(url);
  const dir = await Deno.makeTempDir({ prefix: "dialogue_security_" });
  try {
    // 1. Password in REDIS_URL.
    const first = await chat({ REDIS_URL: url, OLLAMA_HOST: double.url });
    const id = await assertCompleted(redis, first);
    assertNoSecrets("stdout", first.stdout);
    assertNoSecrets("stderr (main, manager and agents at debug level)", first.stderr);
    const meta = (await new ConversationStore(redis).get(id))!;
    const storedUrl = (meta.config.redis as { url?: string }).url ?? "";
    assertStringIncludes(storedUrl, "***", "the stored Redis URL has its password masked");

    // 2. Password in redis.password and an Ollama proxy header, both in a config file.
    const file = `${dir}/secrets.jsonc`;
    await Deno.writeTextFile(
      file,
      `{
        // secrets live here, never in Redis or the logs
        "redis": { "url": "redis://127.0.0.1:${server.port}", "password": "${REDIS_PASSWORD}" },
        "ollama": { "host": "${double.url}", "headers": { "Authorization": "Bearer ${HEADER_SECRET}" } },
      }`,
    );
    const second = await chat({}, ["--config", file]);
    await assertCompleted(redis, second);
    assertNoSecrets("stdout", second.stdout);
    assertNoSecrets("stderr (main, manager and agents at debug level)", second.stderr);

    // Nothing of either run holds a secret: keys, hashes, streams, dead letters.
    assertNoSecrets("Redis", await dumpRedis(redis));
  } finally {
    await closeRedis(redis);
    await server.stop();
    await double.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run as an ACL user limited to dialogue:* keys without dangerous commands completes", async () => {
  const double = await OllamaDouble.start();
  const server = await RedisServer.start({
    args: [
      // The default user is off: every connection must authenticate.
      ...["--user", "default", "off"],
      ...["--user", "admin", "on", ">admin-pw", "~*", "&*", "+@all"],
      ...[
        "--user",
        "dialogue",
        "on",
        `>${ACL_PASSWORD}`,
        "~dialogue:*",
        "&*",
        "+@all",
        "-@dangerous",
      ],
    ],
  });
  const admin = await inspect(`redis://admin:admin-pw@127.0.0.1:${server.port}`);
  try {
    const run = await chat({
      REDIS_URL: `redis://dialogue:${ACL_PASSWORD}@127.0.0.1:${server.port}`,
      OLLAMA_HOST: double.url,
    });
    // On failure, say which command or key the ACL refused. INFO is refused by
    // -@dangerous but only ioredis' ready check sends it, and ioredis goes on
    // without it; anything else refused is a right the user lacks.
    const log = await admin.call("ACL", "LOG", "20") as unknown[][];
    const denied = log.map((entry) => _aclEntry(entry)).filter((e) => e.object !== "info");
    if (run.code !== 0) {
      throw new Error(
        `the run failed (exit ${run.code}); ACL LOG: ${JSON.stringify(denied)}\n${run.stderr}`,
      );
    }
    await assertCompleted(admin, run);
    assertNoSecrets("stdout", run.stdout);
    assertNoSecrets("stderr", run.stderr);
    assertNoSecrets("Redis", await dumpRedis(admin));
    assertEquals(denied, [], "the ACL refused nothing but INFO");
  } finally {
    await closeRedis(admin);
    await server.stop();
    await double.close();
  }
});

Deno.test("a run over TLS (rediss://) trusting a private CA from redis.ca_file completes", async () => {
  const double = await OllamaDouble.start();
  const certs = await makeTlsCerts();
  const tlsPort = freePort();
  const server = await RedisServer.start({ args: redisTlsArgs(certs, tlsPort) });
  const redis = await inspect(server.url);
  try {
    const file = `${certs.dir}/tls.jsonc`;
    await Deno.writeTextFile(
      file,
      `{
        "redis": {
          "url": "rediss://127.0.0.1:${tlsPort}",
          "ca_file": "${certs.caFile}", // the test CA; the system store does not know it
        },
      }`,
    );
    const run = await chat({ OLLAMA_HOST: double.url }, ["--config", file]);
    // rediss:// to the TLS port: a plaintext client could not have talked to it.
    await assertCompleted(redis, run);
  } finally {
    await closeRedis(redis);
    await server.stop();
    await certs.remove();
    await double.close();
  }
});

Deno.test("a TLS server whose certificate redis.ca_file does not vouch for is refused in one line naming the certificate", async () => {
  const certs = await makeTlsCerts();
  const tlsPort = freePort();
  const server = await RedisServer.start({ args: redisTlsArgs(certs, tlsPort) });
  const redis = await inspect(server.url);
  try {
    const file = `${certs.dir}/wrong_ca.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        redis: { url: `rediss://127.0.0.1:${tlsPort}`, ca_file: certs.otherCaFile },
      }),
    );
    const run = await runEntrypoint("main.ts", ["--config", file], {
      env: { OLLAMA_HOST: "http://127.0.0.1:9" },
      timeoutMs: 30_000,
    });
    assertEquals(run.code, 1, run.stderr);
    const out = lines(run.stderr);
    assertEquals(out.length, 1, run.stderr);
    assert(!run.stderr.includes("    at "), "no stack trace");
    // The user must learn it is the certificate, not a stopped server.
    assert(
      /certificate|ca_file|tls/i.test(out[0]!),
      `the message should point at the certificate / redis.ca_file, got: ${out[0]}`,
    );
    assertEquals(await redis.dbsize(), 0);
  } finally {
    await closeRedis(redis);
    await server.stop();
    await certs.remove();
  }
});

Deno.test("a wrong Redis password stops every entrypoint with exit 1 and one line saying to check it, without echoing it", async () => {
  const server = await RedisServer.start({ args: ["--requirepass", REDIS_PASSWORD] });
  const redis = await inspect(`redis://:${REDIS_PASSWORD}@127.0.0.1:${server.port}`);
  try {
    const env = {
      REDIS_URL: `redis://:${WRONG_PASSWORD}@127.0.0.1:${server.port}`,
      OLLAMA_HOST: "http://127.0.0.1:9",
    };
    const cases: [string, string[]][] = [
      ["main.ts", []],
      ["manager.ts", ["--story", STORY]],
      ["agent.ts", ["--id", "1"]],
      ["observer.ts", ["--list"]],
      ["analyze.ts", []],
      ["clean.ts", ["--all"]],
    ];
    const runs = await Promise.all(
      cases.map(([script, args]) => runEntrypoint(script, args, { env, timeoutMs: 30_000 })),
    );
    const problems: string[] = [];
    runs.forEach((run, i) => {
      const script = cases[i]![0];
      const out = lines(run.stderr);
      if (run.code !== 1) problems.push(`${script}: exit ${run.code}`);
      if (out.length !== 1) problems.push(`${script}: ${out.length} stderr lines`);
      if (run.stderr.includes("    at ")) problems.push(`${script}: stack trace`);
      if (!/password/i.test(run.stderr)) {
        problems.push(`${script}: does not say to check the password: ${out[0]}`);
      }
      for (const marker of MARKERS) {
        if ((run.stdout + run.stderr).includes(marker)) {
          problems.push(`${script}: printed ${marker}`);
        }
      }
    });
    assertEquals(problems, []);
    assertEquals(await redis.dbsize(), 0);
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
});

Deno.test("credentials in OLLAMA_HOST and secret config values never appear in error messages", async () => {
  const server = await RedisServer.start();
  const dir = await Deno.makeTempDir({ prefix: "dialogue_security_" });
  try {
    const badPassword = `${dir}/bad_password.json`;
    await Deno.writeTextFile(
      badPassword,
      JSON.stringify({ redis: { password: [REDIS_PASSWORD] } }),
    );
    const badHeader = `${dir}/bad_header.json`;
    await Deno.writeTextFile(
      badHeader,
      JSON.stringify({ ollama: { headers: { Authorization: { bearer: HEADER_SECRET } } } }),
    );
    const isolated = { REDIS_URL: "redis://127.0.0.1:1" };
    const runs = await Promise.all([
      // Unreachable Ollama with user:password in its URL (exit 1).
      runEntrypoint("main.ts", ["--story", STORY], {
        env: { REDIS_URL: server.url, OLLAMA_HOST: `http://bob:${OLLAMA_SECRET}@127.0.0.1:9` },
      }),
      // Unreachable Redis with credentials in its URL (exit 1).
      runEntrypoint("observer.ts", ["--list"], {
        env: { REDIS_URL: `redis://alice:${REDIS_PASSWORD}@127.0.0.1:1` },
      }),
      // Secrets of the wrong type in a config file (exit 2).
      runEntrypoint("manager.ts", ["--config", badPassword], { env: isolated }),
      runEntrypoint("manager.ts", ["--config", badHeader], { env: isolated }),
      // A secret inherited from main.ts (on stdin), with a bad neighbour field.
      runEntrypoint("agent.ts", ["--id", "1"], {
        env: { ...isolated, DIALOGUE_CONFIG_FROM: "stdin" },
        stdin: JSON.stringify({
          redis: { password: REDIS_PASSWORD, url: `redis://u:${ACL_PASSWORD}@h:1`, port: -1 },
        }),
      }),
    ]);
    const expectedCodes = [1, 1, 2, 2, 2];
    runs.forEach((run, i) => {
      assertEquals(run.code, expectedCodes[i], `case ${i}: ${run.stderr}`);
      assertEquals(lines(run.stderr).length, 1, `case ${i}: ${run.stderr}`);
      assertNoSecrets(`case ${i} output`, run.stdout + run.stderr);
    });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno.json tasks grant no -A; observe, analyze and clean run no program but redis-server, manager and agent only deno besides", async () => {
  const tasks: Record<string, { command: string }> = JSON.parse(
    await Deno.readTextFile(DENO_JSON),
  ).tasks;
  const flagsOf = (task: string) =>
    tasks[task]!.command.split("&&")[0]!.split(/\s+/).filter((w) => w.startsWith("-"));
  for (const [name, task] of Object.entries(tasks)) {
    for (const word of task.command.split(/\s+/)) {
      assert(
        word !== "-A" && word !== "--allow-all" && !/^-[a-zA-Z]*A[a-zA-Z]*$/.test(word),
        `task ${name} uses ${word}`,
      );
    }
  }
  // Each may start the local Redis (lib/cli/local_redis.ts), and nothing
  // else; the manager and the agent also deno, for the embedded model's own
  // process (lib/llm/embedded/host_process.ts), and the dashboard to bundle
  // its page at start (lib/web/web_assets.ts).
  for (const task of ["observe", "analyze", "clean", "manager", "agent", "redis", "web"]) {
    const flags = flagsOf(task);
    const alsoDeno = task === "manager" || task === "agent" || task === "web";
    assertEquals(
      flags.filter((f) => f.startsWith("--allow-run")),
      [alsoDeno ? "--allow-run=redis-server,deno" : "--allow-run=redis-server"],
      `${task} may run programs other than redis-server${alsoDeno ? " and deno" : ""}`,
    );
    assert(!flags.some((f) => f.startsWith("--allow-ffi")), `${task} may load native code`);
  }
  // Of the app's own processes, only the one that starts children may run any
  // program (dev tasks such as test and bench are not apps).
  const apps = [
    "chat",
    "manager",
    "agent",
    "observe",
    "analyze",
    "clean",
    "redis",
    "web",
    "fake-ollama",
    "fake-openai",
  ];
  const running = apps.filter((name) => / --allow-run( |$)/.test(tasks[name]?.command ?? ""));
  assertEquals(running, ["chat"]);
});
