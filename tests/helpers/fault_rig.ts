/**
 * Shared setup for the fault-injection tests and the soak script: a private
 * redis-server (AOF on request), the Ollama double, a JSONC config with short
 * timeouts, the real entrypoints as tracked processes, and checks on what a
 * run left in Redis (every turn once, none missing).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { assert, assertEquals } from "./assert.ts";
import { collect, spawnEntrypoint } from "./entrypoints.ts";
import {
  OllamaDouble,
  type OllamaDoubleOptions,
  type RecordedRequest,
} from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { mergeLayers } from "../../lib/config/config_layer.ts";
import type { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { AGENT_GROUP, conversationKeys } from "../../lib/bus/keys.ts";
import { LiveEvent } from "../../lib/model/live_event.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";

/** Story file for `--story`, relative to the repository root (the processes' cwd). */
export const STORY = "tests/fixtures/story.json";

/**
 * Configuration every faulty run starts from: faults are noticed in seconds,
 * not minutes, and the double's prose never trips the loop detector.
 */
export const FAST_CONFIG: Record<string, unknown> = {
  conversation: { claim_idle_seconds: 2, loop_action: "off", duration_seconds: 120 },
  redis: { max_unavailable_seconds: 5 },
  ollama: { request_timeout_ms: 3000 },
};

/** Options of {@linkcode FaultRig.start}. */
export interface FaultRigOptions extends OllamaDoubleOptions {
  /** Run redis-server with `appendonly yes`, `appendfsync always`. @default false */
  aof?: boolean;
  /** Merged over {@linkcode FAST_CONFIG} and written to the `--config` file. */
  config?: Record<string, unknown>;
}

/** Something printed on stderr that only an uncaught error or a crash prints. */
const _CRASH = /^\s{2,}at\s|error: Uncaught|Unhandled error event|panicked at|RUST_BACKTRACE/m;

/** Whether `text` holds a stack trace or another sign of a crash. */
export function hasStackTrace(text: string): boolean {
  return _CRASH.test(text);
}

/** One entrypoint process, its output collected as it comes. */
export class Proc {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  /** Resolves once the process exited and its output was read to the end. */
  readonly done: Promise<Deno.CommandStatus>;
  status: Deno.CommandStatus | undefined;
  readonly #out: ReturnType<typeof collect>;
  readonly #err: ReturnType<typeof collect>;

  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.#out = collect(child.stdout);
    this.#err = collect(child.stderr);
    this.done = child.status.then(async (status) => {
      await Promise.all([this.#out.done, this.#err.done]).catch(() => {});
      this.status = status;
      return status;
    });
  }

  stdout(): string {
    return this.#out.text();
  }

  stderr(): string {
    return this.#err.text();
  }

  get exited(): boolean {
    return this.status !== undefined;
  }

  /** Sends `signal` unless the process has exited. */
  kill(signal: Deno.Signal = "SIGKILL"): void {
    if (this.exited) return;
    try {
      this.child.kill(signal);
    } catch {
      // Exited meanwhile.
    }
  }

  /**
   * Waits for the exit; returns the exit code.
   *
   * @throws {Error} after `timeoutMs` (the process is killed), with its stderr.
   */
  async wait(timeoutMs = 30_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      this.done.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.kill("SIGKILL");
      await this.done;
      throw new Error(
        `${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms; stderr:\n${
          this.stderr().slice(-3000)
        }`,
      );
    }
    return this.status!.code;
  }

  /** A short report for assertion messages. */
  describe(): string {
    const code = this.status ? `exit ${this.status.code}` : "running";
    const out = this.stdout().trim();
    return `--- ${this.name} (pid ${this.pid}, ${code}) stderr:\n${this.stderr().slice(-3000)}` +
      (out ? `\n--- ${this.name} stdout (end):\n${out.slice(-800)}` : "");
  }
}

