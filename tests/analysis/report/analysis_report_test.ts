import assert from "node:assert/strict";
import {
  formatAnalysisMarkdown,
  formatAnalysisText,
} from "../../../lib/analysis/report/analysis_report.ts";
import { ConversationMeta } from "../../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../../lib/model/dialog_message.ts";
import { parseConfig } from "../../../lib/config/config.ts";
import { redactConfig } from "../../../lib/config/redaction.ts";
import { analyzeRun, type RunAnalysis } from "../../../lib/analysis/run_analysis.ts";

const T0 = 1_700_000_000_000;
const TEXTS = [
  "Good morning! Did you bring the maps?",
  "I did, but the river is flooded.",
  "Then we ask the ferryman?",
  "He charges too much.",
  "Thank you so much!",
  "You're welcome, thank you!",
  "Thank you so much!",
  "You're welcome, thank you!",
  "Thank you so much!",
  "You're welcome, thank you!",
];

function analysis(): RunAnalysis {
  const responses = TEXTS.map((content, i) =>
    DialogMessage.parse({
      queue_timestamp: T0 + (i + 1) * 5000,
      message_id: `r${i + 1}`,
      role: "assistant",
      content,
      metadata: {
        conversation_id: "conv-42",
        sequence_number: i + 1,
        agent_id: (i % 2) + 1,
        tokens_generated: 100 * (i + 1),
        prompt_tokens: 400,
        tokens_per_second: i === 4 ? 0 : 30 + (i % 3) * 10,
        generation_time_ms: 900,
        time_to_first_token_ms: 150,
        load_duration_ms: i < 2 ? 3000 : 10,
        total_duration_ms: 1100,
        wall_time_ms: 1180,
        // The first turn was recorded before the agent measured its LLM call.
        llm_ms: i === 0 ? 0 : 1179.1875,
        done_reason: i === 3 ? "length" : "stop",
      },
    })
  );
  const meta = ConversationMeta.parse({
    id: "conv-42",
    status: "completed",
    created_at: T0,
    started_at: T0,
    ended_at: T0 + 50_000,
    turns: 10,
    max_turns: 40,
    duration_seconds: 300,
    stop_reason: "loop",
    models: { manager: "m0", agent1: "llama3.2:3b", agent2: "qwen2.5:7b" },
    config: {},
  });
  return analyzeRun({ meta, responses, requests: [] });
}

/** The lines of the per-agent table, header first. */
function tableLines(text: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith("Metric"));
  const end = lines.indexOf("", start);
  return lines.slice(start, end);
}

Deno.test("formatAnalysisText() shows the headline figures", () => {
  const text = formatAnalysisText(analysis());
  assert.match(text, /^Run conv-42 {2}completed {2}\(stop: loop\)\n/);
  assert.match(text, /Turns {5}10\/40 \(25%\)/);
  assert.match(text, /Duration {2}50\.0 s of 5m 00s limit \(17%\)/);
  assert.match(text, /agent 1 llama3\.2:3b · agent 2 qwen2\.5:7b · manager m0/);
});

Deno.test("formatAnalysisText() says how long the run was interrupted and leaves it out of its duration", () => {
  const a = analysis();
  a.conversation.paused_ms = 20_000;
  a.conversation.duration_ms = 30_000;
  a.conversation.duration_vs_limit = 0.1;
  assert.match(
    formatAnalysisText(a),
    /Duration {2}30\.0 s of 5m 00s limit \(10%; interrupted 20\.0 s, not counted\)/,
  );
  assert.doesNotMatch(formatAnalysisText(analysis()), /interrupted/);
});

Deno.test("formatAnalysisText() shows a bus overhead nobody measured as unknown, not 0", () => {
  const a = analysis();
  for (const s of [a.overall, a.agents["1"], a.agents["2"]]) {
    s.bus_overhead_ms = { n: 0, mean: 0, p50: 0, p95: 0, min: 0, max: 0, stdev: 0 };
    s.bus_overhead_unknown = s.turns;
  }
  const line = tableLines(formatAnalysisText(a)).find((l) => l.startsWith("bus overhead ms p50"));
  assert.match(line ?? "", /^bus overhead ms p50 +unknown +unknown +unknown$/);
});

