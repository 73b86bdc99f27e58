/**
 * `analyze --compare ID…` and `analyze --all --since AGE`: the headline
 * figures of several runs side by side, one row per run, as a terminal
 * table, Markdown or JSON ({@linkcode RunComparison}).
 *
 * @module
 */
import { z } from "zod";
import type { RunAnalysis } from "./run_analysis.ts";
import { RunSettings } from "./run_settings.ts";
import { ConversationStatus, StopReason } from "../model/conversation_meta.ts";
import { sanitizeText } from "../base/sanitize.ts";
import {
  DASH,
  escapeMarkdown,
  formatMs,
  formatPercent,
  markdownTable,
  textTable,
} from "../view/text_table.ts";

const share = z.number().min(0).max(1);

/** One run in a comparison. */
export const ComparisonRow = z.object({
  id: z.string(),
  status: ConversationStatus,
  stop_reason: StopReason.nullable(),
  models: z.object({ agent1: z.string(), agent2: z.string() }),
  turns: z.number().int().nonnegative(),
  max_turns: z.number().int().nonnegative(),
  /** Mean output tokens/s over the turns that reported it; null when none did. */
  tokens_per_second: z.number().nonnegative().nullable(),
  distinct_2: share,
  repetition_rate: share,
  /** First turn of a detected loop; null when there is none. */
  loop_from_turn: z.number().int().min(1).nullable(),
  word_balance: share.nullable(),
  duration_ms: z.number().nonnegative().nullable(),
  /** Codes of the run's flags. */
  flags: z.array(z.string()),
  /** What the run was generated with (v1.4), as in the single-run report. */
  settings: RunSettings,
});
/** One run in a comparison. */
export type ComparisonRow = z.infer<typeof ComparisonRow>;

/** The `--json` output of a comparison. */
export const RunComparison = z.object({
  schema_version: z.literal(1),
  kind: z.literal("comparison"),
  runs: z.array(ComparisonRow),
});
/** The `--json` output of a comparison. */
export type RunComparison = z.infer<typeof RunComparison>;

/**
 * One row per analysis, in the order given.
 *
 * @example
 * ```ts ignore
 * const comparison = compareRuns([analyzeRun(a), analyzeRun(b)]);
 * console.log(formatComparisonText(comparison));
 * ```
 */
export function compareRuns(analyses: readonly RunAnalysis[]): RunComparison {
  return {
    schema_version: 1,
    kind: "comparison",
    runs: analyses.map((a) => ({
      id: a.conversation.id,
      status: a.conversation.status,
      stop_reason: a.conversation.stop_reason,
      models: { agent1: a.conversation.models.agent1, agent2: a.conversation.models.agent2 },
      turns: a.conversation.turns,
      max_turns: a.conversation.max_turns,
      tokens_per_second: a.overall.tokens_per_second.n === 0
        ? null
        : a.overall.tokens_per_second.mean,
      distinct_2: a.dialogue.diversity.overall.distinct_2,
      repetition_rate: a.dialogue.repetition.rate,
      loop_from_turn: a.dialogue.loop.detected ? a.dialogue.loop.from_turn ?? null : null,
      word_balance: a.dialogue.turn_taking.word_balance,
      duration_ms: a.conversation.duration_ms,
      flags: a.flags.map((f) => f.code),
      settings: a.settings,
    })),
  };
}

const HEADER = [
  "ID",
  "MODELS",
  "TURNS",
  "STOP",
  "TOK/S",
  "DISTINCT-2",
  "REPETITION",
  "LOOP",
  "BALANCE",
  "DURATION",
  "FLAGS",
  "TEMP",
  "SEED",
  "CTX",
];
const RIGHT = [
  false,
  false,
  true,
  false,
  true,
  true,
  true,
  false,
  true,
  true,
  false,
  true,
  true,
  true,
];

function _cells(r: ComparisonRow, esc: (s: string) => string): string[] {
  const models = r.models.agent1 === r.models.agent2
    ? esc(r.models.agent1)
    : `${esc(r.models.agent1)} / ${esc(r.models.agent2)}`;
  return [
    esc(r.id),
    models,
    `${r.turns}/${r.max_turns}`,
    r.stop_reason ?? r.status,
    r.tokens_per_second === null ? DASH : r.tokens_per_second.toFixed(1),
    r.distinct_2.toFixed(2),
    formatPercent(r.repetition_rate),
    r.loop_from_turn === null ? "no" : `turn ${r.loop_from_turn}`,
    r.word_balance === null ? DASH : r.word_balance.toFixed(2),
    r.duration_ms === null ? DASH : formatMs(r.duration_ms),
    r.flags.length === 0 ? DASH : r.flags.join(","),
    _temperature(r.settings),
    r.settings.seed === null ? DASH : String(r.settings.seed),
    r.settings.num_ctx === null ? DASH : String(r.settings.num_ctx),
  ];
}

/** The run's temperature, with each agent's when they differ. */
function _temperature(s: RunSettings): string {
  const show = (t: number | null) => t === null ? DASH : String(t);
  const [t1, t2] = [s.agents["1"].temperature, s.agents["2"].temperature];
  return t1 === t2 ? show(t1) : `${show(t1)}/${show(t2)}`;
}

/**
 * The comparison as an aligned terminal table, one run per line.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { formatComparisonText } from "./run_comparison.ts";
 * strictEqual(formatComparisonText({ schema_version: 1, kind: "comparison", runs: [] }),
 *   "No runs to compare.\n");
 * ```
 */
export function formatComparisonText(c: RunComparison): string {
  if (c.runs.length === 0) return "No runs to compare.\n";
  const clean = (s: string) => sanitizeText(s, { keepNewlines: false });
  return textTable([HEADER, ...c.runs.map((r) => _cells(r, clean))], RIGHT).join("\n") + "\n";
}

/** The comparison as a Markdown table. */
export function formatComparisonMarkdown(c: RunComparison): string {
  const md = (s: string) => escapeMarkdown(sanitizeText(s, { keepNewlines: false }));
  const out = ["# Run comparison", ""];
  if (c.runs.length === 0) out.push("No runs to compare.");
  else out.push(...markdownTable([HEADER, ...c.runs.map((r) => _cells(r, md))], RIGHT));
  return out.join("\n") + "\n";
}
