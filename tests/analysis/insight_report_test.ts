import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { analyzeRun, RunAnalysis, type Transcript } from "../../lib/analysis/run_analysis.ts";
import {
  formatAnalysisMarkdown,
  formatAnalysisText,
} from "../../lib/analysis/report/analysis_report.ts";
import { formatAnalysisHtml } from "../../lib/analysis/report/html_report.ts";

const ECHOING = [
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "So the lamp flickered twice last night, and you logged the storm at force nine.",
  "The brass fittings are corroded and the spare wick is nearly gone.",
  "Right, the brass fittings are corroded and the spare wick is nearly gone.",
];

function transcript(texts: string[]): Transcript {
  return {
    meta: ConversationMeta.parse({
      id: "insight-1",
      status: "completed",
      created_at: 0,
      turns: texts.length,
      max_turns: 10,
      duration_seconds: 60,
      models: { manager: "m", agent1: "a", agent2: "b" },
      config: {},
    }),
    responses: texts.map((content, i) =>
      DialogMessage.parse({
        queue_timestamp: 1000 + i,
        message_id: `r${i + 1}`,
        role: "assistant",
        content,
        metadata: { conversation_id: "insight-1", sequence_number: i + 1 },
      })
    ),
    requests: [],
  };
}

Deno.test("analyzeRun() reports insight and flags an echoing run from the turn it starts", () => {
  const t = transcript(ECHOING);
  const a = RunAnalysis.parse(analyzeRun(t));
  assert.equal(a.insight.echo.detected, true);
  const flag = a.flags.find((f) => f.code === "echo");
  assert.equal(flag?.from_turn, 2);
  // No stored scenario: no persona to compare with, shown as absent.
  assert.equal(a.insight.persona_break, null);
  for (
    const report of [formatAnalysisText(a), formatAnalysisMarkdown(a), formatAnalysisHtml(a, t)]
  ) {
    assert.match(report, /Insight/);
    assert.match(report, /echo/);
    assert.match(report, /coordination/);
  }
});

Deno.test("analyzeRun() raises no insight flag on a varied run", () => {
  const a = analyzeRun(transcript([
    "The lamp flickered twice last night; I logged the storm at force nine.",
    "Fascinating! Does the salt spray affect the lichen colonies on the north cliff?",
    "Salt eats everything here. Brass, rope, my patience.",
    "But the ferry leaves Thursday and my supervisor expects a specimen.",
  ]));
  assert.deepEqual(
    a.flags.filter((f) => ["echo", "persona_break", "collapse"].includes(f.code)),
    [],
  );
});
