/**
 * The local store every command uses when no Redis is configured and none
 * answers on 127.0.0.1:6379: a run made by `deno task chat` is seen by the
 * next commands and survives a stop and restart; a configured REDIS_URL
 * wins; commands starting at once share one server; `deno task redis`
 * shows and stops it. Every test uses a temporary DIALOGUE_HOME and stops
 * the server it started.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { runEntrypoint, taskPermissions } from "../helpers/entrypoints.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { isListening, redisPid } from "../../lib/cli/redis_probe.ts";
import {
  ensureLocalRedis,
  localRedisHome,
  readLocalRedisRecord,
  stopLocalRedis,
} from "../../lib/cli/local_redis.ts";
import { isDefaultRedis } from "../../lib/cli/redis_location.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const STORY = `${ROOT}tests/fixtures/story.json`;

/** Something on 127.0.0.1:6379 would (rightly) be used instead of the local store. */
const DEFAULT_PORT_TAKEN = await isListening("127.0.0.1", 6379);

/** No Redis configured: the variables a developer's shell may hold are blanked. */
function unconfigured(home: string): Record<string, string> {
  return {
    DIALOGUE_HOME: home,
    REDIS_URL: "",
    REDIS_HOST: "",
    REDIS_PORT: "",
    DIALOGUE_CONFIG_JSON: "",
  };
}

