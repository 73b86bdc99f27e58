/**
 * The rows of an analysis report, shared by the terminal, Markdown and HTML
 * formats so they always say the same thing. Each function takes an
 * `esc` that makes model-supplied text safe for the target format.
 *
 * @module
 */
import type { AgentStats, RunAnalysis } from "../run_analysis.ts";
import { PERSONA_RUBRIC } from "../persona_judge.ts";
import { DRIFT_RUN } from "../topic_drift.ts";
import { absentGroups } from "../input_source.ts";
import { sparkline } from "../../view/sparkline.ts";
import type { Summary } from "../stats.ts";
import { DASH, formatInt, formatMs, formatPercent, formatSigned } from "../../view/text_table.ts";

/** Sparklines wrap after this many turns. */
export const SPARK_WIDTH = 50;

type _Esc = (text: string) => string;
type _Cell = (s: AgentStats) => string;

/** Rows of the per-agent table. */
const METRICS: [string, _Cell][] = [
  ["turns", (s) => formatInt(s.turns)],
  ["tokens", (s) => formatInt(s.tokens_generated)],
  ["tokens/msg mean", (s) => _fig(s.tokens_per_message, "mean", 1)],
  ["prompt tokens", (s) => formatInt(s.prompt_tokens)],
  ["prompt growth/turn", (s) => s.prompt_tokens_growth_per_turn.toFixed(1)],
  ["tok/s mean", (s) => _fig(s.tokens_per_second, "mean", 1)],
  ["tok/s p50", (s) => _fig(s.tokens_per_second, "p50", 1)],
  ["tok/s p95", (s) => _fig(s.tokens_per_second, "p95", 1)],
  ["prompt tok/s p50", (s) => _fig(s.prompt_tokens_per_second, "p50", 0)],
  ["gen ms mean", (s) => _fig(s.generation_time_ms, "mean", 0)],
  ["ttft ms p50", (s) => _fig(s.time_to_first_token_ms, "p50", 0)],
  ["wall ms p50", (s) => _fig(s.wall_time_ms, "p50", 0)],
  ["wall total", (s) => s.wall_time_ms.n === 0 ? DASH : formatMs(s.wall_time_ms_total)],
  ["LLM call ms p50", (s) => _fig(s.llm_ms, "p50", 1)],
  // Sub-millisecond on purpose: the bus's own cost is a few ms at most.
  ["bus overhead ms p50", (s) => _overhead(s, "p50")],
  ["bus overhead ms p95", (s) => _overhead(s, "p95")],
  ["latency ms p50", (s) => _fig(s.response_latency_ms, "p50", 0)],
  ["words/msg", (s) => _fig(s.words_per_message, "mean", 1)],
  ["cold starts", (s) => formatInt(s.cold_starts)],
  ["load ms total", (s) => formatInt(s.load_duration_ms_total)],
  ["truncated", (s) => `${formatInt(s.truncated_replies)} (${formatPercent(s.truncated_share)})`],
  ["errors", (s) => formatInt(s.errors)],
  ["retries (turns)", (s) => `${formatInt(s.retries)} (${formatInt(s.retried_turns)})`],
  ["token counts", (s) => _tokenSources(s)],
];

/**
 * Where the token counts came from, e.g. `reported` or `counted 9,
 * estimated 1`: a reader must know when a figure is not the server's own.
 */
function _tokenSources(s: AgentStats): string {
  const parts = Object.entries(s.token_sources).filter(([, n]) => n > 0);
  if (parts.length === 0) return DASH;
  if (parts.length === 1) return parts[0]![0];
  return parts.map(([source, n]) => `${source} ${formatInt(n)}`).join(", ");
}

