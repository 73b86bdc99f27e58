/**
 * Observer latency for `deno task bench`: a `deno task observe` process
 * follows a conversation while this process publishes stamped tokens on its
 * live stream (with the project's `publishLive`); each token's latency is
 * publish → its text read from the observer's stdout pipe.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { ConversationStore } from "../lib/bus/conversation_store.ts";
import { publishLive } from "../lib/bus/live_feed.ts";
import { transitionStatus } from "../lib/bus/status_transition.ts";
import { taskArgs } from "./project_run.ts";

/** What {@linkcode measureObserver} runs. */
export interface ObserverOptions {
  redis: Redis;
  redisUrl: string;
  /** Tokens published. */
  tokens: number;
  /** Pause between two tokens, so latency is measured, not a backlog. */
  intervalMs: number;
}

/** Per-token latencies (ms), or why there are none. */
export type ObserverResult =
  | { available: true; latencies: number[]; lost: number }
  | { available: false; why: string };

/** The command a reader types to watch the same way. */
export const OBSERVE_COMMAND = "deno task observe --conversation ID";

/** Publishes stamped tokens to an observer and times their arrival on its stdout. */
export async function measureObserver(options: ObserverOptions): Promise<ObserverResult> {
  const { redis } = options;
  const id = `bench-observer-${Date.now()}`;
  const store = new ConversationStore(redis);
  const now = Date.now();
  await store.create({
    id,
    status: "pending",
    created_at: now,
    turns: 0,
    max_turns: 10,
    duration_seconds: 300,
    scenario: {
      story: {
        setting: "A harbor at dusk.",
        characters: ["Mara Quinn", "Tobias Vale"],
        initial_situation: "A letter has arrived.",
      },
      personas: ["Mara Quinn", "Tobias Vale"].map((name) => ({
        name,
        background: "Keeps the harbor.",
        personality: "Patient.",
        speaking_style: "Plain.",
        goal: "Read the letter.",
      })),
    },
    models: { manager: "bench", agent1: "bench", agent2: "bench" },
    config: {},
  });
  await transitionStatus(redis, id, "running", {
    set: { started_at: now, deadline: now + 300_000 },
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [...(await taskArgs("observe")), "--conversation", id],
    cwd: new URL("..", import.meta.url).pathname,
    env: { REDIS_URL: options.redisUrl, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errors = new Response(child.stderr).text();
  const arrivals = new Map<number, number>();
  let seen = "";
  let header!: () => void;
  const headerShown = new Promise<void>((resolve) => header = resolve);
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const at = performance.now();
      seen = (seen + chunk).slice(-200);
      if (seen.includes("Tobias")) header();
      for (const match of seen.matchAll(/zq(\d+)q/g)) {
        const n = Number(match[1]);
        if (!arrivals.has(n)) arrivals.set(n, at);
      }
    }
  })();
  const shown = await Promise.race([
    headerShown.then(() => true),
    child.status.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000)),
  ]);
  if (!shown) {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    return {
      available: false,
      why: `the observer showed no header: ${(await errors).slice(-300)}`,
    };
  }
  const sent = new Map<number, number>();
  await publishLive(redis, id, {
    type: "turn_start",
    seq: 1,
    agent: 1,
    model: "bench",
    at: Date.now(),
  });
  for (let i = 0; i < options.tokens; i++) {
    sent.set(i, performance.now());
    await publishLive(redis, id, { type: "token", seq: 1, agent: 1, text: ` zq${i}q` });
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  await transitionStatus(redis, id, "interrupted", { set: { ended_at: Date.now() } });
  await publishLive(redis, id, { type: "status", status: "interrupted" });
  const ended = await Promise.race([
    child.status.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
  ]);
  if (!ended) child.kill("SIGTERM");
  await child.status;
  await reading;
  await errors;
  await store.delete(id);
  const latencies = [...sent].flatMap(([n, at]) => {
    const arrived = arrivals.get(n);
    return arrived === undefined ? [] : [arrived - at];
  });
  return { available: true, latencies, lost: options.tokens - latencies.length };
}
