/**
 * The `--html` report: one self-contained HTML file with the headline,
 * flags, charts (tokens/s per turn, prompt token growth, sentiment per
 * speaker, turn lengths, topic similarity) as inline SVG, the tables of the
 * text report and the transcript. No script and no external URL; a strict
 * Content-Security-Policy makes sure of it, so it opens offline. All text
 * from models is escaped.
 *
 * @module
 */
import type { RunAnalysis, Transcript } from "../run_analysis.ts";
import { dialogueRows, headlineRows, metricRows, personaRows } from "./analysis_sections.ts";
import { insightRows } from "./insight_rows.ts";
import { absentGroups } from "../input_source.ts";
import { barChart, escapeHtml, lineChart } from "./svg_chart.ts";
import { sanitizeText } from "../../base/sanitize.ts";
import { formatSigned } from "../../view/text_table.ts";

/** Colours of agent 1 and agent 2 in every chart and in the transcript. */
export const AGENT_COLORS = { 1: "#2563eb", 2: "#c2410c" } as const;

/** Ids of the chart elements, for tests and for readers who link to them. */
export const CHART_IDS = [
  "chart-tokens-per-second",
  "chart-prompt-tokens",
  "chart-sentiment",
  "chart-turn-lengths",
  "chart-topic-similarity",
] as const;

/**
 * The policy every report page carries: no script, nothing fetched, inline
 * styles and data-URL images only (the page is one self-contained file).
 */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
const CSP = REPORT_CSP;

/**
 * Renders the report as a complete HTML document.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { analyzeRun } from "../run_analysis.ts";
 * import { formatAnalysisHtml } from "./html_report.ts";
 * const t = {
 *   meta: {
 *     id: "c1", status: "failed" as const, created_at: 0, turns: 0, max_turns: 10,
 *     duration_seconds: 60, models: { manager: "m", agent1: "a", agent2: "b" },
 *     config: {},
 *   },
 *   responses: [],
 *   requests: [],
 * };
 * ok(formatAnalysisHtml(analyzeRun(t), t).startsWith("<!DOCTYPE html>"));
 * ```
 */
