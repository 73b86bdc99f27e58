import assert from "node:assert/strict";
import {
  agentHost,
  agentModel,
  agentTemperature,
  type Config,
  type ConfigLayer,
  INHERITED_CONFIG_VAR,
  loadConfig,
  parseConfig,
} from "../../lib/config/config.ts";
import { redactConfig } from "../../lib/config/redaction.ts";
import { CONFIG_FLAGS, configLayerFromFlags, parseFlags } from "../../lib/cli/cli.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

/** An environment lookup over a fixed map, so tests never read the real environment. */
function envOf(vars: Record<string, string> = {}): (name: string) => string | undefined {
  return (name) => vars[name];
}

/** Runs `fn` with a temporary file holding `text`, removing it afterwards. */
async function withTempFile<T>(
  text: string,
  fn: (path: string) => Promise<T>,
  suffix = ".jsonc",
): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "dialogue_config_", suffix });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Asserts that `fn` throws a usage DialogueError whose message contains every part. */
function assertUsageError(fn: () => unknown, ...parts: string[]): DialogueError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  return _checkUsage(caught, parts);
}

async function assertUsageRejects(
  fn: () => Promise<unknown>,
  ...parts: string[]
): Promise<DialogueError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  return _checkUsage(caught, parts);
}

function _checkUsage(caught: unknown, parts: string[]): DialogueError {
  assert.ok(caught instanceof DialogueError, `expected a DialogueError, got ${String(caught)}`);
  assert.equal(caught.code, ErrorCode.Usage);
  for (const part of parts) {
    assert.ok(
      caught.message.includes(part),
      `expected the message to include ${JSON.stringify(part)}: ${caught.message}`,
    );
  }
  return caught;
}

// ---------------------------------------------------------------------------
// Defaults and validation

Deno.test("parseConfig({}) fills every section with its documented default", () => {
  const config = parseConfig({});
  assert.deepEqual(config.redis, {
    host: "127.0.0.1",
    port: 6379,
    db: 0,
    max_unavailable_seconds: 30,
  });
  assert.deepEqual(config.ollama, {
    host: "http://127.0.0.1:11434",
    request_timeout_ms: 300_000,
    keep_alive: "5m",
  });
  assert.equal(config.manager.model, "llama3.2");
  assert.equal(config.manager.max_attempts, 3);
  assert.equal(config.agents.model, "llama3.2");
  assert.deepEqual(config.agents.agent1, {});
  assert.deepEqual(config.agents.agent2, {});
  assert.equal(config.agents.output, "json");
  assert.deepEqual(config.conversation, {
    duration_seconds: 300,
    max_turns: 50,
    history_messages: 40,
    history_chars: 24_000,
    max_reply_tokens: 400,
    loop_action: "stop",
    stale_action: "warn",
    echo_action: "warn",
    collapse_action: "warn",
    claim_idle_seconds: 30,
  });
  assert.deepEqual(config.generation, { temperature: 0.8, num_ctx: 4096 });
  assert.deepEqual(config.prompts, {});
  assert.deepEqual(config.logging, { level: "info", format: "text" });
  assert.deepEqual(config.retention, {});
});

Deno.test("loadConfig() with no file, empty environment and no flags gives the defaults", async () => {
  assert.deepEqual(await loadConfig({ env: envOf() }), parseConfig({}));
});

Deno.test("parseConfig() rejects a negative conversation.max_turns naming the field and value", () => {
  assertUsageError(
    () => parseConfig({ conversation: { max_turns: -3 } }),
    "conversation.max_turns",
    "-3",
  );
});

Deno.test("parseConfig() rejects a non-numeric redis.port naming the field and value", () => {
  assertUsageError(() => parseConfig({ redis: { port: "abc" } }), "redis.port", '"abc"');
});

Deno.test("parseConfig() rejects an unknown logging.level and lists the allowed ones", () => {
  assertUsageError(
    () => parseConfig({ logging: { level: "loud" } }),
    "logging.level",
    '"loud"',
    '"debug"',
    '"error"',
  );
});

Deno.test("parseConfig() rejects out-of-range numbers in nested agent sections", () => {
  assertUsageError(
    () => parseConfig({ agents: { agent2: { temperature: 3 } } }),
    "agents.agent2.temperature",
    "3",
  );
  assertUsageError(() => parseConfig({ redis: { port: 70000 } }), "redis.port", "70000");
  assertUsageError(() => parseConfig({ conversation: { max_turns: 2.5 } }), "max_turns", "2.5");
});

