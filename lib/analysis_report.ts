/**
 * Renders a {@linkcode RunAnalysis} for people: a terminal report with
 * aligned columns and optional colour, or a Markdown version for issues and
 * notes. Every string that may have come from a model (errors, loop
 * evidence, model names) is sanitized, so a report cannot carry escape
 * sequences to the terminal.
 *
 * Colour uses picocolors, which reads `NO_COLOR`, `FORCE_COLOR`, `TERM` and
 * `CI` when it loads; it is loaded only when those variables are readable
 * without a prompt, and the report is plain otherwise.
 *
 * @module
 */
import type pc from "picocolors";
import type { AgentStats, RunAnalysis } from "./run_analysis.ts";
import { sanitizeText } from "./sanitize.ts";
import type { Summary } from "./stats.ts";

/** Options for {@linkcode formatAnalysisText}. */
export interface AnalysisTextOptions {
  /**
   * Use ANSI colours (only when picocolors could load; see the module docs).
   *
   * @default {false}
   */
  color?: boolean;
}

type _Paint = Record<
  "bold" | "dim" | "red" | "green" | "yellow",
  (text: string) => string
>;
type _Cell = (s: AgentStats) => string;

const _picocolors = await _loadPicocolors();
const _SPARKS = "▁▂▃▄▅▆▇█";
const _SPARK_WIDTH = 50;
const _DASH = "–";

/** Rows of the per-agent table, shared by both formats. */
const _METRICS: [string, _Cell][] = [
  ["turns", (s) => _int(s.turns)],
  ["tokens", (s) => _int(s.tokens_generated)],
  ["prompt tokens", (s) => _int(s.prompt_tokens)],
  ["tok/s mean", (s) => _fig(s.tokens_per_second, "mean", 1)],
  ["tok/s p50", (s) => _fig(s.tokens_per_second, "p50", 1)],
  ["tok/s p95", (s) => _fig(s.tokens_per_second, "p95", 1)],
  ["gen ms mean", (s) => _fig(s.generation_time_ms, "mean", 0)],
  ["ttft ms p50", (s) => _fig(s.time_to_first_token_ms, "p50", 0)],
  ["wall ms p50", (s) => _fig(s.wall_time_ms, "p50", 0)],
  ["bus overhead ms p50", (s) => _fig(s.bus_overhead_ms, "p50", 0)],
  ["words/msg", (s) => _fig(s.words_per_message, "mean", 1)],
  ["cold starts", (s) => _int(s.cold_starts)],
  [
    "truncated",
    (s) => `${_int(s.truncated_replies)} (${_pct(s.truncated_share)})`,
  ],
  ["errors", (s) => _int(s.errors)],
];

/**
 * A terminal report: headline, per-agent table, a tokens/s sparkline per
 * turn, dialogue measures and flags with their turn numbers.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { analyzeRun } from "./run_analysis.ts";
 * import { formatAnalysisText } from "./analysis_report.ts";
 * const analysis = analyzeRun({
 *   meta: {
 *     id: "c1", status: "failed", created_at: 0, turns: 0, max_turns: 10,
 *     duration_seconds: 60, models: { manager: "m", agent1: "a", agent2: "b" },
 *     config: {},
 *   },
 *   responses: [],
 *   requests: [],
 * });
 * ok(formatAnalysisText(analysis).startsWith("Run c1  failed\n"));
 * ```
 */