/** `deno task redis ARGS` as a process, with the task's permissions. */
async function redisTask(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${ROOT}deno.json`,
      ...(await taskPermissions("redis")),
      `${ROOT}redis.ts`,
      ...args,
    ],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Whether a process with this pid runs (`ps`: /proc is not readable here); zombies do not. */
async function running(pid: number): Promise<boolean> {
  const out = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] }).output();
  const stat = new TextDecoder().decode(out.stdout).trim();
  return stat !== "" && !stat.startsWith("Z");
}

/**
 * Whether the process is still there after a bounded wait: once the server
 * stops answering it still has to exit, and another process's exit cannot
 * be awaited.
 */
async function alive(pid: number): Promise<boolean> {
  const giveUp = Date.now() + 5000;
  while (await running(pid)) {
    if (Date.now() > giveUp) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** A temporary data folder; the local store in it is stopped and the folder removed afterwards. */
async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "dialogue_home_" });
  try {
    await fn(home);
  } finally {
    const record = await readLocalRedisRecord(home);
    await stopLocalRedis(home);
    if (record) assertEquals(await alive(record.pid), false, "no redis-server left running");
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test({
  name:
    "a run made by chat with no Redis configured is seen by analyze and observe, also after a restart",
  ignore: DEFAULT_PORT_TAKEN,
  async fn() {
    const double = await OllamaDouble.start();
    try {
      await withHome(async (home) => {
        const env = { ...unconfigured(home), OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
        const chat = await runEntrypoint(
          "main.ts",
          ["--story", STORY, "--max-turns", "2", "--no-analysis"],
          { env },
        );
        assertEquals(chat.code, 0, chat.stderr);
        // Said once, by chat itself — not again by its manager and agent children.
        const said = chat.stderr.match(/Redis: the local store at/g) ?? [];
        assertEquals(said.length, 1, chat.stderr);
        assertStringIncludes(chat.stderr, `data in ${home}`);
        const record = await readLocalRedisRecord(home);
        assert(record, "the address is recorded in the data folder");
        assertEquals(await redisPid(record.port), record.pid, "it outlives the chat command");

        const analyze = await runEntrypoint("analyze.ts", ["--json"], { env });
        assertEquals(analyze.code, 0, analyze.stderr);
        const report = JSON.parse(analyze.stdout);
        assertEquals(report.conversation.status, "completed");
        assertEquals(report.conversation.turns, 2);
        const id: string = report.conversation.id;
        assertStringIncludes(analyze.stderr, `Redis: the local store at 127.0.0.1:${record.port},`);

        const list = await runEntrypoint("observer.ts", ["--list"], { env });
        assertEquals(list.code, 0, list.stderr);
        assertStringIncludes(list.stdout, id);

        // Stopped, then the next command starts it again, and the run is still there.
        const stop = await redisTask(["stop"], env);
        assertEquals(stop.code, 0, stop.stderr);
        assertEquals(await alive(record.pid), false, "stop ends the server");
        const again = await runEntrypoint("analyze.ts", ["--json", id], { env });
        assertEquals(again.code, 0, again.stderr);
        assertStringIncludes(again.stderr, "(started)");
        assertEquals(JSON.parse(again.stdout).conversation.turns, 2);
        const restarted = await readLocalRedisRecord(home);
        assert(restarted && restarted.pid !== record.pid, "a new server process");
        assertEquals(restarted.port, record.port, "on the recorded port");
      });
    } finally {
      await double.close();
    }
  },
});

Deno.test("a configured REDIS_URL wins over the local store", async () => {
  const server = await RedisServer.start();
  try {
    await withHome(async (home) => {
      const run = await runEntrypoint("observer.ts", ["--list"], {
        env: { ...unconfigured(home), REDIS_URL: server.url },
      });
      assertEquals(run.code, 0, run.stderr);
      assertEquals(run.stderr.includes("local store"), false, run.stderr);
      assertEquals(await readLocalRedisRecord(home), undefined, "no local store started");
    });
  } finally {
    await server.stop();
  }
});

Deno.test("isDefaultRedis() is true only when Redis is left at 127.0.0.1:6379 with no URL", () => {
  assertEquals(isDefaultRedis(parseConfig({}).redis), true);
  assertEquals(
    isDefaultRedis(parseConfig({ redis: { url: "redis://127.0.0.1:6379" } }).redis),
    false,
  );
  assertEquals(isDefaultRedis(parseConfig({ redis: { host: "localhost" } }).redis), false);
  assertEquals(isDefaultRedis(parseConfig({ redis: { port: 6380 } }).redis), false);
});

Deno.test("commands starting at once share one local redis-server", async () => {
  await withHome(async (home) => {
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => redisTask(["start"], unconfigured(home))),
    );
    for (const run of runs) assertEquals(run.code, 0, run.stderr);
    const urls = new Set(runs.map((run) => /redis:\/\/\S+/.exec(run.stdout)?.[0]));
    assertEquals(urls.size, 1, runs.map((run) => run.stdout).join(""));
    assertEquals(runs.filter((run) => run.stdout.startsWith("Started")).length, 1);
    // Only the command that spawned a server says "Started": one did, the others found it.
    const record = (await readLocalRedisRecord(home))!;
    assertEquals([...urls], [`redis://127.0.0.1:${record.port}`]);
    assertEquals(await redisPid(record.port), record.pid);
  });
});

Deno.test("deno task redis status shows the folder, address, pid, state and data size", async () => {
  await withHome(async (home) => {
    const before = await redisTask(["status"], unconfigured(home));
    assertEquals(before.code, 0, before.stderr);
    assertMatch(before.stdout, new RegExp(`^folder +${home}$`, "m"));
    assertMatch(before.stdout, /^state +stopped$/m);
    const local = await ensureLocalRedis(home);
    const running = await redisTask([], unconfigured(home));
    assertEquals(running.code, 0, running.stderr);
    assertMatch(
      running.stdout,
      new RegExp(`^address +redis://127\\.0\\.0\\.1:${local.port}$`, "m"),
    );
    assertMatch(running.stdout, new RegExp(`^pid +${local.pid}$`, "m"));
    assertMatch(running.stdout, /^state +running$/m);
    assertMatch(running.stdout, /^data +\d+(\.\d)? (B|KiB|MiB)$/m);
    const bad = await redisTask(["restart"], unconfigured(home));
    assertEquals(bad.code, 2);
    assertEquals(
      bad.stderr,
      "redis: Unknown action \"restart\": expected status, start or stop (see 'deno task redis --help')\n",
    );
  });
});