Deno.test("parseConfig() rejects an unknown key in a strict section naming the section and key", () => {
  assertUsageError(() => parseConfig({ redis: { prot: 1 } }), "redis", "prot");
  assertUsageError(
    () => parseConfig({ agents: { agent1: { modle: "x" } } }),
    "agents.agent1",
    "modle",
  );
  // Keys are case-sensitive: the message must show the key as the user typed it.
  assertUsageError(() => parseConfig({ redis: { Port: 6379 } }), '"Port"');
});

Deno.test("parseConfig() rejects an unknown top-level section naming it", () => {
  assertUsageError(() => parseConfig({ bogus: 1 }), "bogus");
});

Deno.test("parseConfig() never echoes a secret in a validation error", () => {
  const cases: [ConfigLayer, string, string][] = [
    [{ redis: { password: "hunter2-secret", prot: 1 } }, "prot", "hunter2-secret"],
    [{ redis: { url: "redis://u:url-secret@h:1", prot: 1 } }, "prot", "url-secret"],
    [{ redis: { password: 987654321 } }, "redis.password", "987654321"],
    [
      { ollama: { headers: { Authorization: "Bearer tok-secret" }, hots: "x" } },
      "hots",
      "tok-secret",
    ],
    [{ redis: { password: "root-secret" }, bogus: 1 }, "bogus", "root-secret"],
  ];
  for (const [layer, named, secret] of cases) {
    const error = assertUsageError(() => parseConfig(layer), named);
    assert.ok(!error.message.includes(secret), error.message);
  }
});

// ---------------------------------------------------------------------------
// Sources and precedence

Deno.test("loadConfig() layers defaults < --config file < environment < flags", async () => {
  const file = `// DialogueLLM settings
{
  /* the model host */
  "ollama": { "host": "http://file-host:11434", },
  "agents": { "model": "file-model" },
  "conversation": {
    "max_turns": 10,          // overridden by env and flags
    "duration_seconds": 60,   // only set here
  },
  "logging": { "level": "debug", "format": "text", },
}
`;
  await withTempFile(file, async (path) => {
    const env = envOf({
      OLLAMA_HOST: "http://env-host:11434",
      DIALOGUE_MAX_TURNS: "20",
      DIALOGUE_LOG_FORMAT: "json",
    });
    const config = await loadConfig({
      file: path,
      env,
      flags: { conversation: { max_turns: 30 } },
    });
    assert.equal(config.conversation.max_turns, 30, "flags win over env and file");
    assert.equal(config.ollama.host, "http://env-host:11434", "env wins over the file");
    assert.equal(config.logging.format, "json", "env wins over the file");
    assert.equal(config.conversation.duration_seconds, 60, "the file wins over defaults");
    assert.equal(config.logging.level, "debug", "the file wins over defaults");
    assert.equal(config.agents.model, "file-model");
    assert.equal(config.manager.model, "llama3.2", "untouched fields keep their default");
    assert.equal(config.conversation.history_chars, 24_000);

    const withoutFlags = await loadConfig({ file: path, env });
    assert.equal(withoutFlags.conversation.max_turns, 20);
    const fileOnly = await loadConfig({ file: path, env: envOf() });
    assert.equal(fileOnly.conversation.max_turns, 10);
  });
});

Deno.test("loadConfig() parses numeric environment variables and ignores empty ones", async () => {
  const config = await loadConfig({
    env: envOf({
      DIALOGUE_DURATION_SECONDS: "90",
      DIALOGUE_MAX_TURNS: "",
      REDIS_URL: "redis://127.0.0.1:6390/2",
      DIALOGUE_AGENT1_MODEL: "a1",
      DIALOGUE_AGENT2_MODEL: "a2",
      DIALOGUE_MANAGER_MODEL: "boss",
      DIALOGUE_LOG_LEVEL: "warning",
    }),
  });
  assert.equal(config.conversation.duration_seconds, 90);
  assert.equal(config.conversation.max_turns, 50);
  assert.equal(config.redis.url, "redis://127.0.0.1:6390/2");
  assert.equal(config.agents.agent1.model, "a1");
  assert.equal(config.agents.agent2.model, "a2");
  assert.equal(config.manager.model, "boss");
  assert.equal(config.logging.level, "warning");
});