/** Status, turns against the limit, duration against the limit, models, personas, error. */
export function headlineRows(a: RunAnalysis, esc: _Esc): string[][] {
  const c = a.conversation;
  const limitMs = c.duration_seconds * 1000;
  const paused = c.paused_ms > 0 ? `; interrupted ${formatMs(c.paused_ms)}, not counted` : "";
  const limits = !absentGroups(a.source).has("limits");
  const rows = [
    ["Status", c.status + (c.stop_reason ? ` (stop: ${c.stop_reason})` : "")],
    [
      "Turns",
      limits ? `${c.turns}/${c.max_turns} (${formatPercent(c.turns_vs_max)})` : `${c.turns}`,
    ],
    [
      "Duration",
      !limits
        ? (c.duration_ms === null ? DASH : formatMs(c.duration_ms))
        : c.duration_ms === null
        ? `${DASH} of ${formatMs(limitMs)} limit`
        : `${formatMs(c.duration_ms)} of ${formatMs(limitMs)} limit (${
          formatPercent(c.duration_vs_limit ?? 0)
        }${paused})`,
    ],
    [
      "Models",
      `agent 1 ${esc(c.models.agent1)} · agent 2 ${esc(c.models.agent2)} · manager ${
        esc(c.models.manager)
      }`,
    ],
  ];
  if (c.personas) {
    rows.push(["Personas", `agent 1 ${esc(c.personas["1"])} · agent 2 ${esc(c.personas["2"])}`]);
  }
  rows.push(...settingsRows(a, esc));
  if (c.error !== null) rows.push(["Error", esc(c.error)]);
  if (a.source) {
    rows.push([
      "Source",
      `${esc(a.source.file)} (${a.source.format}, conversation ${a.source.index}; ` +
      `${a.source.absent.length} figures not in the file, shown as ${DASH})`,
    ]);
  }
  return rows;
}

const BACKEND_LABELS: Record<string, string> = {
  ollama: "Ollama",
  openai: "OpenAI-compatible",
  embedded: "embedded llama.cpp",
};

/** The generation settings from the run's stored config; `–` where the record lacks one. */
export function settingsRows(a: RunAnalysis, esc: _Esc): string[][] {
  const s = a.settings;
  const or = (v: string | number | null, unit = "") => v === null ? DASH : `${v}${unit}`;
  const [t1, t2] = [s.agents["1"].temperature, s.agents["2"].temperature];
  const temperature = t1 === s.temperature && t2 === s.temperature
    ? or(s.temperature)
    : `${or(s.temperature)} (agent 1 ${or(t1)}, agent 2 ${or(t2)})`;
  const label = (r: { backend: string; host: string | null }) =>
    `${BACKEND_LABELS[r.backend] ?? r.backend} ${esc(or(r.host))}`;
  const roles = [s.manager, s.agents["1"], s.agents["2"]].map(label);
  const backend = new Set(roles).size === 1
    ? roles[0]!
    : `manager ${roles[0]} · agent 1 ${roles[1]} · agent 2 ${roles[2]}`;
  const v = s.versions;
  return [
    [
      "Settings",
      `temperature ${temperature} · seed ${s.seed ?? "none"} · num_ctx ${or(s.num_ctx)} · ` +
      `max reply ${or(s.max_reply_tokens, " tokens")} · output ${esc(or(s.output))} · history ${
        or(s.history_messages, " messages")
      }/${or(s.history_chars, " chars")}`,
    ],
    ["Topic", s.topic === null ? DASH : esc(s.topic)],
    // keep_alive is Ollama's alone: shown only when a role used Ollama.
    [
      "Backend",
      [s.manager, s.agents["1"], s.agents["2"]].some((r) => r.backend === "ollama")
        ? `${backend} · keep_alive ${esc(or(s.keep_alive))}`
        : backend,
    ],
    [
      "Versions",
      v.dialogue_llm === null && v.deno === null
        ? "not recorded with the run"
        : `DialogueLLM ${esc(or(v.dialogue_llm))} · Deno ${esc(or(v.deno))}`,
    ],
  ];
}

