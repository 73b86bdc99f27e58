/**
 * End to end, process by process: the manager and agents started by hand,
 * per-agent models and Ollama hosts, pulling missing models, and Ctrl-C on
 * `main.ts` ending the run and its children.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { OllamaDouble, type RecordedRequest } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { collect, runEntrypoint, spawnEntrypoint } from "../helpers/entrypoints.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import type { Redis } from "ioredis";

const STORY = "tests/fixtures/story.json";
/** Nothing listens here: a process that wrongly used the default host fails loudly. */
const NO_OLLAMA = "http://127.0.0.1:9";

interface Rig {
  redisServer: RedisServer;
  redis: Redis;
  store: ConversationStore;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const redisServer = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: redisServer.url } }).redis, {
    name: "test",
  });
  return {
    redisServer,
    redis,
    store: new ConversationStore(redis),
    async close() {
      await closeRedis(redis);
      await redisServer.stop();
    },
  };
}

function chatRequests(double: OllamaDouble): Record<string, unknown>[] {
  return double.requests
    .filter((r: RecordedRequest) => r.path === "/api/chat")
    .map((r) => r.body as Record<string, unknown>);
}

/** The persona a chat request speaks as, from its system message ("You are Mara. …"). */
function speaker(body: Record<string, unknown>): string | undefined {
  const messages = body.messages as { role: string; content: string }[];
  const system = messages.find((m) => m.role === "system")?.content ?? "";
  return /^You are ([^.]+)\./.exec(system)?.[1];
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  while (Date.now() < giveUp) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

function isAlive(pid: number): boolean {
  // From ps: Deno reads /proc only with every permission granted.
  const out = new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const state = new TextDecoder().decode(out.stdout).trim();
  // A zombie has exited; only its exit status is left to collect.
  return state !== "" && !state.startsWith("Z");
}

async function childPids(parent: number): Promise<{ pid: number; args: string }[]> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "pid=,args=", "--ppid", String(parent)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((line) => line.trim())
    .filter(Boolean).map((line) => {
      const [pid, ...args] = line.split(/\s+/);
      return { pid: Number(pid), args: args.join(" ") };
    });
}