Deno.test("loadConfig() reports a bad environment value with the field it sets and the value", async () => {
  await assertUsageRejects(
    () => loadConfig({ env: envOf({ DIALOGUE_MAX_TURNS: "many" }) }),
    "conversation.max_turns",
    '"many"',
  );
});

Deno.test("DIALOGUE_MODEL, like --model, sets the manager's model as well as the agents'", async () => {
  // The help text documents DIALOGUE_MODEL as the environment form of --model.
  const config = await loadConfig({ env: envOf({ DIALOGUE_MODEL: "tiny" }) });
  assert.equal(config.agents.model, "tiny");
  assert.equal(config.manager.model, "tiny");
  const specific = await loadConfig({
    env: envOf({ DIALOGUE_MODEL: "tiny", DIALOGUE_MANAGER_MODEL: "boss" }),
  });
  assert.equal(specific.manager.model, "boss", "the specific variable wins");
});

/** A child's standard input holding `text`, as main.ts writes it. */
function stdinOf(text: string) {
  return {
    readable: ReadableStream.from([new TextEncoder().encode(text)]),
    isTerminal: () => false,
  };
}

Deno.test("loadConfig() reads the inherited layer from stdin, secrets included", async () => {
  const parent = parseConfig({
    redis: { url: "redis://127.0.0.1:6399", password: "pw" },
    conversation: { max_turns: 7 },
    prompts: { first_turn: "Open with {{name}}." },
  });
  const config = await loadConfig({
    env: envOf({ [INHERITED_CONFIG_VAR]: "stdin" }),
    stdin: stdinOf(JSON.stringify(parent)),
  });
  assert.deepEqual(config, parent);
});

Deno.test("loadConfig() lets only the child's own flags override the inherited layer", async () => {
  // The parent merged its file, environment and flags already: a child that
  // inherits the environment must not let it undo the parent's flags.
  const parent = parseConfig({ conversation: { max_turns: 7 }, ollama: { host: "http://flag:1" } });
  const env = envOf({
    [INHERITED_CONFIG_VAR]: "stdin",
    DIALOGUE_MAX_TURNS: "100",
    OLLAMA_HOST: "http://env:2",
  });
  const stdin = stdinOf(JSON.stringify(parent));
  const child = await loadConfig({ env, stdin });
  assert.equal(child.conversation.max_turns, 7);
  assert.equal(child.ollama.host, "http://flag:1");
  // Read once per process: a second load gets the same text.
  const withFlag = await loadConfig({ env, stdin, flags: { conversation: { max_turns: 3 } } });
  assert.equal(withFlag.conversation.max_turns, 3);
});

Deno.test("loadConfig() rejects an inherited config that is not a JSON object, or not on stdin", async () => {
  for (const raw of ["{not json", "[1, 2]", "42", ""]) {
    await assertUsageRejects(
      () => loadConfig({ env: envOf({ [INHERITED_CONFIG_VAR]: "stdin" }), stdin: stdinOf(raw) }),
      INHERITED_CONFIG_VAR,
    );
  }
  // The old channel (JSON in the variable itself) and a terminal are refused.
  await assertUsageRejects(
    () => loadConfig({ env: envOf({ [INHERITED_CONFIG_VAR]: '{"redis":{}}' }) }),
    INHERITED_CONFIG_VAR,
  );
  await assertUsageRejects(
    () =>
      loadConfig({
        env: envOf({ [INHERITED_CONFIG_VAR]: "stdin" }),
        stdin: { ...stdinOf("{}"), isTerminal: () => true },
      }),
    INHERITED_CONFIG_VAR,
  );
});

Deno.test("loadConfig() names the path and --config when the config file is missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dialogue_config_" });
  try {
    const path = `${dir}/missing.jsonc`;
    await assertUsageRejects(
      () => loadConfig({ file: path, env: envOf() }),
      path,
      "does not exist",
      "--config",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() names the file when it is not JSON or not an object", async () => {
  await withTempFile(`{ "redis": { "port": 6379 `, async (path) => {
    await assertUsageRejects(() => loadConfig({ file: path, env: envOf() }), path, "JSON");
  });
  await withTempFile(`[1, 2, 3]`, async (path) => {
    await assertUsageRejects(
      () => loadConfig({ file: path, env: envOf() }),
      path,
      "must hold a JSON object",
    );
  });
});

Deno.test("loadConfig() reports an invalid value from the config file with its field path", async () => {
  await withTempFile(`{ "conversation": { "max_turns": -3, }, }`, async (path) => {
    await assertUsageRejects(
      () => loadConfig({ file: path, env: envOf() }),
      "conversation.max_turns",
      "-3",
    );
  });
});