Deno.test("localRedisHome() is DIALOGUE_HOME, else XDG_DATA_HOME/dialogue-llm, else ~/.local/share/dialogue-llm", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assertEquals(localRedisHome(env({ DIALOGUE_HOME: "/d", XDG_DATA_HOME: "/x", HOME: "/h" })), "/d");
  assertEquals(localRedisHome(env({ XDG_DATA_HOME: "/x", HOME: "/h" })), "/x/dialogue-llm");
  assertEquals(localRedisHome(env({ HOME: "/h" })), "/h/.local/share/dialogue-llm");
});

Deno.test("the local store keeps an AOF (fsync every second) in its folder and listens on 127.0.0.1 only", async () => {
  await withHome(async (home) => {
    const local = await ensureLocalRedis(home);
    assertEquals(local.started, true);
    const { connectRedis, closeRedis } = await import("../../lib/bus/redis_connection.ts");
    const redis = await connectRedis(parseConfig({ redis: { url: local.url } }).redis, {
      name: "local-redis-test",
    });
    try {
      assertEquals(await redis.config("GET", "appendonly"), ["appendonly", "yes"]);
      assertEquals(await redis.config("GET", "appendfsync"), ["appendfsync", "everysec"]);
      assertEquals(await redis.config("GET", "bind"), ["bind", "127.0.0.1"]);
      assertEquals(await redis.config("GET", "dir"), ["dir", await Deno.realPath(home)]);
    } finally {
      await closeRedis(redis);
    }
    const second = await ensureLocalRedis(home);
    assertEquals([second.started, second.pid], [false, local.pid], "found, not started again");
  });
});

Deno.test("isListening() is true for an open port and false for a closed one", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch {
      // Listener closed.
    }
  })();
  try {
    assertEquals(await isListening("127.0.0.1", port), true);
  } finally {
    listener.close();
    await accepting;
  }
  assertEquals(await isListening("127.0.0.1", port), false);
});

Deno.test("without redis-server on PATH the error says to install Redis or set REDIS_URL", async () => {
  const emptyPath = await Deno.makeTempDir({ prefix: "dialogue_empty_path_" });
  try {
    await withHome(async (home) => {
      const run = await runEntrypoint("observer.ts", ["--list"], {
        env: { ...unconfigured(home), PATH: emptyPath },
      });
      assertEquals(run.code, 1, run.stderr);
      const lines = run.stderr.trim().split("\n");
      assertEquals(lines.length, 1, run.stderr);
      assertStringIncludes(lines[0]!, "redis-server");
      assertStringIncludes(lines[0]!, "apt-get");
      assertStringIncludes(lines[0]!, "REDIS_URL");
      // And in-process, the same error for callers to branch on.
      const saved = Deno.env.get("PATH")!;
      Deno.env.set("PATH", emptyPath);
      try {
        const error = await ensureLocalRedis(home).catch((e) => e);
        assert(error instanceof DialogueError, String(error));
        assertEquals(error.code, ErrorCode.RedisUnavailable);
      } finally {
        Deno.env.set("PATH", saved);
      }
    });
  } finally {
    await Deno.remove(emptyPath, { recursive: true });
  }
});

Deno.test("a lock left by a command that died while starting the server is taken over", async () => {
  await withHome(async (home) => {
    const lock = `${home}/redis.lock`;
    await Deno.writeTextFile(lock, "999999\n");
    const longAgo = new Date(Date.now() - 60_000);
    await Deno.utime(lock, longAgo, longAgo);
    const local = await ensureLocalRedis(home);
    assertEquals(local.started, true);
    assertEquals(await redisPid(local.port), local.pid);
    await assertRejectsNotFound(lock);
  });
});

async function assertRejectsNotFound(path: string): Promise<void> {
  const error = await Deno.stat(path).then(() => undefined, (e) => e);
  assert(error instanceof Deno.errors.NotFound, `${path} is removed once the server runs`);
}