/** The per-agent table, header first. */
export function metricRows(a: RunAnalysis, esc: _Esc): string[][] {
  // A file read with --input may carry no generation or clock figures: absent, not 0.
  const absent = absentGroups(a.source);
  const shown = (label: string) => {
    const group = _TEXT_METRICS.has(label)
      ? undefined
      : _TIMING_METRICS.has(label)
      ? "timing"
      : "generation";
    return group === undefined || !absent.has(group);
  };
  return [
    ["Metric", "Agent 1", "Agent 2", "Overall"].map(esc),
    ...METRICS.map(([label, cell]) =>
      shown(label)
        ? [esc(label), cell(a.agents["1"]), cell(a.agents["2"]), cell(a.overall)]
        : [esc(label), DASH, DASH, DASH]
    ),
  ];
}

/** Per-agent rows measured from the text alone. */
const _TEXT_METRICS = new Set(["turns", "words/msg"]);
/** Per-agent rows from the clocks. */
const _TIMING_METRICS = new Set([
  "wall ms p50",
  "wall total",
  "LLM call ms p50",
  "bus overhead ms p50",
  "bus overhead ms p95",
  "latency ms p50",
]);

/** Label/value rows of the dialogue measures; no model text in them. */
export function dialogueRows(a: RunAnalysis): string[][] {
  const { turn_taking: t, diversity: d, repetition: r, loop, stale } = a.dialogue;
  const split = (x: { "1": number; "2": number }, f: (v: number) => string) =>
    `agent 1 ${f(x["1"])} · agent 2 ${f(x["2"])}`;
  const balance = (b: number | null, s: typeof t.word_share) =>
    b === null || s === null ? DASH : `${b.toFixed(2)} (${split(s, formatPercent)})`;
  const distinct = (k: "distinct_1" | "distinct_2") =>
    `${d.overall[k].toFixed(2)} (${
      split({ "1": d.agents["1"][k], "2": d.agents["2"][k] }, (v) => v.toFixed(2))
    })`;
  const repeating = r.repeating_turns.length === 0 ? "" : `; turns ${_list(r.repeating_turns)}`;
  const s = a.sentiment;
  const mood = (k: "1" | "2") =>
    s.agents[k].summary.n === 0
      ? `agent ${k} ${DASH}`
      : `agent ${k} ${formatSigned(s.agents[k].summary.mean)} (trend ${
        formatSigned(s.agents[k].trend_per_turn, 3)
      }/turn)`;
  const agree = s.self_report_agreement === null
    ? "; no self-reported labels"
    : `; self-reported labels agree ${formatPercent(s.self_report_agreement)}`;
  const drift = a.topic_drift;
  const how = drift.method === "embedding" ? `embeddings, ${drift.model}` : "word overlap";
  const sim = (m: typeof drift.setting_similarity) =>
    m === null ? DASH : `${m.overall.toFixed(2)} (${split(m, (v) => v.toFixed(2))})`;
  return [
    ["word balance", balance(t.word_balance, t.word_share)],
    [
      "token balance",
      absentGroups(a.source).has("generation") ? DASH : balance(t.token_balance, t.token_share),
    ],
    ["distinct-1", distinct("distinct_1")],
    ["distinct-2", distinct("distinct_2")],
    [
      "repetition rate",
      `${formatPercent(r.rate)} of ${r.eligible_turns} eligible turns${repeating}`,
    ],
    ["exact / near repeats", `${r.exact_repeats} / ${r.near_repeats}`],
    [
      "question rate",
      `${formatPercent(t.question_rate)} (${split(t.question_rate_by_agent, formatPercent)})`,
    ],
    ["words/turn", `${t.words_per_turn_mean.toFixed(1)} ± ${t.words_per_turn_stdev.toFixed(1)}`],
    [
      "tokens/turn",
      absentGroups(a.source).has("generation")
        ? DASH
        : `${t.tokens_per_turn_mean.toFixed(1)} ± ${t.tokens_per_turn_stdev.toFixed(1)}`,
    ],
    ["loop", loop.detected ? `from turn ${loop.from_turn ?? "?"}` : "none"],
    ["stale", stale.detected ? `from turn ${stale.from_turn ?? "?"}` : "none"],
    ["sentiment", `${mood("1")} · ${mood("2")}${agree}`],
    [`story similarity`, `${sim(drift.setting_similarity)} [${how}]`],
    ["previous-turn similarity", sim(drift.previous_similarity)],
    [
      "off-topic turns",
      drift.off_topic_turns.length === 0 ? "none" : _list(drift.off_topic_turns) +
        (drift.drift_from_turn === null
          ? ` (not flagged: drift takes ${DRIFT_RUN} off-topic turns in a row)`
          : `; drift from turn ${drift.drift_from_turn}`),
    ],
  ];
}