/** A redis-server, the Ollama double and the processes of one test. */
export class FaultRig {
  readonly double: OllamaDouble;
  readonly redisServer: RedisServer;
  /** The test's own client; it waits out restarts of the server. */
  readonly redis: Redis;
  readonly store: ConversationStore;
  /** Temporary folder holding the config file. */
  readonly dir: string;
  readonly configFile: string;
  readonly env: Record<string, string>;
  readonly procs: Proc[] = [];

  private constructor(
    double: OllamaDouble,
    redisServer: RedisServer,
    redis: Redis,
    dir: string,
  ) {
    this.double = double;
    this.redisServer = redisServer;
    this.redis = redis;
    this.store = new ConversationStore(redis);
    this.dir = dir;
    this.configFile = `${dir}/fault.jsonc`;
    this.env = { REDIS_URL: redisServer.url, OLLAMA_HOST: double.url, DIALOGUE_MODEL: "tiny" };
  }

  /** Starts redis-server and the double and writes the config file. */
  static async start(options: FaultRigOptions = {}): Promise<FaultRig> {
    const { aof, config, ...doubleOptions } = options;
    const double = await OllamaDouble.start(doubleOptions);
    const redisServer = await RedisServer.start(
      aof ? { args: ["--appendonly", "yes", "--appendfsync", "always"] } : {},
    );
    const redis = await connectRedis(
      parseConfig({ redis: { url: redisServer.url, max_unavailable_seconds: 120 } }).redis,
      { name: "fault-test" },
    );
    const dir = await Deno.makeTempDir({ prefix: "dialogue_fault_" });
    const rig = new FaultRig(double, redisServer, redis, dir);
    const merged = mergeLayers(FAST_CONFIG, config ?? {});
    await Deno.writeTextFile(
      rig.configFile,
      `// Written by tests/helpers/fault_rig.ts: short timeouts for fault tests.\n${
        JSON.stringify(merged, null, 2)
      }\n`,
    );
    return rig;
  }

  /** Starts an entrypoint with the rig's environment and `--config`. */
  async spawn(script: string, args: string[], name = script): Promise<Proc> {
    const child = await spawnEntrypoint(script, ["--config", this.configFile, ...args], {
      env: this.env,
    });
    const proc = new Proc(name, child);
    this.procs.push(proc);
    return proc;
  }

  /** `manager.ts --conversation ID --story STORY` plus `args`. */
  manager(id: string, args: string[] = [], name = "manager"): Promise<Proc> {
    return this.spawn("manager.ts", ["--conversation", id, "--story", STORY, ...args], name);
  }

  /** `manager.ts --resume ID`. */
  resumeManager(id: string, name = "manager (resumed)"): Promise<Proc> {
    return this.spawn("manager.ts", ["--resume", id], name);
  }

  /** `agent.ts --id SLOT --conversation ID`. */
  agent(id: string, slot: 1 | 2, name = `agent ${slot}`): Promise<Proc> {
    return this.spawn("agent.ts", ["--id", String(slot), "--conversation", id], name);
  }

  /** `observer.ts --conversation ID`. */
  observer(id: string): Promise<Proc> {
    return this.spawn("observer.ts", ["--conversation", id], "observer");
  }

  /** The manager and both agents of conversation `id`. */
  async trio(
    id: string,
    managerArgs: string[] = [],
  ): Promise<{ manager: Proc; agent1: Proc; agent2: Proc }> {
    const [agent1, agent2] = await Promise.all([this.agent(id, 1), this.agent(id, 2)]);
    const manager = await this.manager(id, managerArgs);
    return { manager, agent1, agent2 };
  }

  /** `/api/chat` bodies the double received, oldest first. */
  chatRequests(): Record<string, unknown>[] {
    return this.double.requests
      .filter((r: RecordedRequest) => r.path === "/api/chat")
      .map((r) => r.body as Record<string, unknown>);
  }