Deno.test("agents started before the manager wait for its conversation and serve it to the end", async () => {
  const t = await rig();
  const double = await OllamaDouble.start();
  try {
    const env = { REDIS_URL: t.redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    const agents = await Promise.all(
      ["1", "2"].map((id) => spawnEntrypoint("agent.ts", ["--id", id], { env })),
    );
    const agentErr = agents.map((agent) => collect(agent.stderr));
    const agentOut = agents.map((agent) => collect(agent.stdout));
    // Give the agents time to be up and polling before anything exists.
    await new Promise((r) => setTimeout(r, 1000));
    assertEquals(await t.store.latest(), undefined, "no conversation before the manager");

    const manager = await runEntrypoint("manager.ts", ["--max-turns", "3", "--story", STORY], {
      env,
      timeoutMs: 30_000,
    });
    const timer = setTimeout(() => agents.forEach((a) => a.kill("SIGKILL")), 15_000);
    const statuses = await Promise.all(agents.map((a) => a.status));
    clearTimeout(timer);
    await Promise.all([...agentErr, ...agentOut].map((c) => c.done));

    assertEquals(manager.code, 0, manager.stderr);
    assertEquals(statuses[0]!.code, 0, `agent 1: ${agentErr[0]!.text()}`);
    assertEquals(statuses[1]!.code, 0, `agent 2: ${agentErr[1]!.text()}`);
    const id = (await t.store.latest())!;
    const { meta, responses } = await t.store.transcript(id);
    assertEquals(meta.status, "completed");
    assertEquals(meta.stop_reason, "max_turns");
    assertEquals(meta.turns, 3);
    assertEquals(responses.map((r) => r.metadata.agent_id), [1, 2, 1]);
    assertEquals(responses.map((r) => r.metadata.sequence_number), [1, 2, 3]);
  } finally {
    await double.close();
    await t.close();
  }
});

Deno.test("each agent uses its own model on its own Ollama host from a JSONC --config", async () => {
  const t = await rig();
  const doubleA = await OllamaDouble.start({ models: ["alpha:latest"] });
  const doubleB = await OllamaDouble.start({ models: ["beta:latest"] });
  const dir = await Deno.makeTempDir({ prefix: "dialogue_config_" });
  try {
    const configFile = `${dir}/dialogue.jsonc`;
    await Deno.writeTextFile(
      configFile,
      `{
  // Two hosts, one model each: nothing may cross over.
  "agents": {
    "agent1": { "model": "alpha", "host": ${JSON.stringify(doubleA.url)} },
    "agent2": { "model": "beta", "host": ${JSON.stringify(doubleB.url)} },
  },
}
`,
    );
    const run = await runEntrypoint(
      "main.ts",
      ["--config", configFile, "--story", STORY, "--max-turns", "4", "--no-analysis"],
      { env: { REDIS_URL: t.redisServer.url, OLLAMA_HOST: NO_OLLAMA }, timeoutMs: 30_000 },
    );
    assertEquals(run.code, 0, run.stderr);

    const a = chatRequests(doubleA);
    const b = chatRequests(doubleB);
    assertEquals(a.length, 2, "agent 1 spoke twice, on host A");
    assertEquals(b.length, 2, "agent 2 spoke twice, on host B");
    assertEquals(a.map((body) => [body.model, speaker(body)]), [["alpha", "Mara"], [
      "alpha",
      "Mara",
    ]]);
    assertEquals(b.map((body) => [body.model, speaker(body)]), [["beta", "Ilya"], [
      "beta",
      "Ilya",
    ]]);

    const id = (await t.store.latest())!;
    const { meta, responses } = await t.store.transcript(id);
    assertEquals(meta.status, "completed");
    assertEquals({ agent1: meta.models.agent1, agent2: meta.models.agent2 }, {
      agent1: "alpha",
      agent2: "beta",
    });
    assertEquals(responses.map((r) => [r.metadata.agent_id, r.metadata.model]), [
      [1, "alpha"],
      [2, "beta"],
      [1, "alpha"],
      [2, "beta"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await doubleA.close();
    await doubleB.close();
    await t.close();
  }
});

Deno.test("a missing model is named with its pull command, and --pull downloads it and runs", async () => {
  const t = await rig();
  const double = await OllamaDouble.start({ models: ["tiny:latest"] });
  try {
    const env = { REDIS_URL: t.redisServer.url, OLLAMA_HOST: double.url };
    const args = ["--model", "newmodel", "--story", STORY, "--max-turns", "2", "--no-analysis"];

    const refused = await runEntrypoint("main.ts", args, { env });
    assertEquals(refused.code, 1, refused.stderr);
    assertStringIncludes(refused.stderr, "ollama pull newmodel");
    assertEquals(double.requests.filter((r) => r.path === "/api/pull").length, 0);
    assertEquals(await t.store.latest(), undefined, "nothing started without the model");

    const pulled = await runEntrypoint("main.ts", [...args, "--pull"], { env, timeoutMs: 30_000 });
    assertEquals(pulled.code, 0, pulled.stderr);
    const pulls = double.requests.filter((r) => r.path === "/api/pull");
    assertEquals(pulls.length, 1, "one pull for the one model both agents use");
    const body = pulls[0]!.body as Record<string, unknown>;
    assert(
      [body.model, body.name].some((n) => n === "newmodel" || n === "newmodel:latest"),
      `pulled ${JSON.stringify(body)}`,
    );
    const meta = (await t.store.get((await t.store.latest())!))!;
    assertEquals(meta.status, "completed");
    assertEquals(meta.turns, 2);
    assert(
      chatRequests(double).every((b) => b.model === "newmodel"),
      "the agents used the pulled model",
    );
  } finally {
    await double.close();
    await t.close();
  }
});

Deno.test("SIGINT to main.ts alone interrupts the run and leaves no child process behind", async () => {
  const t = await rig();
  // ~100 words at 50 ms each: a reply takes about 5 s, so the run is mid-turn.
  const double = await OllamaDouble.start({ tokenDelayMs: 50, wordsPerReply: 100 });
  let main: Deno.ChildProcess | undefined;
  let children: { pid: number; args: string }[] = [];
  try {
    const env = { REDIS_URL: t.redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    main = await spawnEntrypoint(
      "main.ts",
      ["--story", STORY, "--max-turns", "10", "--no-analysis"],
      { env },
    );
    const out = collect(main.stdout);
    const err = collect(main.stderr);
    const mainPid = main.pid;
    const id = await until("a running conversation", async () => {
      const latest = await t.store.latest();
      const meta = latest ? await t.store.get(latest) : undefined;
      return meta?.status === "running" ? meta.id : undefined;
    });
    // Wait until agent 1 is generating, so the interrupt lands mid-turn.
    await until(
      "the first chat request",
      () => Promise.resolve(chatRequests(double).length > 0 ? true : undefined),
    );
    children = await childPids(mainPid);
    const roles = children.map((c) => /(manager|agent)\.ts/.exec(c.args)?.[1]).sort();
    // One manager pool and one agent pool serve the run (not one process per agent).
    assertEquals(roles, ["agent", "manager"], JSON.stringify(children));

    const signalled = performance.now();
    main.kill("SIGINT");
    const timer = setTimeout(() => main?.kill("SIGKILL"), 30_000);
    const status = await main.status;
    clearTimeout(timer);
    const elapsed = performance.now() - signalled;
    await Promise.all([out.done, err.done]);

    assertEquals(status.code, 130, err.text());
    assert(elapsed < 10_500, `main exited ${Math.round(elapsed)} ms after SIGINT`);
    const meta = (await t.store.get(id))!;
    assertEquals(meta.status, "interrupted");
    assertEquals(meta.stop_reason, "interrupted");
    // Reparented orphans would be reaped by init at once; give it a moment.
    await until(
      "every child to be gone",
      () => Promise.resolve(children.every((c) => !isAlive(c.pid)) ? true : undefined),
      2000,
    ).catch(() => {});
    const alive = children.filter((c) => isAlive(c.pid));
    assertEquals(alive, [], "children still running after main exited");
  } finally {
    // Never leave our own processes behind, even when an assertion failed.
    for (const child of children) {
      if (isAlive(child.pid)) {
        try {
          Deno.kill(child.pid, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
    }
    try {
      main?.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await double.close();
    await t.close();
  }
});

Deno.test("a run interrupted by SIGINT to main.ts alone still expires when retention.seconds is set", async () => {
  const t = await rig();
  const double = await OllamaDouble.start({ tokenDelayMs: 50, wordsPerReply: 100 });
  const dir = await Deno.makeTempDir({ prefix: "dialogue_retention_" });
  let main: Deno.ChildProcess | undefined;
  try {
    const configFile = `${dir}/retention.json`;
    await Deno.writeTextFile(configFile, JSON.stringify({ retention: { seconds: 3600 } }));
    const env = { REDIS_URL: t.redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
    main = await spawnEntrypoint(
      "main.ts",
      ["--config", configFile, "--story", STORY, "--max-turns", "10", "--no-analysis"],
      { env },
    );
    const out = collect(main.stdout);
    const err = collect(main.stderr);
    const id = await until("a generation in progress", async () => {
      const latest = await t.store.latest();
      const meta = latest ? await t.store.get(latest) : undefined;
      return meta?.status === "running" && chatRequests(double).length > 0 ? meta.id : undefined;
    });
    main.kill("SIGINT");
    const timer = setTimeout(() => main?.kill("SIGKILL"), 30_000);
    const status = await main.status;
    clearTimeout(timer);
    await Promise.all([out.done, err.done]);
    assertEquals(status.code, 130, err.text());
    assertEquals((await t.store.get(id))?.status, "interrupted");

    const keys = (await t.redis.keys("*")).filter((key) => key.includes(`{${id}}`));
    assert(keys.length >= 3, keys.join(", "));
    for (const key of keys) {
      const ttl = await t.redis.ttl(key);
      assert(ttl > 0 && ttl <= 3600, `${key} has TTL ${ttl}`);
    }
  } finally {
    try {
      main?.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await Deno.remove(dir, { recursive: true });
    await double.close();
    await t.close();
  }
});