Deno.test("loadConfig() reads a prompt given as { file } and names a missing prompt file", async () => {
  await withTempFile("Theme of the day: {{topic}}", async (promptPath) => {
    const config = await loadConfig({
      env: envOf(),
      flags: { prompts: { scenario: { file: promptPath } } },
    });
    assert.equal(config.prompts.scenario, "Theme of the day: {{topic}}");
  }, ".txt");
  const missing = `/nonexistent-${crypto.randomUUID()}/prompt.txt`;
  await assertUsageRejects(
    () => loadConfig({ env: envOf(), flags: { prompts: { agent_system: { file: missing } } } }),
    "prompts.agent_system",
    missing,
  );
});

// ---------------------------------------------------------------------------
// The forms a new user writes: the plan's template, Python level names and
// log patterns, durations with a unit, and every mistake reported at once

/** The plan's configuration template, as written. */
const PLAN_TEMPLATE = {
  redis: { host: "localhost", port: 6379, db: 0 },
  conversation: { duration_seconds: 300, max_turns: 50 },
  logging: { level: "INFO", format: "%(asctime)s - %(name)s - %(levelname)s - %(message)s" },
};

Deno.test("parseConfig() accepts the plan's configuration template as written", () => {
  const config = parseConfig(structuredClone(PLAN_TEMPLATE));
  assert.deepEqual(config.logging, {
    level: "info",
    format: "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
  });
  assert.equal(config.redis.host, "localhost");
  assert.equal(config.conversation.duration_seconds, 300);
});

Deno.test("logging.level takes Python's level names in any case, WARN meaning warning", () => {
  const cases: [string, string][] = [
    ["DEBUG", "debug"],
    ["Info", "info"],
    ["WARNING", "warning"],
    ["WARN", "warning"],
    ["warn", "warning"],
    ["ERROR", "error"],
  ];
  for (const [given, level] of cases) {
    assert.equal(parseConfig({ logging: { level: given } }).logging.level, level, given);
  }
  assertUsageError(() => parseConfig({ logging: { level: "TRACE" } }), "logging.level", '"TRACE"');
});

Deno.test("logging.format refuses a pattern field we cannot fill, naming it and the known fields", () => {
  assertUsageError(
    () => parseConfig({ logging: { format: "%(asctime)s %(threadName)s %(message)s" } }),
    "logging.format",
    "%(threadName)s is not available",
    "known fields: %(asctime)s",
  );
  assertUsageError(
    () => parseConfig({ logging: { format: "yaml" } }),
    "logging.format",
    '"yaml"',
    '"text", "json" or a pattern',
  );
});

Deno.test("parseConfig() reports every invalid field at once, one line each", () => {
  const error = assertUsageError(() =>
    parseConfig({
      redis: { port: "abc", db: 99 },
      conversation: { max_turnz: 3 },
      logging: { level: "loud" },
    })
  );
  const lines = error.message.split("\n");
  assert.equal(lines.length, 4, error.message);
  for (const part of ["redis.port", "redis.db", '"max_turnz"', "logging.level"]) {
    assert.ok(lines.some((line) => line.includes(part)), `${part} missing: ${error.message}`);
  }
});

Deno.test("loadConfig() reports the mistakes of the file, the environment and flags together", async () => {
  await withTempFile(`{ "conversation": { "max_turns": "ten" } }`, async (path) => {
    const error = await assertUsageRejects(() =>
      loadConfig({
        file: path,
        env: envOf({ DIALOGUE_LOG_LEVEL: "loud" }),
        flags: configLayerFromFlags({ temperature: "7" }),
      })
    );
    const lines = error.message.split("\n");
    assert.equal(lines.length, 3, error.message);
    assert.match(lines.join(" "), /max_turns.*"ten"/);
    assert.match(lines.join(" "), /logging\.level.*"loud"/);
    assert.match(lines.join(" "), /generation\.temperature.*7/);
  });
});

