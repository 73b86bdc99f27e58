import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { analyzeRun } from "../../lib/analysis/run_analysis.ts";
import {
  compareRuns,
  formatComparisonMarkdown,
  formatComparisonText,
  RunComparison,
} from "../../lib/analysis/run_comparison.ts";

function run(id: string, texts: string[], models: [string, string], stop = "max_turns") {
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
    config: {},
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
    /^ID +MODELS +TURNS +STOP +TOK\/S +DISTINCT-2 +REPETITION +LOOP +BALANCE +DURATION +FLAGS$/,
  );
  assert.match(
    lines[1]!,
    /^run-varied +llama3\.2 \/ qwen2\.5 +4\/20 +max_turns +45\.0 .* no .*5\.0 s +–$/,
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