export function formatAnalysisHtml(a: RunAnalysis, t: Transcript): string {
  const id = escapeHtml(_clean(a.conversation.id));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="DialogueLLM analyze (schema_version ${a.schema_version})">
<title>Run ${id}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Run ${id} <span class="status ${a.conversation.status}">${a.conversation.status}</span></h1>
${_table("headline", headlineRows(a, _esc), false)}
${_body(a, t)}
<footer>Sentiment: VADER compound score per turn (−1 … +1). Topic similarity: ${
    a.topic_drift.method === "embedding"
      ? `cosine of ${_esc(a.topic_drift.model ?? "")} embeddings`
      : "overlap of content words"
  }. The JSON schema is documented in docs/analysis-schema.md.</footer>
</body>
</html>
`;
}

/** Flags, charts, tables and transcript; for a run with no turn, why there is nothing to analyse. */
function _body(a: RunAnalysis, t: Transcript): string {
  const empty = a.conversation.nothing_to_analyse;
  if (empty !== null) {
    return `<p id="nothing" class="bad"><strong>Nothing to analyse</strong>: ${_esc(empty)}</p>
${_scenario(t)}`;
  }
  return `${_flags(a)}
<h2>Charts</h2>
<div class="charts">
${
    _charts(a).map(([title, svg]) => `<figure><figcaption>${title}</figcaption>${svg}</figure>`)
      .join("\n")
  }
</div>
<h2>Agents</h2>
${_table("agents", metricRows(a, _esc), true)}
<h2>Dialogue</h2>
${_table("dialogue", [["Measure", "Value"], ...dialogueRows(a).map((r) => r.map(_esc))], true)}
<h2>Insight</h2>
${_table("insight", [["Measure", "Value"], ...insightRows(a).map((r) => r.map(_esc))], true)}
${_persona(a)}
${_scenario(t)}
<h2>Transcript</h2>
<section id="transcript">
${_transcript(a, t)}
</section>`;
}

/** Each chart's caption (already escaped, taken from its SVG title) and SVG. */
function _charts(a: RunAnalysis): [string, string][] {
  const per = (k: 1 | 2, value: (r: RunAnalysis["per_turn"][number]) => number | null) => ({
    name: _name(a, k),
    color: AGENT_COLORS[k],
    points: a.per_turn.filter((r) => r.agent === k).map((r) => ({ x: r.seq, y: value(r) })),
  });
  const both = (value: (r: RunAnalysis["per_turn"][number]) => number | null) => [
    per(1, value),
    per(2, value),
  ];
  // A file read with --input may carry no token counts: leave them out rather than say 0.
  const noTokens = absentGroups(a.source).has("generation");
  const charts = [
    lineChart(both((r) => r.tokens_per_second > 0 ? r.tokens_per_second : null), {
      id: "chart-tokens-per-second",
      title: "Output tokens per second, per turn",
      unit: "tok/s",
    }),
    lineChart(both((r) => r.prompt_tokens > 0 ? r.prompt_tokens : null), {
      id: "chart-prompt-tokens",
      title: "Prompt tokens per turn (growth of the context)",
      unit: "prompt tokens",
    }),
    lineChart(both((r) => r.sentiment), {
      id: "chart-sentiment",
      title: "Sentiment per speaker (VADER, −1 … +1)",
      unit: "",
      yMin: -1,
      yMax: 1,
    }),
    barChart(
      a.per_turn.map((r) => ({
        x: r.seq,
        y: r.words,
        color: AGENT_COLORS[r.agent],
        label: `turn ${r.seq}, ${_name(a, r.agent)}: ${r.words} words` +
          (noTokens ? "" : `, ${r.tokens} tokens`),
      })),
      { id: "chart-turn-lengths", title: "Turn lengths (words)", unit: "words" },
    ),
    lineChart([
      {
        name: "to the story",
        color: "#15803d",
        points: a.per_turn.map((r) => ({ x: r.seq, y: r.setting_similarity })),
      },
      {
        name: "to the previous turn",
        color: "#7c3aed",
        points: a.per_turn.map((r) => ({ x: r.seq, y: r.previous_similarity })),
      },
    ], {
      id: "chart-topic-similarity",
      title: `Topic similarity per turn (${a.topic_drift.method}; drift = 1 − similarity)`,
      unit: "",
      yMin: 0,
      yMax: 1,
    }),
  ];
  return charts.map((svg) => [/<title>([^<]*)<\/title>/.exec(svg)?.[1] ?? "", svg]);
}

function _flags(a: RunAnalysis): string {
  if (a.flags.length === 0) return `<p id="flags" class="ok">No flags.</p>`;
  const items = a.flags.map((f) => {
    const at = f.from_turn === undefined
      ? ""
      : ` from <a href="#turn-${f.from_turn}">turn ${f.from_turn}</a>`;
    return `<li class="flag ${f.code}"><strong>${f.code}</strong>${at}: ${_esc(f.message)}</li>`;
  });
  return `<ul id="flags">${items.join("")}</ul>`;
}

function _persona(a: RunAnalysis): string {
  const p = personaRows(a, _esc);
  if (!p) return "";
  const notes = p.notes.map((n) => `<li>${n}</li>`).join("");
  return `<h2>${p.title}</h2>
<p class="note">Scores given by a judge model on a fixed rubric, not measured: read them as an opinion.</p>
${_table("persona", p.rows, true)}${notes ? `<ul class="notes">${notes}</ul>` : ""}`;
}

function _scenario(t: Transcript): string {
  const s = t.meta.scenario;
  if (!s) return "";
  const persona = s.personas.map((p, i) =>
    `<li><strong style="color:${AGENT_COLORS[(i + 1) as 1 | 2]}">${_esc(p.name)}</strong>: ${
      _esc(p.background)
    } <em>Goal:</em> ${_esc(p.goal)}</li>`
  ).join("");
  return `<details id="scenario"><summary>Scenario</summary><p>${_esc(s.story.setting)}</p><p>${
    _esc(s.story.initial_situation)
  }</p><ul>${persona}</ul></details>`;
}

function _transcript(a: RunAnalysis, t: Transcript): string {
  const bySeq = new Map(t.responses.map((r) => [r.metadata.sequence_number, r]));
  const flagged = new Set(a.flags.flatMap((f) => f.from_turn === undefined ? [] : [f.from_turn]));
  return a.per_turn.map((r) => {
    const text = bySeq.get(r.seq)?.content ?? "";
    const figures = [
      `${r.tokens} tokens`,
      r.tokens_per_second > 0 ? `${r.tokens_per_second.toFixed(1)} tok/s` : "",
      r.ttft_ms > 0 ? `ttft ${Math.round(r.ttft_ms)} ms` : "",
      `sentiment ${formatSigned(r.sentiment)}`,
      r.self_sentiment ? `self: ${r.self_sentiment}` : "",
      r.done_reason === "length" ? "cut at the token limit" : "",
    ].filter(Boolean).map(_esc).join(" · ");
    return `<article id="turn-${r.seq}" class="turn agent-${r.agent}${
      flagged.has(r.seq) ? " flagged" : ""
    }"><header><span class="seq">${r.seq}</span> <strong>${_esc(_name(a, r.agent))}</strong> ` +
      `<span class="model">${
        _esc(r.model)
      }</span> <span class="figures">${figures}</span></header>` +
      `<div class="text">${_esc(text)}</div></article>`;
  }).join("\n");
}

