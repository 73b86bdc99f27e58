/**
 * Renders a {@linkcode RunAnalysis} for people: a compact terminal report
 * with aligned columns, sparklines and optional colour, or a Markdown
 * version for issues and notes. Every string that may have come from a
 * model (errors, loop evidence, model and persona names, a judge's
 * rationale) is sanitized, so a report cannot carry escape sequences to the
 * terminal.
 *
 * Colour comes from {@linkcode paint} in terminal.ts (plain when the
 * environment cannot be read).
 *
 * @module
 */
import { paint } from "../../view/terminal.ts";
import type { RunAnalysis } from "../run_analysis.ts";
import { sanitizeText } from "../../base/sanitize.ts";
import { sparkline } from "../../view/sparkline.ts";
import { escapeMarkdown, markdownTable, textTable } from "../../view/text_table.ts";
import {
  dialogueRows,
  headlineRows,
  metricRows,
  personaRows,
  sentimentLines,
  SPARK_WIDTH,
} from "./analysis_sections.ts";
import { insightRows } from "./insight_rows.ts";

/** Options for {@linkcode formatAnalysisText}. */
export interface AnalysisTextOptions {
  /**
   * Use ANSI colours (only when picocolors could load; see the module docs).
   *
   * @default {false}
   */
  color?: boolean;
}

/**
 * A terminal report: headline, per-agent table, sparklines of tokens/s and
 * sentiment per turn, dialogue measures, the model-judged persona scores
 * when present, and flags with their turn numbers.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { analyzeRun } from "../run_analysis.ts";
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
export function formatAnalysisText(a: RunAnalysis, opts: AnalysisTextOptions = {}): string {
  const p = paint(opts.color ?? false);
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
    ...textTable(headlineRows(a, _clean).slice(1), [false, false]).map((l) => `  ${l}`),
    "",
  ];
  if (c.nothing_to_analyse !== null) {
    out.push(`${p.bold("Nothing to analyse")}: ${_clean(c.nothing_to_analyse)}`);
    return out.join("\n") + "\n";
  }

  const [header = "", ...body] = textTable(metricRows(a, _clean), [false, true, true, true]);
  out.push(p.bold(header), ...body, "");

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
  // Each row is labelled with the turn it starts from.
  const seqs = a.per_turn.map((r) => `turn ${r.seq}`);
  const pad = Math.max(0, ...seqs.map((s) => s.length));
  const line = sparkline(speeds.map((v) => v > 0 ? v : null));
  for (let i = 0; i < line.length; i += SPARK_WIDTH) {
    out.push(`  ${(seqs[i] ?? "").padStart(pad)}  ${line.slice(i, i + SPARK_WIDTH)}`);
  }
  if (a.per_turn.length > 0) {
    out.push(
      "",
      p.bold("sentiment per turn") + p.dim("  (VADER, ▁ −1 … █ +1, each speaker's own turns)"),
      ...sentimentLines(a, _clean).map((l) => `  ${l}`),
    );
  }
  out.push("", p.bold("Dialogue"));
  out.push(...textTable(dialogueRows(a), [false, false]).map((l) => `  ${l}`), "");
  out.push(p.bold("Insight"));
  out.push(...textTable(insightRows(a), [false, false]).map((l) => `  ${l}`), "");

  const persona = personaRows(a, _clean);
  if (persona) {
    out.push(p.bold(persona.title));
    const [head = "", ...rows] = textTable(persona.rows, [false, true, true]);
    out.push(`  ${head}`, ...rows.map((r) => `  ${r}`));
    out.push(...persona.notes.map((n) => `  ${p.dim(n)}`), "");
  }

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
  const md = (s: string) => escapeMarkdown(_clean(s));
  const out = [`# Run ${md(a.conversation.id)}`, ""];
  out.push(...markdownTable([["Field", "Value"], ...headlineRows(a, md)], [false, false]));
  if (a.conversation.nothing_to_analyse !== null) {
    out.push("", `**Nothing to analyse**: ${md(a.conversation.nothing_to_analyse)}`);
    return out.join("\n") + "\n";
  }
  out.push("", "## Agents", "");
  out.push(...markdownTable(metricRows(a, md), [false, true, true, true]));
  const speeds = a.per_turn.map((r) => r.tokens_per_second > 0 ? r.tokens_per_second : null);
  if (speeds.length > 0) out.push("", `Tokens/s per turn: \`${sparkline(speeds)}\``);
  if (a.per_turn.length > 0) {
    out.push("", "Sentiment per turn (VADER, −1 … +1):", "");
    out.push(...sentimentLines(a, md).map((l) => `- \`${l.replace(/`/g, "'")}\``));
  }
  out.push("", "## Dialogue", "");
  out.push(...markdownTable([["Measure", "Value"], ...dialogueRows(a).map((r) => r.map(md))], [
    false,
    false,
  ]));
  out.push("", "## Insight", "");
  out.push(...markdownTable([["Measure", "Value"], ...insightRows(a).map((r) => r.map(md))], [
    false,
    false,
  ]));
  const persona = personaRows(a, md);
  if (persona) {
    out.push("", `## ${persona.title}`, "");
    out.push(...markdownTable(persona.rows, [false, true, true]));
    if (persona.notes.length > 0) out.push("", ...persona.notes.map((n) => `- ${n}`));
  }
  out.push("", "## Flags", "");
  if (a.flags.length === 0) out.push("None.");
  for (const f of a.flags) {
    const at = f.from_turn === undefined ? "" : ` (from turn ${f.from_turn})`;
    out.push(`- **${f.code}**${at}: ${md(f.message)}`);
  }
  return out.join("\n") + "\n";
}

/** Model text on one line, without control or escape sequences. */
function _clean(text: string): string {
  return sanitizeText(text, { keepNewlines: false });
}
