import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage, type MessageMetadata } from "../../lib/model/dialog_message.ts";
import {
  analyzeRun,
  RunAnalysis,
  storyText,
  type Transcript,
} from "../../lib/analysis/run_analysis.ts";
import { round } from "../../lib/analysis/stats.ts";

const T0 = 1_700_000_000_000;

function meta(overrides: Partial<ConversationMeta> = {}): ConversationMeta {
  return ConversationMeta.parse({
    id: "conv-test",
    status: "completed",
    created_at: T0 - 1000,
    started_at: T0,
    ended_at: T0 + 60_000,
    turns: 4,
    max_turns: 8,
    duration_seconds: 120,
    stop_reason: "max_turns",
    models: { manager: "m0", agent1: "llama-a", agent2: "qwen-b" },
    config: {},
    ...overrides,
  });
}

function response(
  seq: number,
  content: string,
  metadata: Partial<MessageMetadata> = {},
): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: T0 + seq * 10_000,
    message_id: `r${seq}`,
    role: "assistant",
    content,
    metadata: {
      conversation_id: "conv-test",
      sequence_number: seq,
      agent_id: seq % 2 === 1 ? 1 : 2,
      ...metadata,
    },
  });
}

function request(seq: number, at: number): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: at,
    message_id: `q${seq}`,
    role: "user",
    content: "go on",
    metadata: { conversation_id: "conv-test", sequence_number: seq },
  });
}

const FULL = (n: number, extra: Partial<MessageMetadata> = {}) => ({
  tokens_generated: 100 * n,
  prompt_tokens: 50,
  tokens_per_second: 10 * n,
  prompt_tokens_per_second: 200,
  generation_time_ms: 1000 * n,
  time_to_first_token_ms: 100 * n,
  load_duration_ms: n === 1 ? 2500 : 5,
  // Ollama's own total, which bus overhead must not use.
  total_duration_ms: 1200 * n,
  wall_time_ms: 1300 * n,
  // The call as the agent timed it: 0.5 ms per unit of n short of the wall time.
  llm_ms: 1299.5 * n,
  done_reason: "stop",
  ...extra,
});

function transcript(): Transcript {
  return {
    meta: meta(),
    responses: [
      response(1, "Shall we cross the river before nightfall?", FULL(1)),
      response(2, "Only if the ferryman agrees to wait for us.", FULL(2)),
      response(
        3,
        "I will pay him double, then.",
        FULL(3, { done_reason: "length" }),
      ),
      response(4, "Fine, but the horses stay behind.", FULL(4)),
    ],
    requests: [],
  };
}

Deno.test("analyzeRun() output satisfies the RunAnalysis schema and is JSON-safe", () => {
  const a = analyzeRun(transcript());
  assert.deepEqual(RunAnalysis.parse(a), a);
  assert.equal(a.schema_version, 1);
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
});

Deno.test("analyzeRun() describes the conversation against its limits", () => {
  const { conversation: c } = analyzeRun(transcript());
  assert.equal(c.id, "conv-test");
  assert.equal(c.stop_reason, "max_turns");
  assert.equal(c.error, null);
  assert.equal(c.turns, 4);
  assert.equal(c.turns_vs_max, 0.5);
  assert.equal(c.duration_ms, 60_000);
  assert.equal(c.duration_vs_limit, 0.5);
  assert.deepEqual(c.models, {
    manager: "m0",
    agent1: "llama-a",
    agent2: "qwen-b",
  });
});

Deno.test("analyzeRun() totals and summarises figures per agent and overall", () => {
  const a = analyzeRun(transcript());
  assert.equal(a.overall.turns, 4);
  assert.equal(a.overall.tokens_generated, 1000);
  assert.equal(a.overall.prompt_tokens, 200);
  assert.equal(a.overall.tokens_per_second.mean, 25);
  assert.equal(a.overall.tokens_per_second.p50, 25);
  assert.equal(a.overall.generation_time_ms_total, 10_000);
  assert.equal(a.overall.cold_starts, 1);
  assert.equal(a.overall.load_duration_ms_total, 2515);
  // wall − llm = 0.5 ms per unit of n: 0.5, 1, 1.5, 2 (not wall − Ollama's total).
  assert.equal(a.overall.bus_overhead_ms.mean, 1.25);
  assert.equal(a.overall.bus_overhead_ms.min, 0.5);
  assert.equal(a.overall.bus_overhead_unknown, 0);
  assert.equal(a.overall.llm_ms.mean, 3248.75);
  assert.equal(a.overall.truncated_replies, 1);
  assert.equal(a.overall.truncated_share, 0.25);
  assert.equal(a.agents["1"].turns, 2);
  assert.equal(a.agents["1"].tokens_generated, 400);
  assert.equal(a.agents["1"].tokens_per_second.mean, 20);
  assert.equal(a.agents["2"].tokens_per_second.mean, 30);
  assert.equal(a.agents["2"].time_to_first_token_ms.max, 400);
  assert.equal(a.agents["1"].words_per_message.mean, 6.5);
});

