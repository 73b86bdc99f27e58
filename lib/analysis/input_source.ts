/**
 * Where an analysed transcript came from when it was read with
 * `analyze --input FILE` rather than from Redis, and which figures that file
 * does not carry. Those are absent, not 0: {@linkcode withAbsentAsNull}
 * turns them to `null` in the JSON report, and the text, Markdown and HTML
 * reports show a dash ({@linkcode absentGroups}).
 *
 * Paths name a field of `RunAnalysis`: `overall.X` stands for `overall.X`
 * and `agents["1"|"2"].X`, `per_turn[].X` for the field of every row.
 *
 * @module
 */
import { z } from "zod";

/** A transcript file carries no run limits: the turn limit and the time limit were never in it. */
export const ABSENT_RUN: readonly string[] = [
  "conversation.max_turns",
  "conversation.turns_vs_max",
  "conversation.duration_seconds",
  "conversation.duration_vs_limit",
];

/** Figures from the model server, missing from text-only formats (ShareGPT, OpenAI messages). */
export const ABSENT_GENERATION: readonly string[] = [
  ..."tokens_generated prompt_tokens prompt_tokens_growth_per_turn tokens_per_message tokens_per_second prompt_tokens_per_second generation_time_ms generation_time_ms_total time_to_first_token_ms load_duration_ms_total cold_starts truncated_replies truncated_share errors retries retried_turns token_sources"
    .split(" ").map((f) => `overall.${f}`),
  ..."tokens prompt_tokens tokens_per_second prompt_tokens_per_second ttft_ms load_ms generation_ms done_reason attempts last_error"
    .split(" ").map((f) => `per_turn[].${f}`),
  "dialogue.turn_taking.token_balance",
  "dialogue.turn_taking.token_share",
  "dialogue.turn_taking.tokens_per_turn_mean",
  "dialogue.turn_taking.tokens_per_turn_stdev",
];

/** Clock figures, missing from text-only formats. */
export const ABSENT_TIMING: readonly string[] = [
  ..."wall_time_ms wall_time_ms_total llm_ms bus_overhead_ms bus_overhead_unknown response_latency_ms"
    .split(" ").map((f) => `overall.${f}`),
  ..."wall_ms llm_ms bus_overhead_ms latency_ms".split(" ").map((f) => `per_turn[].${f}`),
  "conversation.started_at",
  "conversation.ended_at",
  "conversation.duration_ms",
];

/** The `source` of an analysis read with `--input`. */
export const InputSource = z.object({
  /** The file as given to `--input`. */
  file: z.string(),
  format: z.enum(["dialoguellm_jsonl", "sharegpt", "openai"]),
  /** 1-based position of the conversation in the file. */
  index: z.number().int().min(1),
  /** Fields the file does not carry, `null` in this report (paths as in `input_source.ts`). */
  absent: z.array(z.string()),
});
/** The `source` of an analysis read with `--input`. */
export type InputSource = z.infer<typeof InputSource>;

/** Which groups of figures an analysis lacks: `generation`, `timing`, `limits`. */
export function absentGroups(
  source: InputSource | null | undefined,
): Set<"generation" | "timing" | "limits"> {
  const out = new Set<"generation" | "timing" | "limits">();
  if (!source) return out;
  const absent = new Set(source.absent);
  if (ABSENT_GENERATION.every((p) => absent.has(p))) out.add("generation");
  if (ABSENT_TIMING.every((p) => absent.has(p))) out.add("timing");
  if (ABSENT_RUN.every((p) => absent.has(p))) out.add("limits");
  return out;
}

/**
 * A copy of `analysis` (as JSON data) with every field named in
 * `analysis.source.absent` set to `null`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { withAbsentAsNull } from "./input_source.ts";
 * const out = withAbsentAsNull({
 *   source: { file: "f", format: "openai", index: 1, absent: ["per_turn[].tokens"] },
 *   per_turn: [{ tokens: 0, words: 3 }],
 * });
 * strictEqual((out.per_turn as { tokens: null }[])[0]?.tokens, null);
 * ```
 */
export function withAbsentAsNull<T extends { source?: InputSource | null }>(
  analysis: T,
): Record<string, unknown> {
  const copy = structuredClone(analysis) as Record<string, unknown>;
  for (const path of analysis.source?.absent ?? []) {
    const [head, ...rest] = path.split(".");
    if (head === "overall") {
      const agents = (copy.agents ?? {}) as Record<string, unknown>;
      for (const holder of [copy.overall, agents["1"], agents["2"]]) _setNull(holder, rest);
    } else if (head === "per_turn[]") {
      for (const row of (copy.per_turn ?? []) as unknown[]) _setNull(row, rest);
    } else {
      _setNull(copy[head ?? ""], rest);
    }
  }
  return copy;
}

function _setNull(holder: unknown, path: string[]): void {
  let node = holder as Record<string, unknown> | undefined;
  for (const key of path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
  const last = path.at(-1);
  if (node && typeof node === "object" && last !== undefined && last in node) node[last] = null;
}