/** One sentiment sparkline per speaker, over that speaker's own turns. */
export function sentimentLines(a: RunAnalysis, esc: _Esc): string[] {
  const name = (k: 1 | 2) => {
    const persona = a.conversation.personas?.[k];
    return persona ? `agent ${k} ${esc(persona)}` : `agent ${k}`;
  };
  const labels = [name(1), name(2)];
  const width = Math.max(...labels.map((l) => [...l].length));
  return ([1, 2] as const).flatMap((k, i) => {
    const scores = a.per_turn.filter((r) => r.agent === k).map((r) => r.sentiment);
    const line = sparkline(scores, { lo: -1, hi: 1 });
    const out: string[] = [];
    for (let at = 0; at < Math.max(1, line.length); at += SPARK_WIDTH) {
      const label = at === 0 ? labels[i] ?? "" : "";
      const gap = " ".repeat(width - [...label].length);
      out.push(`${label}${gap}  ${line.slice(at, at + SPARK_WIDTH)}`.trimEnd());
    }
    return out;
  });
}

/** The model-judged persona table, or undefined when no judge ran. */
export function personaRows(
  a: RunAnalysis,
  esc: _Esc,
): { title: string; rows: string[][]; notes: string[] } | undefined {
  const j = a.persona_judge;
  if (!j) return undefined;
  const [one, two] = [j.agents["1"], j.agents["2"]];
  const cell = (v: number | undefined | null) => v == null ? DASH : String(v);
  const rows = [
    ["Criterion", `Agent 1 (${esc(one.persona)})`, `Agent 2 (${esc(two.persona)})`],
    ...Object.keys(PERSONA_RUBRIC).map((key) => {
      const k = key as keyof typeof PERSONA_RUBRIC;
      return [k, cell(one.scores?.[k]), cell(two.scores?.[k])];
    }),
    [
      "mean",
      one.mean === null ? DASH : one.mean.toFixed(2),
      two.mean === null ? DASH : two.mean.toFixed(2),
    ],
  ];
  const notes = ([["1", one], ["2", two]] as const).flatMap(([k, v]) =>
    v.error !== null
      ? [`agent ${k}: ${esc(v.error)}`]
      : v.rationale
      ? [`agent ${k}: ${esc(v.rationale)}`]
      : []
  );
  return {
    title: `Persona consistency (model-judged by ${esc(j.model)}, ${j.scale.min}-${j.scale.max})`,
    rows,
    notes,
  };
}

/** Wall time minus the LLM call, 3 decimals, with the turns it could not be measured for. */
function _overhead(s: AgentStats, key: "p50" | "p95"): string {
  if (s.bus_overhead_ms.n === 0) return s.turns === 0 ? DASH : "unknown";
  const unknown = s.bus_overhead_unknown === 0 ? "" : ` (${s.bus_overhead_unknown} unknown)`;
  return `${s.bus_overhead_ms[key].toFixed(3)}${unknown}`;
}

function _fig(s: Summary, key: "mean" | "p50" | "p95", digits: number): string {
  if (s.n === 0) return DASH;
  return digits === 0 ? formatInt(s[key]) : s[key].toFixed(digits);
}

function _list(turns: readonly number[]): string {
  return turns.length > 8 ? `${turns.slice(0, 8).join(", ")}, …` : turns.join(", ");
}