Deno.test("analyzeRun() keeps one row per turn", () => {
  const a = analyzeRun(transcript());
  const { sentiment, previous_similarity, ...row } = a.per_turn[2]!;
  assert.deepEqual(row, {
    seq: 3,
    agent: 1,
    model: "llama-a",
    tokens: 300,
    prompt_tokens: 50,
    tokens_per_second: 30,
    prompt_tokens_per_second: 200,
    ttft_ms: 300,
    load_ms: 5,
    generation_ms: 3000,
    wall_ms: 3900,
    llm_ms: 3898.5,
    bus_overhead_ms: 1.5,
    // Responses are 10 s apart.
    latency_ms: 10_000,
    words: 6,
    done_reason: "length",
    attempts: null,
    last_error: null,
    self_sentiment: null,
    // No scenario stored, so nothing to compare with.
    setting_similarity: null,
  });
  assert.ok(sentiment >= -1 && sentiment <= 1);
  assert.ok(previous_similarity !== null && previous_similarity >= 0);
  assert.equal(a.per_turn[0]?.previous_similarity, null);
  // Turn 1's latency runs from the start of the run.
  assert.equal(a.per_turn[0]?.latency_ms, 10_000);
});

Deno.test("analyzeRun() leaves unreported zeros out of speed summaries", () => {
  const t = transcript();
  t.responses = [
    response(1, "Hello there.", FULL(1)),
    response(2, "Hi.", { tokens_generated: 3 }),
  ];
  const a = analyzeRun(t);
  assert.equal(a.overall.tokens_per_second.n, 1);
  assert.equal(a.overall.tokens_per_second.mean, 10);
  assert.equal(a.agents["2"].tokens_per_second.n, 0);
  assert.equal(a.agents["2"].tokens_per_second.mean, 0);
  assert.equal(a.per_turn[1]?.bus_overhead_ms, null);
  assert.equal(a.agents["2"].bus_overhead_ms.n, 0);
  assert.equal(a.agents["2"].bus_overhead_unknown, 1);
  RunAnalysis.parse(a);
});

Deno.test("analyzeRun() handles an empty run without NaN", () => {
  const a = analyzeRun({
    meta: meta({
      status: "failed",
      turns: 0,
      started_at: undefined,
      ended_at: undefined,
    }),
    responses: [],
    requests: [],
  });
  RunAnalysis.parse(a);
  assert.equal(a.conversation.duration_ms, null);
  assert.equal(a.conversation.duration_vs_limit, null);
  assert.equal(a.overall.truncated_share, 0);
  assert.deepEqual(a.flags, []);
  assert.ok(!JSON.stringify(a).includes("NaN"));
});

Deno.test("analyzeRun() derives wall time from the request when the response lacks it", () => {
  const t = transcript();
  t.responses = [response(1, "Hello.", { total_duration_ms: 800, llm_ms: 999.25 })];
  t.requests = [request(1, T0 + 9000)];
  const a = analyzeRun(t);
  assert.equal(a.per_turn[0]?.wall_ms, 1000);
  assert.equal(a.per_turn[0]?.bus_overhead_ms, 0.75);
});

Deno.test("analyzeRun() shows a negative bus overhead as measured and flags it", () => {
  const t = transcript();
  t.responses = [
    response(1, "Hi.", { wall_time_ms: 900, llm_ms: 1000.25 }),
    response(2, "Hello.", { wall_time_ms: 900, llm_ms: 899.5 }),
  ];
  const a = analyzeRun(t);
  assert.equal(a.per_turn[0]?.bus_overhead_ms, -100.25);
  assert.equal(a.overall.bus_overhead_ms.n, 2);
  assert.equal(a.overall.bus_overhead_ms.min, -100.25);
  const flag = a.flags.find((f) => f.code === "negative_overhead");
  assert.equal(flag?.from_turn, 1);
  assert.match(flag?.message ?? "", /turn 1: bus overhead -100\.25 ms/);
  RunAnalysis.parse(a);
});