export function formatAnalysisText(
  a: RunAnalysis,
  opts: AnalysisTextOptions = {},
): string {
  const p = (opts.color ?? false) && _picocolors ? _picocolors.createColors(true) : _plain;
  const c = a.conversation;
  const status = c.status === "completed"
    ? p.green(c.status)
    : c.status === "failed"
    ? p.red(c.status)
    : p.yellow(c.status);
  const out = [
    `${p.bold(`Run ${_clean(c.id)}`)}  ${status}` +
    (c.stop_reason ? `  (stop: ${c.stop_reason})` : ""),
    // The first line already shows the status.
    ..._pairs(_headline(a, _clean).slice(1)).map((l) => `  ${l}`),
    "",
  ];

  const [header = [], ...body] = _align(_metricRows(a, _clean), [
    false,
    true,
    true,
    true,
  ]);
  out.push(p.bold(header.join("  ")), ...body.map((r) => r.join("  ")), "");

  const speeds = a.per_turn.map((r) => r.tokens_per_second);
  const known = speeds.filter((v) => v > 0);
  out.push(
    p.bold("tok/s per turn") +
      p.dim(
        known.length === 0
          ? "  (not reported)"
          : `  (min ${Math.min(...known).toFixed(1)}, max ${
            Math.max(...known).toFixed(1)
          }; · = not reported)`,
      ),
  );
  const seqs = a.per_turn.map((r) => String(r.seq));
  const pad = Math.max(0, ...seqs.map((s) => s.length));
  const line = _sparkline(speeds);
  for (let i = 0; i < line.length; i += _SPARK_WIDTH) {
    out.push(
      `  ${(seqs[i] ?? "").padStart(pad)}  ${line.slice(i, i + _SPARK_WIDTH)}`,
    );
  }
  out.push("", p.bold("Dialogue"));
  out.push(..._pairs(_dialogueRows(a)).map((l) => `  ${l}`), "");

  if (a.flags.length === 0) {
    out.push(`${p.bold("Flags")}  ${p.green("none")}`);
  } else {
    out.push(p.bold("Flags"));
    for (const f of a.flags) {
      const at = f.from_turn === undefined ? "" : ` from turn ${f.from_turn}`;
      out.push(`  ${p.yellow(`! ${f.code}`)}${at}: ${_clean(f.message)}`);
    }
  }
  return out.join("\n") + "\n";
}

/**
 * The same report as Markdown tables, for pasting into an issue or a lab
 * notebook. Text from models is sanitized and Markdown-escaped.
 *
 * @example
 * ```ts ignore
 * import { formatAnalysisMarkdown } from "./analysis_report.ts";
 * await Deno.writeTextFile("run.md", formatAnalysisMarkdown(analysis));
 * ```
 */
export function formatAnalysisMarkdown(a: RunAnalysis): string {
  const md = (s: string) => _clean(s).replace(/[\\`*_[\]<>|]/g, "\\$&");
  const out = [`# Run ${md(a.conversation.id)}`, ""];
  out.push(
    ..._mdTable([["Field", "Value"], ..._headline(a, md)], [false, false]),
  );
  out.push("", "## Agents", "");
  out.push(..._mdTable(_metricRows(a, md), [false, true, true, true]));
  const spark = _sparkline(a.per_turn.map((r) => r.tokens_per_second));
  if (spark !== "") out.push("", `Tokens/s per turn: \`${spark}\``);
  out.push("", "## Dialogue", "");
  out.push(
    ..._mdTable([["Measure", "Value"], ..._dialogueRows(a)], [false, false]),
  );
  out.push("", "## Flags", "");
  if (a.flags.length === 0) out.push("None.");
  for (const f of a.flags) {
    const at = f.from_turn === undefined ? "" : ` (from turn ${f.from_turn})`;
    out.push(`- **${f.code}**${at}: ${md(f.message)}`);
  }
  return out.join("\n") + "\n";
}

function _headline(a: RunAnalysis, esc: (s: string) => string): string[][] {
  const c = a.conversation;
  const limitMs = c.duration_seconds * 1000;
  const rows = [
    ["Status", c.status + (c.stop_reason ? ` (stop: ${c.stop_reason})` : "")],
    ["Turns", `${c.turns}/${c.max_turns} (${_pct(c.turns_vs_max)})`],
    [
      "Duration",
      c.duration_ms === null
        ? `${_DASH} of ${_duration(limitMs)} limit`
        : `${_duration(c.duration_ms)} of ${_duration(limitMs)} limit (${
          _pct(c.duration_vs_limit ?? 0)
        })`,
    ],
    [
      "Models",
      `agent 1 ${esc(c.models.agent1)} · agent 2 ${esc(c.models.agent2)} · manager ${
        esc(c.models.manager)
      }`,
    ],
  ];
  if (c.error !== null) rows.push(["Error", esc(c.error)]);
  return rows;
}

function _metricRows(a: RunAnalysis, esc: (s: string) => string): string[][] {
  return [
    ["Metric", "Agent 1", "Agent 2", "Overall"].map(esc),
    ..._METRICS.map(([label, cell]) => [
      esc(label),
      cell(a.agents["1"]),
      cell(a.agents["2"]),
      cell(a.overall),
    ]),
  ];
}

function _dialogueRows(a: RunAnalysis): string[][] {
  const { turn_taking: t, diversity: d, repetition: r, loop } = a.dialogue;
  const split = (x: { "1": number; "2": number }, f: (v: number) => string) =>
    `agent 1 ${f(x["1"])} · agent 2 ${f(x["2"])}`;
  const balance = (b: number | null, s: typeof t.word_share) =>
    b === null || s === null ? _DASH : `${b.toFixed(2)} (${split(s, _pct)})`;
  const distinct = (k: "distinct_1" | "distinct_2") =>
    `${d.overall[k].toFixed(2)} (${
      split(
        { "1": d.agents["1"][k], "2": d.agents["2"][k] },
        (v) => v.toFixed(2),
      )
    })`;
  const repeating = r.repeating_turns.length === 0 ? "" : `; turns ${_list(r.repeating_turns)}`;
  return [
    ["word balance", balance(t.word_balance, t.word_share)],
    ["token balance", balance(t.token_balance, t.token_share)],
    ["distinct-1", distinct("distinct_1")],
    ["distinct-2", distinct("distinct_2")],
    [
      "repetition rate",
      `${_pct(r.rate)} of ${r.eligible_turns} eligible turns${repeating}`,
    ],
    ["exact / near repeats", `${r.exact_repeats} / ${r.near_repeats}`],
    [
      "question rate",
      `${_pct(t.question_rate)} (${split(t.question_rate_by_agent, _pct)})`,
    ],
    [
      "words/turn",
      `${t.words_per_turn_mean.toFixed(1)} ± ${t.words_per_turn_stdev.toFixed(1)}`,
    ],
    ["loop", loop.detected ? `from turn ${loop.from_turn ?? "?"}` : "none"],
  ];
}

/** Pads every cell of a table to its column's width (at least `least`). */
function _align(rows: string[][], right: boolean[], least = 0): string[][] {
  const widths = _widths(rows, least);
  return rows.map((row) =>
    row.map((cell, i) => {
      const gap = " ".repeat((widths[i] ?? 0) - _width(cell));
      return right[i] ? gap + cell : cell + gap;
    })
  );
}

function _widths(rows: string[][], least: number): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? least, _width(cell));
    });
  }
  return widths;
}