Deno.test("formatAnalysisText() aligns the per-agent table's columns", () => {
  const lines = tableLines(formatAnalysisText(analysis()));
  assert.equal(lines.length, 25);
  const [header = ""] = lines;
  assert.match(header, /^Metric +Agent 1 +Agent 2 +Overall$/);
  // Right-aligned figures: every row is as wide as the header, and each
  // column ends where its heading ends.
  for (const line of lines) assert.equal(line.length, header.length, line);
  const ends = ["Agent 1", "Agent 2", "Overall"].map((h) => header.indexOf(h) + h.length);
  const tokens = lines.find((l) => l.startsWith("tokens ")) ?? "";
  assert.deepEqual(
    ["2,500", "3,000", "5,500"].map((v) => tokens.indexOf(v) + v.length),
    ends,
  );
  const truncated = lines.find((l) => l.startsWith("truncated")) ?? "";
  assert.equal(truncated.indexOf("1 (20%)") + 7, ends[1]);
  assert.ok(truncated.endsWith("1 (10%)"));
});

Deno.test("formatAnalysisText() reports speed, latency and dialogue figures", () => {
  const text = formatAnalysisText(analysis());
  const row = (label: string) =>
    tableLines(text).find((l) => l.startsWith(label + " "))?.trim()
      .split(/ {2,}/);
  assert.deepEqual(row("tok/s mean"), ["tok/s mean", "40.0", "38.0", "38.9"]);
  assert.deepEqual(row("ttft ms p50"), ["ttft ms p50", "150", "150", "150"]);
  // Wall time minus the agent's LLM call, to the microsecond; turn 1's is unknown.
  assert.deepEqual(row("bus overhead ms p50"), [
    "bus overhead ms p50",
    "0.813 (1 unknown)",
    "0.813",
    "0.813 (1 unknown)",
  ]);
  assert.deepEqual(row("LLM call ms p50"), ["LLM call ms p50", "1179.2", "1179.2", "1179.2"]);
  assert.deepEqual(row("cold starts"), ["cold starts", "1", "1", "2"]);
  assert.match(text, /word balance +0\.98 \(agent 1 51% · agent 2 49%\)/);
  assert.match(text, /distinct-1 +0\.51 /);
  assert.match(text, /repetition rate +0% of 3 eligible turns/);
  assert.match(text, /question rate +20% \(agent 1 40% · agent 2 0%\)/);
  assert.match(text, /loop +from turn 7/);
});

Deno.test("formatAnalysisText() draws a tokens/s sparkline with unreported turns marked", () => {
  const text = formatAnalysisText(analysis());
  assert.match(
    text,
    /tok\/s per turn {2}\(min 30\.0, max 50\.0; · = not reported\)/,
  );
  assert.match(text, /\n {3}turn 1 {2}▁▅█▁·█▁▅█▁\n/);
  // Long runs wrap every 50 turns, each line labelled with its first turn.
  const a = analysis();
  const row = a.per_turn[0];
  assert.ok(row);
  a.per_turn = Array.from({ length: 120 }, (_, i) => ({ ...row, seq: i + 1 }));
  const lines = formatAnalysisText(a).split("\n").filter((l) => l.includes("▄"));
  assert.deepEqual(lines, [
    `    turn 1  ${"▄".repeat(50)}`,
    `   turn 51  ${"▄".repeat(50)}`,
    `  turn 101  ${"▄".repeat(20)}`,
  ]);
});

Deno.test("each dialogue figure explains itself: no labels, off-topic turns that are not a flag", () => {
  const a = analysis();
  a.sentiment.self_report_agreement = null;
  a.topic_drift.off_topic_turns = [3, 5, 7];
  a.topic_drift.drift_from_turn = null;
  const text = formatAnalysisText(a);
  assert.match(text, /\n {2}sentiment .*; no self-reported labels\n/);
  assert.ok(!text.includes("agree 0%"));
  assert.match(
    text,
    /\n {2}off-topic turns +3, 5, 7 \(not flagged: drift takes 3 off-topic turns in a row\)\n/,
  );
});

Deno.test("formatAnalysisText() lists flags with their turn numbers", () => {
  const text = formatAnalysisText(analysis());
  assert.match(text, /! loop from turn 7: Agents are repeating each other/);
  assert.match(
    text,
    /! truncated from turn 4: 1 reply was cut at the token limit \(turn 4\)/,
  );
});