Deno.test("analyzeRun() calls the bus overhead of a run recorded before llm_ms unknown, not 0", () => {
  const t = transcript();
  // An old run: wall time and Ollama's total_duration, no llm_ms.
  t.responses = [1, 2, 3].map((n) =>
    response(n, "Old times.", { wall_time_ms: 1300, total_duration_ms: 1300 })
  );
  const a = analyzeRun(t);
  assert.deepEqual(a.per_turn.map((r) => [r.llm_ms, r.bus_overhead_ms]), [
    [null, null],
    [null, null],
    [null, null],
  ]);
  assert.equal(a.overall.bus_overhead_ms.n, 0);
  assert.equal(a.overall.bus_overhead_unknown, 3);
  assert.equal(a.overall.llm_ms.n, 0);
  assert.equal(a.flags.some((f) => f.code === "negative_overhead"), false);
});

Deno.test("analyzeRun() leaves the time a run was interrupted out of its duration", () => {
  const t = transcript();
  // Interrupted for 20 s, resumed at T0 + 45 s, ended at T0 + 60 s.
  t.meta = meta({ paused_ms: 20_000, resumed_at: T0 + 45_000 });
  const { conversation: c } = analyzeRun(t);
  assert.equal(c.duration_ms, 40_000);
  assert.equal(c.paused_ms, 20_000);
  assert.equal(c.duration_vs_limit, round(40_000 / 120_000, 4));
  assert.equal(analyzeRun(transcript()).conversation.paused_ms, 0);
});

Deno.test("analyzeRun() does not count the interruption in gap-based latency or wall time", () => {
  const t = transcript();
  // Responses 10 s apart; interrupted from T0 + 21 s to T0 + 29 s, between turns 2 and 3.
  t.meta = meta({ paused_ms: 8000, resumed_at: T0 + 29_000 });
  t.responses = [
    response(1, "One.", FULL(1)),
    response(2, "Two.", FULL(2)),
    // Recorded by an agent that did not measure wall time: it comes from the gaps.
    response(3, "Three.", { wall_time_ms: 0 }),
    response(4, "Four.", FULL(4)),
  ];
  t.requests = [request(3, T0 + 20_500)];
  const a = analyzeRun(t);
  assert.deepEqual(a.per_turn.map((r) => r.latency_ms), [10_000, 10_000, 2000, 10_000]);
  assert.equal(a.per_turn[2]?.wall_ms, 9500 - 8000);
  assert.equal(a.per_turn[3]?.wall_ms, 5200, "the agent's own wall time is taken as is");
});

Deno.test("analyzeRun() does not call the time a run was interrupted a stall", () => {
  const t = transcript();
  // 120 s between the last response and the end, 115 s of them interrupted.
  t.meta = meta({
    ended_at: T0 + 40_000 + 120_000,
    stop_reason: "duration",
    paused_ms: 115_000,
    resumed_at: T0 + 40_000 + 117_000,
  });
  assert.equal(analyzeRun(t).flags.some((f) => f.code === "stalled"), false);
});

Deno.test("analyzeRun() flags truncation, errors, one-sidedness and loops with turns", () => {
  const long =
    "I have walked these roads for many years and I know every bend, every ford and every inn between here and the coast";
  const texts = [
    long + " well.",
    "Then lead on.",
    long + " by heart.",
    "Thank you so much!",
    "You're welcome, thank you!",
    "Thank you so much!",
    "You're welcome, thank you!",
    "Thank you so much!",
    "You're welcome, thank you!",
  ];
  const t = transcript();
  t.meta = meta({ turns: 9, max_turns: 20, stop_reason: "loop" });
  t.responses = texts.map((text, i) =>
    response(i + 1, text, {
      done_reason: i === 2 ? "length" : "stop",
      ...(i === 5 ? { error: "model returned invalid JSON" } : {}),
    })
  );
  const a = analyzeRun(t);
  const byCode = new Map(a.flags.map((f) => [f.code, f]));
  assert.equal(byCode.get("truncated")?.from_turn, 3);
  assert.equal(byCode.get("errors")?.from_turn, 6);
  assert.match(byCode.get("errors")?.message ?? "", /invalid JSON/);
  assert.match(
    byCode.get("one_sided")?.message ?? "",
    /Agent 1 spoke \d+% of the words/,
  );
  assert.equal(byCode.get("loop")?.from_turn, 6);
  assert.equal(byCode.has("stalled"), false);
  assert.equal(a.overall.errors, 1);
});