  /** Every live event of conversation `id` so far, oldest first. */
  async liveEvents(id: string): Promise<LiveEvent[]> {
    const raw = await this.redis.xrange(conversationKeys(id).live, "-", "+");
    const out: LiveEvent[] = [];
    for (const [, fields] of raw) {
      const parsed = LiveEvent.safeParse(JSON.parse(fields[1] ?? "null"));
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }

  /** Waits for a live event of conversation `id` that `match` accepts; returns it. */
  async waitForLive(
    id: string,
    what: string,
    match: (event: LiveEvent) => boolean,
    timeoutMs = 30_000,
  ): Promise<LiveEvent> {
    let cursor = "-";
    return await until(
      what,
      async () => {
        const raw = await this.redis.xrange(conversationKeys(id).live, cursor, "+");
        for (const [entryId, fields] of raw) {
          cursor = `(${entryId}`;
          const parsed = LiveEvent.safeParse(JSON.parse(fields[1] ?? "null"));
          if (parsed.success && match(parsed.data)) return parsed.data;
        }
        return undefined;
      },
      timeoutMs,
      () => this.report(),
    );
  }

  /** Waits until agent `slot` streams tokens for turn `seq`. */
  waitForTokens(id: string, seq: number, timeoutMs = 30_000): Promise<LiveEvent> {
    return this.waitForLive(
      id,
      `tokens of turn ${seq}`,
      (e) => e.type === "token" && e.seq === seq,
      timeoutMs,
    );
  }

  /** Metadata of conversation `id` (which must exist). */
  meta(id: string): Promise<ConversationMeta> {
    return this.store.require(id);
  }

  /** Unacknowledged entries of a request stream: entry id, consumer, idle ms, deliveries. */
  async pendingRequests(
    id: string,
    slot: 1 | 2,
  ): Promise<{ entry: string; consumer: string; idleMs: number; deliveries: number }[]> {
    const raw = await this.redis.xpending(
      conversationKeys(id).requests(slot),
      AGENT_GROUP,
      "-",
      "+",
      100,
    ) as [string, string, number, number][];
    return raw.map(([entry, consumer, idleMs, deliveries]) => ({
      entry,
      consumer,
      idleMs,
      deliveries,
    }));
  }

  /** What every process printed, for assertion messages. */
  report(): string {
    return this.procs.map((p) => p.describe()).join("\n");
  }

  /** Kills what is still running (children of `main.ts` too), stops the servers. */
  async close(): Promise<void> {
    for (const proc of this.procs) {
      if (proc.exited) continue;
      if (proc.name.startsWith("chat")) {
        for (const pid of await _childPids(proc.pid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // Gone meanwhile.
          }
        }
      }
      proc.kill("SIGKILL");
    }
    await Promise.all(this.procs.map((p) => p.done));
    await closeRedis(this.redis);
    await this.redisServer.stop();
    await this.double.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A conversation id unique to one test run. */
export function newTestId(label: string): string {
  return `fault-${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Polls `probe` every 50 ms until it returns a value.
 *
 * @throws {Error} naming `what` after `timeoutMs`, with `context()` appended.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  context: () => string = () => "",
): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  while (Date.now() < giveUp) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
}

/** Sequence numbers of a stream's entries in stream order, read with XRANGE. */
export async function streamSeqs(redis: Redis, stream: string): Promise<number[]> {
  const raw = await redis.xrange(stream, "-", "+");
  return raw.map(([, fields]) => {
    const at = fields.findIndex((f, i) => i % 2 === 0 && f === "seq");
    return Number(fields[at + 1]);
  });
}

/** What the four streams of a run hold, turn by turn. */
export interface TurnLog {
  /** Sorted sequence numbers of both response streams, duplicates kept. */
  responses: number[];
  /** Sorted sequence numbers of both request streams, duplicates kept. */
  requests: number[];
  /** Sequence numbers below the highest response that have no response. */
  lost: number[];
  /** Sequence numbers with more than one response (or request) entry. */
  duplicated: number[];
  /** Entries on the dead-letter stream. */
  deadLettered: number;
  /** Responses on the wrong agent's stream (odd turns are agent 1's). */
  misrouted: number[];
}

/** Reads the streams of conversation `id` directly (not the deduplicated transcript). */
export async function readTurnLog(redis: Redis, id: string): Promise<TurnLog> {
  const keys = conversationKeys(id);
  const r1 = await streamSeqs(redis, keys.responses(1));
  const r2 = await streamSeqs(redis, keys.responses(2));
  const q1 = await streamSeqs(redis, keys.requests(1));
  const q2 = await streamSeqs(redis, keys.requests(2));
  const responses = [...r1, ...r2].sort((a, b) => a - b);
  const requests = [...q1, ...q2].sort((a, b) => a - b);
  const top = Math.max(0, ...responses);
  const have = new Set(responses);
  const lost: number[] = [];
  for (let seq = 1; seq <= top; seq++) if (!have.has(seq)) lost.push(seq);
  const twice = (list: number[]) => list.filter((s, i) => i > 0 && list[i - 1] === s);
  return {
    responses,
    requests,
    lost,
    duplicated: [...new Set([...twice(responses), ...twice(requests)])],
    deadLettered: await redis.xlen(keys.deadLetter),
    misrouted: [...r1.filter((s) => s % 2 === 0), ...r2.filter((s) => s % 2 === 1)],
  };
}

/**
 * Asserts that conversation `id` ended as expected with turns 1..`turns`
 * answered exactly once and requested exactly once, on the right streams,
 * nothing dead-lettered and every answer acknowledged by the manager.
 */
export async function assertTurnLog(
  rig: FaultRig,
  id: string,
  expected: { turns: number; status?: string; stopReason?: string },
): Promise<void> {
  const context = `\n${rig.report()}`;
  const log = await readTurnLog(rig.redis, id);
  const oneToN = Array.from({ length: expected.turns }, (_, i) => i + 1);
  assertEquals(log.duplicated, [], `duplicated turns in the streams${context}`);
  assertEquals(log.lost, [], `lost turns${context}`);
  assertEquals(log.responses, oneToN, `response streams hold each turn once${context}`);
  assertEquals(log.requests, oneToN, `request streams hold each turn once${context}`);
  assertEquals(log.misrouted, [], "each response is on its agent's stream");
  assertEquals(log.deadLettered, 0, "nothing dead-lettered");
  const { meta, responses } = await rig.store.transcript(id);
  assertEquals(responses.map((r) => r.metadata.sequence_number), oneToN, "transcript");
  assertEquals(meta.turns, expected.turns, "meta.turns");
  assertEquals(meta.status, expected.status ?? "completed", `status${context}`);
  assertEquals(meta.stop_reason, expected.stopReason ?? "max_turns", "stop_reason");
  const keys = conversationKeys(id);
  assertEquals(await rig.redis.hlen(keys.answered), expected.turns, "answered hash");
  assertEquals(await rig.redis.hlen(keys.routed), expected.turns, "routed hash");
  if ((expected.status ?? "completed") === "completed") {
    for (const stat of await rig.store.queueStats(id)) {
      assertEquals(stat.pending, 0, `${stat.stream} has unacknowledged entries${context}`);
    }
  }
}

/** Asserts that a process exited with one of `codes` and printed no stack trace. */
export async function assertCleanExit(
  proc: Proc,
  codes: number[],
  timeoutMs = 30_000,
): Promise<void> {
  const code = await proc.wait(timeoutMs);
  assert(codes.includes(code), `expected exit ${codes.join(" or ")}:\n${proc.describe()}`);
  assert(!hasStackTrace(proc.stderr()), `stack trace on stderr:\n${proc.describe()}`);
}

/**
 * The direct children of `parent` with their command lines, from `ps`
 * (Deno reads `/proc` only with every permission granted).
 */
export async function childProcesses(parent: number): Promise<{ pid: number; cmd: string }[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["--ppid", String(parent), "-o", "pid=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").map((line) => line.trim()).filter(Boolean)
    .map((line) => {
      const [pid, ...cmd] = line.split(/\s+/);
      return { pid: Number(pid), cmd: cmd.join(" ") };
    });
}

async function _childPids(parent: number): Promise<number[]> {
  return (await childProcesses(parent)).map((c) => c.pid);
}
