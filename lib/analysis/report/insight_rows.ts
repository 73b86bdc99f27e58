/**
 * The rows of the report's Insight section (echo, persona break, collapse,
 * linguistic coordination), shared by the terminal, Markdown and HTML
 * formats. No model text in them.
 *
 * @module
 */
import type { RunAnalysis } from "../run_analysis.ts";
import { DASH, formatPercent, formatSigned } from "../../view/text_table.ts";

/**
 * Label/value rows of the insight measures; a measure the transcript cannot
 * give (no personas, too few turns for a window) shows as a dash.
 *
 * @example
 * ```ts ignore
 * import { insightRows } from "./insight_rows.ts";
 * for (const [label, value] of insightRows(analysis)) console.log(label, value);
 * ```
 */
export function insightRows(a: RunAnalysis): string[][] {
  const { echo, persona_break: persona, collapse, coordination: co } = a.insight;
  const fig = (v: number | null, digits = 2) => v === null ? DASH : v.toFixed(digits);
  const signed = (v: number | null) => v === null ? DASH : formatSigned(v, 3);
  const at = (detected: boolean, turn: number | null) =>
    detected ? `from turn ${turn ?? "?"}` : "none";
  const merge = collapse.vocabulary_merge;
  return [
    [
      "echo",
      `${at(echo.detected, echo.from_turn)} (echoing turns: agent 1 ${
        formatPercent(echo.share["1"])
      } · agent 2 ${formatPercent(echo.share["2"])})`,
    ],
    [
      "persona break",
      persona === null
        ? `${DASH} (no personas in the transcript)`
        : persona.detected
        ? `agent ${persona.agent} ${at(true, persona.from_turn)} [${persona.method}]`
        : `none [${persona.method}]`,
    ],
    [
      "persona consistency (own − partner)",
      persona === null
        ? DASH
        : `agent 1 ${signed(persona.consistency["1"])} · agent 2 ${
          signed(persona.consistency["2"])
        }`,
    ],
    ["collapse", at(collapse.detected, collapse.from_turn)],
    ["distinct-2 slope per window", signed(collapse.distinct_2_slope)],
    ["turn length last/first window", fig(collapse.length_ratio)],
    [
      "vocabulary merge (first → last window)",
      merge === null ? DASH : `${merge.first.toFixed(2)} → ${merge.last.toFixed(2)}`,
    ],
    [
      "recurring phrases (last window)",
      collapse.recurring_share === null ? DASH : formatPercent(collapse.recurring_share),
    ],
    [
      "coordination",
      `2→1 ${signed(co["2_to_1"].mean)} · 1→2 ${signed(co["1_to_2"].mean)} · mean ${
        signed(co.mean)
      }`,
    ],
  ];
}