function _table(id: string, rows: string[][], header: boolean): string {
  const [head = [], ...body] = header ? rows : [[], ...rows];
  const thead = header
    ? `<thead><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr></thead>`
    : "";
  const tbody = body.map((r) =>
    `<tr>${r.map((c, i) => i === 0 && !header ? `<th>${c}</th>` : `<td>${c}</td>`).join("")}</tr>`
  ).join("");
  return `<table id="table-${id}">${thead}<tbody>${tbody}</tbody></table>`;
}

function _name(a: RunAnalysis, k: 1 | 2): string {
  const persona = a.conversation.personas?.[k];
  return persona ? `${_clean(persona)} (agent ${k})` : `agent ${k}`;
}

/** Model text, control sequences removed (newlines kept), HTML-escaped. */
function _esc(text: string): string {
  return escapeHtml(_clean(text));
}

function _clean(text: string): string {
  return sanitizeText(text, { keepNewlines: true });
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2937}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.2rem .7rem;text-align:left;border-bottom:1px solid #f1f5f9}
#table-agents td:not(:first-child),#table-persona td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}
.status{font-size:.8rem;padding:.1rem .5rem;border-radius:1rem;background:#e5e7eb;vertical-align:middle}
.status.completed{background:#dcfce7}.status.failed{background:#fee2e2}.status.interrupted{background:#fef9c3}
#flags{list-style:none;padding:0}.flag{background:#fff7ed;border-left:4px solid #f97316;padding:.3rem .6rem;margin:.3rem 0}
.ok{color:#15803d}.bad{color:#b91c1c}.note{color:#6b7280;font-size:.9rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1rem}
figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:.5rem}figcaption{font-weight:600;font-size:.9rem}
svg.chart{width:100%;height:auto;display:block;font-size:11px}
svg .grid{stroke:#e5e7eb}svg .zero{stroke:#9ca3af;stroke-dasharray:4 3}svg .tick,svg .axis{fill:#6b7280}
.turn{border-left:4px solid #d1d5db;padding:.3rem .8rem;margin:.6rem 0}
.turn.agent-1{border-color:${AGENT_COLORS[1]}}.turn.agent-2{border-color:${AGENT_COLORS[2]}}
.turn.flagged{background:#fff7ed}.seq{color:#6b7280}.model,.figures{color:#6b7280;font-size:.85rem}
.text{white-space:pre-wrap;margin-top:.2rem}footer{margin-top:2rem;color:#6b7280;font-size:.85rem}`;