Deno.test("formatAnalysisText() says so when there is nothing to flag or measure", () => {
  const a = analysis();
  a.flags = [];
  a.per_turn = a.per_turn.map((r) => ({ ...r, tokens_per_second: 0 }));
  a.agents["2"].tokens_per_second.n = 0;
  const text = formatAnalysisText(a);
  assert.match(text, /\nFlags {2}none\n$/);
  assert.match(text, /tok\/s per turn {2}\(not reported\)/);
  const row = tableLines(text).find((l) => l.startsWith("tok/s mean")) ?? "";
  assert.deepEqual(row.trim().split(/ {2,}/), [
    "tok/s mean",
    "40.0",
    "–",
    "38.9",
  ]);
});

Deno.test("the text and Markdown reports and the JSON carry the run's generation settings", () => {
  const a = analyzeRun({
    meta: ConversationMeta.parse({
      id: "c7",
      status: "completed",
      created_at: 0,
      turns: 0,
      max_turns: 10,
      duration_seconds: 60,
      models: { manager: "m", agent1: "a", agent2: "b" },
      config: redactConfig(parseConfig({
        ollama: { host: "http://gpu:11434", headers: { Authorization: "Bearer tok" } },
        generation: { temperature: 0.5, seed: 9 },
        manager: { topic: "a storm" },
      })) as Record<string, unknown>,
    }),
    responses: [],
    requests: [],
  });
  assert.equal(a.settings.seed, 9);
  assert.equal(a.settings.num_ctx, 4096);
  const text = formatAnalysisText(a);
  assert.match(
    text,
    /\n {2}Settings {2}temperature 0\.5 · seed 9 · num_ctx 4096 · max reply 400 tokens · output json · history 40 messages\/24000 chars\n {2}Topic {5}a storm\n {2}Backend {3}Ollama http:\/\/gpu:11434 · keep_alive 5m\n {2}Versions {2}not recorded with the run\n/,
  );
  assert.match(formatAnalysisMarkdown(a), /\| Settings +\| temperature 0\.5 · seed 9 /);
  assert.ok(!JSON.stringify(a).includes("Bearer"));
});

Deno.test("a run without turns reports only why there is nothing to analyse", () => {
  const a = analyzeRun({
    meta: ConversationMeta.parse({
      id: "c0",
      status: "failed",
      created_at: 0,
      turns: 0,
      max_turns: 10,
      duration_seconds: 60,
      stop_reason: "error",
      error: "Ollama at http://127.0.0.1:9 is unreachable",
      models: { manager: "m", agent1: "a", agent2: "b" },
      config: {},
    }),
    responses: [],
    requests: [],
  });
  const why = "the run failed before its first turn: Ollama at http://127.0.0.1:9 is unreachable";
  assert.equal(a.conversation.nothing_to_analyse, why);
  const text = formatAnalysisText(a);
  assert.ok(text.endsWith(`\nNothing to analyse: ${why}\n`), text);
  assert.ok(text.split("\n").length < 16, text);
  assert.ok(!/-{10}|Flags/.test(text), text);
  const md = formatAnalysisMarkdown(a);
  assert.ok(md.endsWith(`\n**Nothing to analyse**: ${why}\n`), md);
  assert.ok(!md.includes("## Flags"));
  // A run with turns has nothing to explain.
  assert.equal(analysis().conversation.nothing_to_analyse, null);
});

Deno.test("formatAnalysisText() strips escape sequences from model-supplied text", () => {
  const a = analysis();
  a.conversation.error = "bad \x1b]0;pwned\x07reply\x1b[2J";
  a.flags[0] = {
    code: "errors",
    message: "turn 3: \x1b[31mboom",
    from_turn: 3,
  };
  const text = formatAnalysisText(a);
  assert.ok(!text.includes("\x1b"));
  assert.match(text, /Error {5}bad reply/);
  assert.match(text, /! errors from turn 3: turn 3: boom/);
});

