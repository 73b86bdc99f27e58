import assert from "node:assert/strict";
import { ConversationMeta } from "../../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../../lib/model/dialog_message.ts";
import { analyzeRun, type Transcript } from "../../../lib/analysis/run_analysis.ts";
import { CHART_IDS, formatAnalysisHtml } from "../../../lib/analysis/report/html_report.ts";
import { barChart, escapeHtml, lineChart } from "../../../lib/analysis/report/svg_chart.ts";

const SCENARIO = JSON.parse(
  await Deno.readTextFile(new URL("../../fixtures/story.json", import.meta.url)),
);
const TEXTS = [
  "The lamp is out, Ilya. Bring the cable!",
  "What if we rewire it? <script>alert('x')</script> Could it work?",
  "It is risky & untested.\nBut go.",
  "Wonderful! I'll be quick.",
];

function transcript(): Transcript {
  const responses = TEXTS.map((content, i) =>
    DialogMessage.parse({
      queue_timestamp: 1000 * (i + 1),
      message_id: `r${i + 1}`,
      role: "assistant",
      content,
      metadata: {
        conversation_id: "conv-<html>",
        sequence_number: i + 1,
        agent_id: (i % 2) + 1,
        tokens_generated: 20 + i,
        prompt_tokens: 100 + 50 * i,
        tokens_per_second: i === 2 ? 0 : 40 + i,
        time_to_first_token_ms: 80,
        done_reason: i === 3 ? "length" : "stop",
        sentiment: "positive",
      },
    })
  );
  const meta = ConversationMeta.parse({
    id: "conv-<html>",
    status: "completed",
    created_at: 0,
    started_at: 0,
    ended_at: 5000,
    turns: 4,
    max_turns: 4,
    duration_seconds: 60,
    stop_reason: "max_turns",
    models: { manager: "m", agent1: 'llama"3', agent2: "qwen" },
    config: {},
    scenario: SCENARIO,
  });
  return { meta, responses, requests: [] };
}

Deno.test("formatAnalysisHtml() draws every chart as inline SVG with data points", () => {
  const t = transcript();
  const html = formatAnalysisHtml(analyzeRun(t), t);
  for (const id of CHART_IDS) {
    const svg = new RegExp(`<svg id="${id}" class="chart"[^>]*viewBox="0 0 640 240"`).exec(html);
    assert.ok(svg, `chart ${id}`);
  }
  const chart = (id: string) => html.slice(html.indexOf(`<svg id="${id}"`)).split("</svg>")[0]!;
  // Tokens/s: turn 3 was not reported, so agent 1 has one dot, agent 2 two.
  assert.equal(chart("chart-tokens-per-second").match(/class="point"/g)?.length, 3);
  assert.equal(chart("chart-prompt-tokens").match(/class="point"/g)?.length, 4);
  assert.equal(chart("chart-sentiment").match(/class="point"/g)?.length, 4);
  assert.equal(chart("chart-turn-lengths").match(/class="bar"/g)?.length, 4);
  assert.match(chart("chart-sentiment"), /class="zero"/);
  assert.match(html, /<figcaption>Output tokens per second, per turn<\/figcaption>/);
});

Deno.test("formatAnalysisHtml() includes the transcript, tables and flags, all escaped", () => {
  const t = transcript();
  const html = formatAnalysisHtml(analyzeRun(t), t);
  assert.ok(!html.includes("<script"), "no script, and the model's one is escaped");
  assert.ok(html.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  assert.ok(html.includes("It is risky &amp; untested.\nBut go."));
  assert.ok(html.includes("<title>Run conv-&lt;html&gt;</title>"));
  assert.ok(html.includes("llama&quot;3"));
  for (let seq = 1; seq <= 4; seq++) assert.match(html, new RegExp(`<article id="turn-${seq}"`));
  assert.match(html, /<strong>Mara \(agent 1\)<\/strong>/);
  assert.match(html, /cut at the token limit/);
  assert.match(
    html,
    /<li class="flag truncated"><strong>truncated<\/strong> from <a href="#turn-4">/,
  );
  assert.match(html, /<table id="table-agents">/);
  assert.match(html, /<details id="scenario">/);
});

Deno.test("formatAnalysisHtml() is self-contained: no script, no external resource", () => {
  const t = transcript();
  const html = formatAnalysisHtml(analyzeRun(t), t);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
  assert.ok(!/(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html), "no external src or href");
  assert.ok(!/url\(/i.test(html), "no CSS url()");
  assert.ok(!/@import/i.test(html));
});

Deno.test("formatAnalysisHtml() says why a run without turns has nothing to analyse", () => {
  const base = transcript();
  const meta = { ...base.meta, status: "failed" as const, turns: 0, stop_reason: "error" as const };
  const t = { ...base, meta: { ...meta, error: "model <tiny> not found" }, responses: [] };
  const html = formatAnalysisHtml(analyzeRun(t), t);
  assert.match(
    html,
    /<p id="nothing" class="bad"><strong>Nothing to analyse<\/strong>: the run failed before its first turn: model &lt;tiny&gt; not found<\/p>/,
  );
  for (const id of CHART_IDS) assert.ok(!html.includes(`<svg id="${id}"`));
  assert.ok(!html.includes("No flags."));
  assert.ok(!html.includes("NaN"));
});

Deno.test("lineChart() breaks lines at missing values; barChart() and escapeHtml() behave", () => {
  const svg = lineChart([{
    name: "a <b>",
    color: "#000",
    points: [{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: null }, { x: 4, y: 3 }, { x: 5, y: 4 }],
  }], { id: "c", title: "T", unit: "u" });
  assert.equal(svg.match(/<polyline/g)?.length, 2);
  assert.ok(svg.includes("a &lt;b&gt;"));
  assert.ok(!svg.includes("NaN"));
  const bars = barChart([{ x: 1, y: -2, color: "#000", label: "neg" }], {
    id: "b",
    title: "B",
    unit: "",
  });
  assert.match(bars, /<rect class="bar"[^>]*height="\d/);
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});