/** Label/value lines with the values in one column. */
function _pairs(rows: string[][]): string[] {
  return _align(rows, [false, false]).map((r) => r.join("  ").trimEnd());
}

function _mdTable(rows: string[][], right: boolean[]): string[] {
  // A delimiter cell needs three characters, alignment colon included.
  const [header = [], ...body] = _align(rows, right, 3);
  const rule = header.map((cell, i) => {
    const dashes = "-".repeat(_width(cell) - 1);
    return right[i] ? `${dashes}:` : `:${dashes}`;
  });
  return [header, rule, ...body].map((r) => `| ${r.join(" | ")} |`);
}

function _sparkline(values: readonly number[]): string {
  const known = values.filter((v) => v > 0);
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  return values.map((v) => {
    if (!(v > 0)) return "·";
    const level = hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * 7);
    return _SPARKS[level] ?? "▄";
  }).join("");
}

/** Display width in code points: right for the ASCII, dashes and blocks used. */
function _width(text: string): number {
  return [...text].length;
}

function _clean(text: string): string {
  return sanitizeText(text, { keepNewlines: false });
}

function _int(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function _fig(s: Summary, key: "mean" | "p50" | "p95", digits: number): string {
  if (s.n === 0) return _DASH;
  return digits === 0 ? _int(s[key]) : s[key].toFixed(digits);
}

function _pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function _list(turns: readonly number[]): string {
  return turns.length > 8 ? `${turns.slice(0, 8).join(", ")}, …` : turns.join(", ");
}

function _duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return s < 3600
    ? `${Math.floor(s / 60)}m ${two(s % 60)}s`
    : `${Math.floor(s / 3600)}h ${two(Math.floor(s / 60) % 60)}m`;
}

const _identity = (s: string) => s;
const _plain: _Paint = {
  bold: _identity,
  dim: _identity,
  red: _identity,
  green: _identity,
  yellow: _identity,
};

/** picocolors, if the env variables it reads at load time are readable. */
async function _loadPicocolors(): Promise<typeof pc | undefined> {
  try {
    const readable = ["NO_COLOR", "FORCE_COLOR", "TERM", "CI"].every((
      variable,
    ) => Deno.permissions.querySync({ name: "env", variable }).state === "granted");
    return readable ? (await import("picocolors")).default : undefined;
  } catch {
    return undefined;
  }
}