Deno.test("formatAnalysisText() colours only when asked and able", () => {
  const a = analysis();
  const plain = formatAnalysisText(a);
  assert.ok(!plain.includes("\x1b["));
  const coloured = formatAnalysisText(a, { color: true });
  // Without env permission picocolors is not loaded and output stays plain.
  // deno-lint-ignore no-control-regex
  assert.equal(coloured.replace(/\x1b\[[0-9;]*m/g, ""), plain);
  const envReadable = ["NO_COLOR", "FORCE_COLOR", "TERM", "CI"].every((
    variable,
  ) => Deno.permissions.querySync({ name: "env", variable }).state === "granted");
  assert.equal(coloured.includes("\x1b["), envReadable);
});

Deno.test("formatAnalysisMarkdown() renders aligned Markdown tables", () => {
  const md = formatAnalysisMarkdown(analysis());
  assert.match(md, /^# Run conv-42\n/);
  assert.match(md, /\| Turns +\| 10\/40 \(25%\) +\|/);
  const lines = md.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| Metric"));
  const table = lines.slice(start, lines.indexOf("", start));
  assert.equal(table.length, 26);
  assert.match(table[1] ?? "", /^\| :-+ \| -+: \| -+: \| -+: \|$/);
  for (const line of table) assert.equal(line.length, table[0]?.length);
  assert.match(md, /\| tokens +\| +2,500 \| +3,000 \| +5,500 \|/);
  assert.match(md, /Tokens\/s per turn: `▁▅█▁·█▁▅█▁`/);
  assert.match(md, /\| loop +\| from turn 7 +\|/);
  assert.match(md, /- \*\*loop\*\* \(from turn 7\): Agents are repeating/);
});

Deno.test("formatAnalysisMarkdown() escapes Markdown in model-supplied text", () => {
  const a = analysis();
  a.conversation.models.agent1 = "evil|model_*x*";
  const md = formatAnalysisMarkdown(a);
  assert.ok(md.includes("evil\\|model\\_\\*x\\*"));
  const flagless = { ...a, flags: [] };
  assert.match(formatAnalysisMarkdown(flagless), /## Flags\n\nNone\.\n$/);
});

Deno.test("formatAnalysisText() draws a sentiment sparkline per speaker on a fixed −1..+1 scale", () => {
  const a = analysis();
  a.per_turn = a.per_turn.map((r, i) => ({ ...r, sentiment: i % 2 === 0 ? -1 : 1 }));
  const text = formatAnalysisText(a);
  assert.match(text, /sentiment per turn {2}\(VADER, ▁ −1 … █ \+1/);
  assert.match(text, /\n {2}agent 1 {2}▁▁▁▁▁\n {2}agent 2 {2}█████\n/);
  assert.match(text, /sentiment +agent 1 [+-]?\d\.\d\d \(trend [+-]?\d\.\d{3}\/turn\) · agent 2/);
});

Deno.test("formatAnalysisText() reports staleness and topic similarity", () => {
  const text = formatAnalysisText(analysis());
  assert.match(text, /stale +none/);
  assert.match(text, /story similarity +– \[word overlap\]/);
  assert.match(text, /previous-turn similarity +\d\.\d\d \(agent 1/);
  assert.match(text, /off-topic turns +none/);
});

Deno.test("both reports label persona scores as model-judged and escape the rationale", () => {
  const a = analysis();
  const scores = { speaking_style: 4, personality: 3, goal: 5, background: 4, in_character: 2 };
  a.persona_judge = {
    judged_by: "model",
    model: "judge-7b",
    rubric_version: 1,
    scale: { min: 1, max: 5 },
    agents: {
      "1": {
        persona: "Mara",
        scores,
        mean: 3.6,
        rationale: "Breaks character at turn 5 \x1b[31m*twice*",
        attempts: 1,
        error: null,
      },
      "2": {
        persona: "Ilya",
        scores: null,
        mean: null,
        rationale: null,
        attempts: 3,
        error: "no valid verdict in 3 attempts",
      },
    },
  };
  const text = formatAnalysisText(a);
  assert.match(text, /Persona consistency \(model-judged by judge-7b, 1-5\)/);
  assert.match(text, /in_character +2 +–/);
  assert.match(text, /mean +3\.60 +–/);
  assert.match(text, /agent 1: Breaks character at turn 5 \*twice\*/);
  assert.match(text, /agent 2: no valid verdict in 3 attempts/);
  assert.ok(!text.includes("\x1b"));
  assert.ok(text.indexOf("Persona consistency") < text.indexOf("Flags"));
  const md = formatAnalysisMarkdown(a);
  assert.match(md, /## Persona consistency \(model-judged by judge-7b, 1-5\)/);
  assert.match(md, /- agent 1: Breaks character at turn 5 \\\*twice\\\*/);
  assert.ok(!formatAnalysisText(analysis()).includes("Persona consistency"));
});

Deno.test("formatAnalysisText() says where the token counts came from, per agent", () => {
  const a = analysis();
  a.agents["1"].token_sources = { reported: 0, counted: 5, estimated: 0, absent: 0 };
  a.agents["2"].token_sources = { reported: 3, counted: 0, estimated: 2, absent: 0 };
  const line = tableLines(formatAnalysisText(a)).find((l) => l.startsWith("token counts"));
  assert.match(line ?? "", /^token counts +counted +reported 3, estimated 2 /);
});
