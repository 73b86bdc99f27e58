/**
 * generateReply() against the real HTTP double: what a turn's retries leave
 * in its metadata, what each failed attempt says, the advice that fits the
 * failure, and what a turn may publish live across all its attempts.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { type Fault, OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { closeRedis, connectRedis } from "../../lib/bus/redis_connection.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";
import { OllamaBackend } from "../../lib/llm/ollama/ollama_backend.ts";
import { Scenario } from "../../lib/model/story.ts";
import type { DialogMessage } from "../../lib/model/dialog_message.ts";
import { LiveEvent } from "../../lib/model/live_event.ts";
import { LiveBatcher } from "../../lib/agent/live_batcher.ts";
import { generateReply, type GenerationOutcome } from "../../lib/agent/reply_generation.ts";

const SCENARIO = Scenario.parse(
  JSON.parse(await Deno.readTextFile(new URL("../fixtures/story.json", import.meta.url))),
);

function request(seq = 1): DialogMessage {
  return {
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: "user",
    content: "Begin.",
    metadata: {
      conversation_id: "c1",
      sequence_number: seq,
      tokens_generated: 0,
      generation_time_ms: 0,
      prompt_tokens: 0,
      tokens_per_second: 0,
      prompt_tokens_per_second: 0,
      time_to_first_token_ms: 0,
      load_duration_ms: 0,
      prompt_eval_duration_ms: 0,
      total_duration_ms: 0,
      wall_time_ms: 0,
      llm_ms: 0,
    },
  };
}

interface Run {
  outcome: GenerationOutcome;
  retries: string[];
}

async function generate(
  faults: Fault[],
  options: { onText?: (text: string) => void; deadline?: number; maxReplyTokens?: number } = {},
): Promise<Run> {
  const double = await OllamaDouble.start({ splitUtf8: false });
  try {
    for (const fault of faults) double.enqueueFault(fault);
    const retries: string[] = [];
    const outcome = await generateReply({
      config: parseConfig({
        conversation: { max_reply_tokens: options.maxReplyTokens ?? 400 },
      }),
      backend: new OllamaBackend({ host: double.url }),
      agent: 1,
      model: "tiny",
      scenario: SCENARIO,
      history: [],
      request: request(),
      deadline: options.deadline,
      since: Date.now(),
      shutdown: new AbortController().signal,
      cancel: new AbortController().signal,
      onText: options.onText ?? (() => {}),
      onRetry: (reason) => retries.push(reason),
    });
    return { outcome, retries };
  } finally {
    await double.close();
  }
}

Deno.test("generateReply() records the attempts a turn took and why the last failed one failed", async () => {
  const { outcome, retries } = await generate([
    { kind: "status", status: 503 },
    { kind: "invalid_schema" },
  ]);
  assert(outcome.kind === "reply", JSON.stringify(outcome));
  assertEquals(outcome.message.metadata.attempts, 3);
  assertStringIncludes(outcome.message.metadata.last_error ?? "", "invalid reply");
  assertEquals(retries.length, 2);
  assertStringIncludes(retries[0]!, "attempt 1/3 failed");
  assertStringIncludes(retries[0]!, "answered 503");
});

Deno.test("generateReply() records one attempt and no last error for a turn without a retry", async () => {
  const { outcome, retries } = await generate([]);
  assert(outcome.kind === "reply");
  assertEquals(outcome.message.metadata.attempts, 1);
  assertEquals(outcome.message.metadata.last_error, undefined);
  assertEquals(retries, []);
});

Deno.test("generateReply() does not say 'retrying' after the last attempt, and blames a busy or cut server, not the model", async () => {
  const { outcome, retries } = await generate([
    { kind: "status", status: 503 },
    { kind: "status", status: 503 },
    { kind: "cut_connection", afterChunks: 2 },
  ]);
  assertEquals(retries.length, 2, "a retry notice only when another attempt follows");
  assert(retries.every((r) => r.endsWith("; retrying")));
  assert(outcome.kind === "fatal");
  assert(!outcome.reason.includes("retrying"), outcome.reason);
  assertStringIncludes(outcome.reason, "gave no valid reply for turn 1 in 3 attempts");
  assertStringIncludes(outcome.reason, "is busy or unreachable: check it");
  assertStringIncludes(outcome.reason, "raise agents.max_attempts");
  assert(!outcome.reason.includes("another model"), outcome.reason);
});

Deno.test("generateReply() keeps the model advice when the last attempt's output was invalid", async () => {
  const { outcome } = await generate([
    { kind: "status", status: 503 },
    { kind: "status", status: 503 },
    { kind: "invalid_schema" },
  ]);
  assert(outcome.kind === "fatal");
  assertStringIncludes(outcome.reason, "try another model");
  assert(!outcome.reason.includes("busy"), outcome.reason);
});

Deno.test("generateReply() says a turn was cut by the deadline, with how long it waited, when the model hangs", async () => {
  const started = Date.now();
  const { outcome } = await generate([{ kind: "hang" }], { deadline: Date.now() + 800 });
  assert(Date.now() - started < 5000, "bounded by the deadline, not the 300 s request timeout");
  assert(outcome.kind === "cancelled");
  assertStringIncludes(outcome.reason, "turn 1 cut by the deadline after");
  assertStringIncludes(outcome.reason, "no reply from the model yet");
});

Deno.test("a turn publishes at most the live cap across all its attempts, however large each reply", async () => {
  const server = await RedisServer.start();
  const redis = await connectRedis(parseConfig({ redis: { url: server.url } }).redis, {
    name: "test",
  });
  try {
    const live = new LiveBatcher(redis, "c1", { seq: 1, agent: 1 });
    // Three runaway replies, each a message field that never closes (so invalid).
    const runaway = `{"message": "${"word ".repeat(20_000)}`;
    const faults: Fault[] = [1, 2, 3].map(() => ({ kind: "text", content: runaway }));
    const { outcome } = await generate(faults, {
      onText: (text) => live.token(text),
      maxReplyTokens: 1_000_000,
    });
    live.end({ type: "turn_abandoned", seq: 1, agent: 1, reason: "test" });
    assert(outcome.kind === "fatal");
    await redis.ping();
    const events = (await redis.xrange(conversationKeys("c1").live, "-", "+")).map(([, f]) =>
      LiveEvent.parse(JSON.parse(f[1]!))
    );
    const bytes = events.reduce(
      (sum, e) => sum + (e.type === "token" ? new TextEncoder().encode(e.text).length : 0),
      0,
    );
    assert(bytes <= 65_536, `published ${bytes} bytes`);
    assert(bytes > 30_000, "the first attempt was shown");
    assertEquals(events.filter((e) => e.type === "notice").length, 1, "one cap notice per turn");
  } finally {
    await closeRedis(redis);
    await server.stop();
  }
});