Deno.test("analyzeRun() flags a run that ended after a long silence", () => {
  const t = transcript();
  t.meta = meta({ ended_at: T0 + 40_000 + 120_000, stop_reason: "duration" });
  const a = analyzeRun(t);
  const stalled = a.flags.find((f) => f.code === "stalled");
  assert.equal(stalled?.from_turn, 5);
  assert.match(stalled?.message ?? "", /120 s/);
});

Deno.test("analyzeRun() sorts responses and falls back to parity and configured models", () => {
  const t = transcript();
  t.responses = [
    response(2, "Second.", { agent_id: undefined }),
    response(1, "First.", { agent_id: undefined }),
  ];
  const a = analyzeRun(t);
  assert.deepEqual(a.per_turn.map((r) => [r.seq, r.agent, r.model]), [
    [1, 1, "llama-a"],
    [2, 2, "qwen-b"],
  ]);
});

Deno.test("analyzeRun() does not call a run stalled once its last turn arrived", () => {
  const t = transcript();
  t.meta = meta({ max_turns: 4, ended_at: T0 + 40_000 + 600_000 });
  assert.equal(analyzeRun(t).flags.some((f) => f.code === "stalled"), false);
});

Deno.test("analyzeRun() adds sentiment and topic drift, and takes model measures as extras", () => {
  const scenario = JSON.parse(
    Deno.readTextFileSync(new URL("../fixtures/story.json", import.meta.url)),
  );
  const t = transcript();
  t.meta = meta({ scenario });
  const a = analyzeRun(t);
  assert.equal(a.sentiment.method, "vader");
  assert.equal(a.sentiment.agents["1"].summary.n, 2);
  assert.equal(a.topic_drift.method, "lexical");
  assert.notEqual(a.topic_drift.setting_similarity, null);
  assert.deepEqual(a.conversation.personas, { "1": "Mara", "2": "Ilya" });
  assert.equal(a.persona_judge, null);
  assert.match(storyText(t.meta) ?? "", /lighthouse[\s\S]*Relight the lamp/);

  const embeddings = { model: "emb", setting: [1, 0], turns: [[1, 0], [1, 0], [0, 1], [0, 1]] };
  const verdict = {
    persona: "Mara",
    scores: { speaking_style: 4, personality: 4, goal: 5, background: 3, in_character: 5 },
    mean: 4.2,
    rationale: "Terse.",
    attempts: 1,
    error: null,
  };
  const personaJudge = {
    judged_by: "model" as const,
    model: "judge",
    rubric_version: 1 as const,
    scale: { min: 1 as const, max: 5 as const },
    agents: { "1": verdict, "2": { ...verdict, persona: "Ilya" } },
  };
  const b = RunAnalysis.parse(analyzeRun(t, { embeddings, personaJudge }));
  assert.equal(b.topic_drift.method, "embedding");
  assert.deepEqual(b.per_turn.map((r) => r.setting_similarity), [1, 1, 0, 0]);
  assert.equal(b.persona_judge?.agents["1"].mean, 4.2);
});

Deno.test("analyzeRun() ignores the filler sentiment labels of a run with plain-text replies", () => {
  const t = transcript();
  t.responses = [
    response(1, "I love this wonderful, happy plan!", { sentiment: "neutral" }),
    response(2, "This is terrible, awful and sad.", { sentiment: "neutral" }),
  ];
  assert.equal(analyzeRun(t).sentiment.self_report_agreement, 0);
  t.meta = meta({ config: { agents: { output: "text" } } });
  const a = analyzeRun(t);
  assert.equal(a.sentiment.self_report_agreement, null);
  assert.deepEqual(a.per_turn.map((r) => r.self_sentiment), [null, null]);
});