Deno.test("--duration, DIALOGUE_DURATION_SECONDS and the file take 90s, 10m, 1h like analyze --since", async () => {
  const fromFlag = async (value: string) =>
    (await loadConfig({ env: envOf(), flags: configLayerFromFlags({ duration: value }) }))
      .conversation.duration_seconds;
  assert.equal(await fromFlag("90s"), 90);
  assert.equal(await fromFlag("10m"), 600);
  assert.equal(await fromFlag("1h"), 3600);
  assert.equal(await fromFlag("1.5m"), 90);
  assert.equal(await fromFlag("45"), 45);
  const fromEnv = await loadConfig({ env: envOf({ DIALOGUE_DURATION_SECONDS: "2m" }) });
  assert.equal(fromEnv.conversation.duration_seconds, 120);
  await withTempFile(`{ "conversation": { "duration_seconds": "1h" } }`, async (path) => {
    const config = await loadConfig({ file: path, env: envOf() });
    assert.equal(config.conversation.duration_seconds, 3600);
  });
  assertUsageError(
    () => parseConfig({ conversation: { duration_seconds: "10 minutes" } }),
    "conversation.duration_seconds",
    '"10 minutes"',
    "90s, 10m or 1h",
  );
  assertUsageError(
    () => parseConfig({ conversation: { duration_seconds: "8d" } }),
    "conversation.duration_seconds",
    "604800",
  );
});

Deno.test("loadConfig() names redis.ca_file and the path when the CA file is missing", async () => {
  const missing = `/nonexistent-${crypto.randomUUID()}/ca.pem`;
  const error = await assertUsageRejects(() =>
    loadConfig({
      env: envOf(),
      flags: { redis: { url: "rediss://127.0.0.1:6380", ca_file: missing } },
    })
  );
  assert.equal(
    error.message,
    `Cannot read CA file ${missing} as it does not exist: check redis.ca_file`,
  );
});

Deno.test("loadConfig() reports every prompt problem at once: a missing file, an oversized one, an unknown placeholder", async () => {
  await withTempFile("x".repeat(20_001), async (big) => {
    const missing = `/nonexistent-${crypto.randomUUID()}/prompt.txt`;
    const error = await assertUsageRejects(() =>
      loadConfig({
        env: envOf(),
        flags: {
          prompts: {
            scenario: { file: big },
            agent_system: { file: missing },
            first_turn: "Open with {{topic}}",
          },
        },
      })
    );
    const lines = error.message.split("\n");
    assert.equal(lines.length, 3, error.message);
    assert.match(lines[0]!, /prompts\.scenario.*20001 characters, over the 20000 limit/);
    assert.match(lines[1]!, /prompts\.agent_system.*does not exist/);
    assert.match(lines[2]!, /prompts\.first_turn.*\{\{topic\}\}/);
  }, ".txt");
});

// ---------------------------------------------------------------------------
// Redaction

Deno.test("redactConfig() removes redis.password, ollama.headers and URL credentials", () => {
  const config = parseConfig({
    redis: { url: "redis://user:secret@redis.example:6380/1", password: "secret" },
    ollama: {
      host: "http://ollama-user:secret@ollama.example:11434",
      headers: { Authorization: "Bearer secret" },
    },
    manager: { host: "https://m:secret@manager.example" },
    agents: { agent1: { host: "http://a1:secret@a1.example" }, agent2: { host: "http://plain" } },
  });
  const redacted = redactConfig(config);
  const json = JSON.stringify(redacted);
  assert.ok(!json.includes("secret"), json);
  assert.ok(!json.includes("Authorization"), json);
  const r = redacted as unknown as Config;
  assert.equal(r.redis.url, "redis://user:***@redis.example:6380/1");
  assert.equal(r.redis.password, undefined);
  assert.equal(r.ollama.headers, undefined);
  assert.equal(r.ollama.host, "http://ollama-user:***@ollama.example:11434");
  assert.equal(r.agents.agent2.host, "http://plain");
  assert.equal(r.conversation.max_turns, 50, "everything else is kept");
});

Deno.test("redactConfig() leaves its input untouched", () => {
  const config = parseConfig({
    redis: { url: "redis://:secret@h:1", password: "secret" },
    ollama: { headers: { "X-Key": "k" } },
  });
  const before = structuredClone(config);
  redactConfig(config);
  assert.deepEqual(config, before);
});

Deno.test("redactConfig() hides a password given in the redis URL's query string", () => {
  // ioredis reads ?password=… from the URL as the password.
  const json = JSON.stringify(
    redactConfig(parseConfig({ redis: { url: "redis://redis.example:6379/0?password=secret" } })),
  );
  assert.ok(!json.includes("secret"), json);
});

Deno.test("redactConfig() hides a redis password that contains '@'", () => {
  // ioredis splits the credentials at the last '@', so this password is "p@ss-secret".
  const json = JSON.stringify(
    redactConfig(parseConfig({ redis: { url: "redis://user:p@ss-secret@redis.example:6379" } })),
  );
  assert.ok(!json.includes("secret"), json);
});

