import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { analyzeRun } from "../../lib/analysis/run_analysis.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { redactConfig } from "../../lib/config/redaction.ts";
import {
  compareRuns,
  formatComparisonMarkdown,
  formatComparisonText,
  RunComparison,
} from "../../lib/analysis/run_comparison.ts";

function run(
  id: string,
  texts: string[],
  models: [string, string],
  stop = "max_turns",
  config: Record<string, unknown> = {},
) {
  const responses = texts.map((content, i) =>
    DialogMessage.parse({
      queue_timestamp: 1000 * (i + 1),
      message_id: `${id}-${i}`,
      role: "assistant",
      content,
      metadata: {
        conversation_id: id,
        sequence_number: i + 1,
        agent_id: (i % 2) + 1,
        tokens_per_second: 40 + 10 * (i % 2),
      },
    })
  );
  const meta = ConversationMeta.parse({
    id,
    status: "completed",
    created_at: 0,
    started_at: 0,
    ended_at: 1000 * (texts.length + 1),
    turns: texts.length,
    max_turns: 20,
    duration_seconds: 300,
    stop_reason: stop,
    models: { manager: "m", agent1: models[0], agent2: models[1] },
    config,
  });
  return analyzeRun({ meta, responses, requests: [] });
}

const VARIED = run("run-varied", [
  "Shall we take the northern pass before the snow?",
  "Only if the mules are rested and the ropes are new.",
  "I bought rope yesterday from the smith in town.",
  "Then we leave at dawn, after breakfast at the inn.",
], ["llama3.2", "qwen2.5"]);
const THANKS = ["Thank you so much!", "You're welcome, thank you!"];
const LOOPING = run(
  "run-loop",
  [
    "Shall we go?",
    "Yes, let us go now.",
    ...THANKS,
    ...THANKS,
    ...THANKS,
  ],
  ["tiny", "tiny"],
  "loop",
);

Deno.test("compareRuns() gives one row per run with the headline figures", () => {
  const c = RunComparison.parse(compareRuns([VARIED, LOOPING]));
  assert.deepEqual(c.runs.map((r) => r.id), ["run-varied", "run-loop"]);
  const [varied, looping] = c.runs;
  assert.deepEqual(varied!.models, { agent1: "llama3.2", agent2: "qwen2.5" });
  assert.equal(varied!.tokens_per_second, 45);
  assert.equal(varied!.loop_from_turn, null);
  assert.equal(varied!.duration_ms, 5000);
  assert.equal(looping!.stop_reason, "loop");
  assert.equal(looping!.loop_from_turn, 5);
  assert.ok(looping!.flags.includes("loop"));
  assert.ok(looping!.repetition_rate >= 0 && looping!.distinct_2 < varied!.distinct_2);
});

Deno.test("formatComparisonText() prints one aligned table across runs", () => {
  const text = formatComparisonText(compareRuns([VARIED, LOOPING]));
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.match(
    lines[0]!,
    /^ID +MODELS +TURNS +STOP +TOK\/S +DISTINCT-2 +REPETITION +LOOP +BALANCE +DURATION +FLAGS +TEMP +SEED +CTX$/,
  );
  assert.match(
    lines[1]!,
    /^run-varied +llama3\.2 \/ qwen2\.5 +4\/20 +max_turns +45\.0 .* no .*5\.0 s +– +– +– +–$/,
  );
  assert.match(lines[2]!, /^run-loop +tiny +8\/20 +loop .* turn 5 .*loop/);
  // Columns line up: every row starts its MODELS cell at the same place.
  const at = lines[0]!.indexOf("MODELS");
  assert.ok(lines.slice(1).every((l) => l[at - 1] === " " && l[at] !== " "));
  assert.equal(formatComparisonText(compareRuns([])), "No runs to compare.\n");
});

Deno.test("formatComparisonMarkdown() renders the same table in Markdown, escaped", () => {
  const odd = run("run|odd", ["Hi.", "Hello."], ["a*b", "c"]);
  const md = formatComparisonMarkdown(compareRuns([VARIED, odd]));
  assert.match(md, /^# Run comparison\n\n\| ID +\| MODELS/);
  assert.match(md, /\| run\\\|odd +\| a\\\*b \/ c +\|/);
  assert.match(md, /\| :-+ \| :-+ \| -+: \|/);
});

Deno.test("a comparison carries each run's generation settings from its stored config", () => {
  const config = redactConfig(parseConfig({
    redis: { password: "s3cret" },
    ollama: { host: "http://user:pw@gpu:11434" },
    generation: { temperature: 0.7, seed: 42, num_ctx: 8192 },
    agents: { agent2: { temperature: 0.3 } },
    manager: { topic: "a lighthouse" },
  })) as Record<string, unknown>;
  const tuned = run("run-tuned", ["Hi.", "Hello."], ["a", "b"], "max_turns", config);
  const c = RunComparison.parse(compareRuns([tuned, VARIED]));
  const s = c.runs[0]!.settings;
  assert.equal(s.temperature, 0.7);
  assert.equal(s.seed, 42);
  assert.equal(s.num_ctx, 8192);
  assert.equal(s.topic, "a lighthouse");
  assert.deepEqual(s.agents["2"], {
    model: "b",
    backend: "ollama",
    temperature: 0.3,
    host: "http://user:***@gpu:11434",
  });
  assert.equal(c.runs[1]!.settings.seed, null);
  assert.ok(!JSON.stringify(c).includes("s3cret") && !JSON.stringify(c).includes(":pw@"));
  const [, row] = formatComparisonText(c).split("\n");
  assert.match(row!, / 0\.7\/0\.3 +42 +8192$/);
});
