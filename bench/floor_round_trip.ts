/**
 * The floors of `deno task bench`: request/response round trips through two
 * streams with consumer groups and XACK, between this process and a second
 * Deno process ({@linkcode ./floor_responder.ts}), with ioredis on the same
 * Redis as the project. The raw floor moves the messages only; the same-work
 * floor adds one streaming call to the Ollama double per turn.
 *
 * @module
 */
import { Redis } from "ioredis";
import { entryPayload, HISTORY_MESSAGES, prose, REPLY_WORDS } from "./persona_load.ts";

/** What {@linkcode runFloor} runs. */
export interface FloorOptions {
  redisUrl: string;
  /** Round trips in flight at once (one per conversation). */
  conversations: number;
  /** Round trips in all. */
  turns: number;
  /** The double for the same-work floor; omitted for the raw floor. */
  doubleUrl?: string;
  /** Model name the double serves. */
  model: string;
  /**
   * Messages of history in each request to the double.
   *
   * @default {40}
   */
  history?: number;
  /** Stops early after this long. */
  timeLimitMs: number;
}

/** What a floor run measured. */
export interface FloorResult {
  /** Round-trip times, request sent → response read (ms). */
  latencies: number[];
  /** When each round trip completed (`performance.now()` ms). */
  completions: number[];
  /** Processes involved (this one and the responder). */
  processes: number;
}

let _runs = 0;

/**
 * Runs `turns` round trips with `conversations` in flight and returns their
 * times; the responder process is stopped before it returns.
 */
export async function runFloor(options: FloorOptions): Promise<FloorResult> {
  const tag = `bench:{floor-${Deno.pid}-${++_runs}}`;
  const requests = `${tag}:requests`;
  const responses = `${tag}:responses`;
  const writer = new Redis(options.redisUrl, { lazyConnect: true });
  const reader = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  await Promise.all([writer.connect(), reader.connect()]);
  await writer.xgroup("CREATE", requests, "agents", "$", "MKSTREAM");
  await writer.xgroup("CREATE", responses, "manager", "$", "MKSTREAM");
  const responder = _spawnResponder({
    redisUrl: options.redisUrl,
    requests,
    responses,
    group: "agents",
    inFlight: options.conversations,
    doubleUrl: options.doubleUrl ?? null,
    model: options.model,
    history: options.history ?? HISTORY_MESSAGES,
  });
  try {
    await _readyLine(responder);
    const content = prose(REPLY_WORDS, 1);
    const sentAt = new Map<string, number>();
    const result: FloorResult = { latencies: [], completions: [], processes: 2 };
    let sent = 0;
    const send = (pipe: ReturnType<Redis["pipeline"]>, conversation: string) => {
      sent++;
      sentAt.set(conversation, performance.now());
      pipe.xadd(requests, "*", "data", entryPayload(conversation, sent, content));
    };
    const first = writer.pipeline();
    for (let c = 0; c < Math.min(options.conversations, options.turns); c++) send(first, `c${c}`);
    await first.exec();
    const giveUp = performance.now() + options.timeLimitMs;
    while (result.latencies.length < sent && performance.now() < giveUp) {
      const reply = await reader.xreadgroup(
        "GROUP",
        "manager",
        "requester",
        "COUNT",
        1000,
        "BLOCK",
        1000,
        "STREAMS",
        responses,
        ">",
      ) as [string, [string, string[]][]][] | null;
      const pipe = writer.pipeline();
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          const now = performance.now();
          const conversation = String(JSON.parse(fields[1] ?? "{}").metadata.conversation_id);
          result.latencies.push(now - (sentAt.get(conversation) ?? now));
          result.completions.push(now);
          pipe.xack(responses, "manager", id);
          if (sent < options.turns) send(pipe, conversation);
        }
      }
      if (pipe.length > 0) await pipe.exec();
    }
    return result;
  } finally {
    responder.kill("SIGTERM");
    await responder.status;
    await writer.del(requests, responses);
    reader.disconnect();
    writer.disconnect();
  }
}

function _spawnResponder(config: Record<string, unknown>): Deno.ChildProcess {
  const script = new URL("./floor_responder.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      script,
      JSON.stringify(config),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Waits for the responder's `ready` line, then keeps draining its stdout. */
async function _readyLine(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot run the floor as its responder exited: ${text}`);
    text += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
}
