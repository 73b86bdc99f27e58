import { assert, assertEquals } from "../helpers/assert.ts";
import { parseReply, replyMessage, weakerSource } from "../../lib/agent/agent_reply.ts";
import { type DialogMessage, MessageMetadata } from "../../lib/model/dialog_message.ts";
import { type ChatResult, emptyMetrics } from "../../lib/llm/llm_backend.ts";

const request: DialogMessage = {
  queue_timestamp: 1_000,
  message_id: "req-7",
  role: "user",
  content: "Your turn.",
  metadata: MessageMetadata.parse({ conversation_id: "c1", sequence_number: 7, agent_id: 1 }),
};

function result(overrides: Partial<ChatResult> = {}): ChatResult {
  return {
    content: '{"message":"Hello.","sentiment":"positive","references":[]}',
    doneReason: "stop",
    metrics: {
      ...emptyMetrics(),
      generatedTokens: 50,
      generationMs: 2_000,
      promptTokens: 120,
      promptMs: 400,
      loadMs: 1.5,
      totalMs: 2_600,
      sources: { promptTokens: "reported", generatedTokens: "reported", timings: "reported" },
    },
    timeToFirstTokenMs: 450,
    wallMs: 2_650,
    ...overrides,
  };
}

Deno.test("replyMessage() turns the backend's figures into rates and records where they came from", () => {
  const reply = { message: "Hello.", sentiment: "positive" as const, references: ["the lamp"] };
  const message = replyMessage(request, {
    agent: 1,
    model: "tiny",
    backend: "ollama",
    result: result(),
    reply,
    now: 4_000,
  });
  const md = message.metadata;
  assertEquals(md.sequence_number, 7);
  assertEquals(md.request_id, "req-7");
  assertEquals(md.tokens_generated, 50);
  assertEquals(md.tokens_per_second, 25); // 50 tokens in 2 s
  assertEquals(md.prompt_tokens, 120);
  assertEquals(md.prompt_tokens_per_second, 300); // 120 in 0.4 s
  assertEquals(md.load_duration_ms, 1.5);
  assertEquals(md.total_duration_ms, 2_600);
  assertEquals(md.prompt_eval_duration_ms, 400);
  assertEquals(md.generation_time_ms, 2_650);
  assertEquals(md.time_to_first_token_ms, 450);
  assertEquals(md.wall_time_ms, 3_000); // enqueued at 1,000, answered at 4,000
  assertEquals(md.references, ["the lamp"]);
  assertEquals(md.backend, "ollama");
  assertEquals(md.token_source, "reported");
  assertEquals(md.timing_source, "reported");
  assertEquals(message.content, "Hello.");
});

Deno.test("replyMessage() records 0 tokens/s when the backend omitted the durations", () => {
  const message = replyMessage(request, {
    agent: 2,
    model: "tiny",
    result: result({ metrics: { ...emptyMetrics(), generatedTokens: 12 } }),
    reply: { message: "Hi.", sentiment: "neutral", references: [] },
  });
  assertEquals(message.metadata.tokens_per_second, 0);
  assertEquals(message.metadata.prompt_tokens_per_second, 0);
  assert(Number.isFinite(message.metadata.total_duration_ms));
});

Deno.test("parseReply() in text mode trims, bounds and rejects an empty reply", () => {
  const long = parseReply(result({ content: `  ${"x".repeat(40_000)}  ` }), false);
  assert(long.ok && long.content.message.length === 32_000);
  const empty = parseReply(result({ content: "   \n" }), false);
  assertEquals(empty, { ok: false, problem: "empty reply" });
});

Deno.test("parseReply() in json mode rejects a reply cut at the length limit, even if it parses", () => {
  const cut = parseReply(result({ doneReason: "length" }), true);
  assertEquals(cut.ok, false);
  const whole = parseReply(result(), true);
  assert(whole.ok && whole.content.sentiment === "positive");
});

Deno.test("replyMessage() labels the token figures with the weaker of their two sources", () => {
  const metrics = {
    ...emptyMetrics(),
    generatedTokens: 9,
    promptTokens: 30,
    sources: { promptTokens: "estimated", generatedTokens: "counted", timings: "timed" } as const,
  };
  const message = replyMessage(request, {
    agent: 1,
    model: "tiny",
    backend: "openai",
    result: result({ metrics }),
    reply: { message: "Hi.", sentiment: "neutral", references: [] },
  });
  assertEquals(message.metadata.token_source, "estimated");
  assertEquals(message.metadata.timing_source, "timed");
  assertEquals(weakerSource("reported", "counted"), "counted");
  assertEquals(weakerSource("absent", "reported"), "absent");
});