// ---------------------------------------------------------------------------
// Per-agent fallbacks

Deno.test("agentModel(), agentHost() and agentTemperature() fall back to the shared settings", () => {
  const shared = parseConfig({
    agents: { model: "shared-model" },
    ollama: { host: "http://shared:11434" },
    generation: { temperature: 0.3 },
  });
  for (const agent of [1, 2] as const) {
    assert.equal(agentModel(shared, agent), "shared-model");
    assert.equal(agentHost(shared, agent), "http://shared:11434");
    assert.equal(agentTemperature(shared, agent), 0.3);
  }
  const specific = parseConfig({
    agents: {
      model: "shared-model",
      agent2: { model: "m2", host: "http://two:11434", temperature: 1.5 },
    },
  });
  assert.equal(agentModel(specific, 1), "shared-model");
  assert.equal(agentModel(specific, 2), "m2");
  assert.equal(agentHost(specific, 1), "http://127.0.0.1:11434");
  assert.equal(agentHost(specific, 2), "http://two:11434");
  assert.equal(agentTemperature(specific, 1), 0.8);
  assert.equal(agentTemperature(specific, 2), 1.5);
});

// ---------------------------------------------------------------------------
// Flags (lib/cli/cli.ts)

Deno.test("configLayerFromFlags() maps --model onto both agents.model and manager.model", () => {
  assert.deepEqual(configLayerFromFlags({ model: "m" }), {
    agents: { model: "m" },
    manager: { model: "m" },
  });
});

Deno.test("configLayerFromFlags() lets --manager-model win over --model for the manager", () => {
  const layer = configLayerFromFlags({ model: "m", "manager-model": "boss" });
  assert.deepEqual(layer, { agents: { model: "m" }, manager: { model: "boss" } });
});

Deno.test("configLayerFromFlags() coerces numeric flags and keeps text flags as strings", () => {
  const layer = configLayerFromFlags({
    "max-turns": "12",
    duration: "30.5",
    temperature: "0.5",
    "num-ctx": "2048",
    seed: "7",
    topic: "42",
    output: "text",
    "redis-url": "redis://h:1",
  });
  assert.deepEqual(layer, {
    conversation: { max_turns: 12, duration_seconds: 30.5 },
    generation: { temperature: 0.5, num_ctx: 2048, seed: 7 },
    manager: { topic: "42" },
    agents: { output: "text" },
    redis: { url: "redis://h:1" },
  });
});

Deno.test("configLayerFromFlags() leaves a non-numeric value for validation to report", () => {
  const layer = configLayerFromFlags({ "max-turns": "lots" });
  assert.deepEqual(layer, { conversation: { max_turns: "lots" } });
  assertUsageError(() => parseConfig(layer), "conversation.max_turns", '"lots"');
});

Deno.test("configLayerFromFlags() ignores --config, --help and flags that are not set", () => {
  assert.deepEqual(
    configLayerFromFlags({ config: "x.jsonc", help: true, model: undefined }),
    {},
  );
});

Deno.test("parseFlags() returns the values of known flags", () => {
  const { values, positionals } = parseFlags(
    ["--model", "tiny", "--max-turns", "4", "-h"],
    CONFIG_FLAGS,
    "deno task chat",
  );
  assert.equal(values.model, "tiny");
  assert.equal(values["max-turns"], "4");
  assert.equal(values.help, true);
  assert.deepEqual(positionals, []);
});

Deno.test("parseFlags() turns an unknown flag into a usage error naming it and pointing at --help", () => {
  const error = assertUsageError(
    () => parseFlags(["--bogus"], CONFIG_FLAGS, "deno task chat"),
    "--bogus",
    "'deno task chat --help'",
  );
  assert.ok(!error.message.includes("To specify a positional"), error.message);
});

Deno.test("parseFlags() reports a flag without its value and an unexpected positional", () => {
  assertUsageError(
    () => parseFlags(["--max-turns"], CONFIG_FLAGS, "deno task chat"),
    "--max-turns",
    "--help",
  );
  assertUsageError(() => parseFlags(["extra"], CONFIG_FLAGS, "deno task chat"), "extra", "--help");
  assert.deepEqual(
    parseFlags(["extra"], CONFIG_FLAGS, "deno task analyze", true).positionals,
    ["extra"],
  );
});
