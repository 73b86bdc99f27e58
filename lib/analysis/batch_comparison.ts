/**
 * `analyze --batch ID` and the end of `deno task batch`: the key figures of
 * a batch's runs grouped by cell and by each factor that varies, each a
 * mean with a 95% percentile bootstrap interval over the runs (seeds and
 * repeats are the replicates), and the differences between levels whose
 * bootstrap interval excludes 0. Pure.
 *
 * @module
 */
import { z } from "zod";
import type { RunAnalysis } from "./run_analysis.ts";
import {
  BOOTSTRAP_RESAMPLES,
  bootstrapDifference,
  bootstrapMean,
  seedFromText,
} from "./bootstrap.ts";
import type { BatchRun, Factor } from "../batch/batch_matrix.ts";
import { FACTORS } from "../batch/batch_matrix.ts";

/** The figures compared, each one number per run (null: the run has none). */
export const BATCH_FIGURES = [
  "tokens_per_second",
  "ttft_ms",
  "turns",
  "completion_rate",
  "loop_rate",
  "stale_rate",
  "distinct_2",
  "repetition",
  "sentiment",
  "drift",
] as const;
/** One of {@linkcode BATCH_FIGURES}. */
export type BatchFigure = typeof BATCH_FIGURES[number];

const Ci = z.object({
  n: z.number().int().nonnegative(),
  mean: z.number(),
  low: z.number().nullable(),
  high: z.number().nullable(),
});

const Figures = z.record(z.string(), Ci.nullable());

const Group = z.object({
  runs: z.number().int().nonnegative(),
  figures: Figures,
});

/** The `--json` output of `analyze --batch`. */
export const BatchComparison = z.object({
  schema_version: z.literal(1),
  kind: z.literal("batch"),
  batch_id: z.string(),
  method: z.literal("percentile_bootstrap"),
  resamples: z.number().int().positive(),
  level: z.number(),
  runs: z.number().int().nonnegative(),
  factors: z.array(z.string()),
  cells: z.array(Group.extend({
    cell: z.string(),
    levels: z.record(z.string(), z.string().nullable()),
  })),
  by_factor: z.array(z.object({
    factor: z.string(),
    levels: z.array(Group.extend({ level: z.string() })),
  })),
  differences: z.array(z.object({
    /** A factor, or `cell`. */
    factor: z.string(),
    a: z.string(),
    b: z.string(),
    figure: z.string(),
    /** mean(b) − mean(a), with its bootstrap interval. */
    difference: Ci,
    /** Whether the two groups' own intervals overlap (a stricter, conservative test). */
    intervals_overlap: z.boolean().nullable(),
    /** The difference's interval excludes 0. */
    larger_than_interval: z.boolean(),
  })),
});
/** The `--json` output of `analyze --batch`. */
export type BatchComparison = z.infer<typeof BatchComparison>;

/** One analysed run of a batch. */
export interface BatchRunAnalysis {
  run: BatchRun;
  analysis: RunAnalysis;
}

/** Options of {@linkcode compareBatch}. */
export interface CompareBatchOptions {
  /** Bootstrap resamples. @default 2000 */
  resamples?: number;
  /** Seed of every interval (each figure of each group derives its own). @default 1 */
  seed?: number;
  /** Pairs of cells are compared when there are at most this many cells. @default 10 */
  maxCellPairs?: number;
}

/**
 * The figure of one run, or null when the run has none (no reply reported
 * tokens/s; no story to drift from).
 */
export function runFigure(a: RunAnalysis, figure: BatchFigure): number | null {
  switch (figure) {
    case "tokens_per_second":
      return a.overall.tokens_per_second.n > 0 ? a.overall.tokens_per_second.mean : null;
    case "ttft_ms":
      return a.overall.time_to_first_token_ms.n > 0 ? a.overall.time_to_first_token_ms.mean : null;
    case "turns":
      return a.conversation.turns;
    case "completion_rate":
      return a.conversation.status === "completed" ? 1 : 0;
    case "loop_rate":
      return a.dialogue.loop.detected || a.conversation.stop_reason === "loop" ? 1 : 0;
    case "stale_rate":
      return a.dialogue.stale.detected ? 1 : 0;
    case "distinct_2":
      return a.dialogue.turns > 0 ? a.dialogue.diversity.overall.distinct_2 : null;
    case "repetition":
      return a.dialogue.repetition.eligible_turns > 0 ? a.dialogue.repetition.rate : null;
    case "sentiment":
      return a.sentiment.overall.n > 0 ? a.sentiment.overall.mean : null;
    case "drift": {
      const s = a.topic_drift.setting_similarity;
      return s === null || a.dialogue.turns === 0 ? null : 1 - s.overall;
    }
  }
}

/**
 * Groups, intervals and differences of a batch's runs.
 *
 * @example
 * ```ts ignore
 * const comparison = compareBatch(id, runs.map(({ run, transcript }) =>
 *   ({ run, analysis: analyzeRun(transcript) })));
 * ```
 */
export function compareBatch(
  batchId: string,
  runs: readonly BatchRunAnalysis[],
  options: CompareBatchOptions = {},
): BatchComparison {
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const seed = options.seed ?? 1;
  const boot = { resamples, seed };
  const values = (group: readonly BatchRunAnalysis[], figure: BatchFigure) =>
    group.map((r) => runFigure(r.analysis, figure)).filter((v): v is number => v !== null);
  const figures = (name: string, group: readonly BatchRunAnalysis[]) =>
    Object.fromEntries(BATCH_FIGURES.map((f) => [
      f,
      bootstrapMean(values(group, f), { ...boot, seed: seedFromText(`${name}|${f}`, seed) }),
    ]));

  const cellIds = [...new Set(runs.map((r) => r.run.cell.id))].sort(_byCellNumber);
  const cellGroups = cellIds.map((id) => ({ id, runs: runs.filter((r) => r.run.cell.id === id) }));
  const cells = cellGroups.map(({ id, runs: group }) => ({
    cell: id,
    levels: { ...group[0]!.run.cell.levels } as Record<string, string | null>,
    runs: group.length,
    figures: figures(`cell:${id}`, group),
  }));
  const factors = FACTORS.filter((f) =>
    new Set(runs.map((r) => r.run.cell.levels[f])).size > 1
  ) as Factor[];
  const byFactor = factors.map((factor) => {
    const levels = [...new Set(runs.map((r) => r.run.cell.levels[factor] ?? "–"))];
    return {
      factor,
      groups: levels.map((level) => ({
        level,
        runs: runs.filter((r) => (r.run.cell.levels[factor] ?? "–") === level),
      })),
    };
  });

  const differences: BatchComparison["differences"] = [];
  const compare = (
    factor: string,
    groups: readonly { name: string; runs: readonly BatchRunAnalysis[] }[],
    own: (name: string) => BatchComparison["cells"][number]["figures"],
  ) => {
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const a = groups[i]!, b = groups[j]!;
        for (const figure of BATCH_FIGURES) {
          const d = bootstrapDifference(values(a.runs, figure), values(b.runs, figure), {
            ...boot,
            seed: seedFromText(`${factor}|${a.name}|${b.name}|${figure}`, seed),
          });
          if (!d) continue;
          const ca = own(a.name)[figure], cb = own(b.name)[figure];
          const overlap = ca?.low == null || cb?.low == null
            ? null
            : ca.low <= cb.high! && cb.low <= ca.high!;
          differences.push({
            factor,
            a: a.name,
            b: b.name,
            figure,
            difference: d,
            intervals_overlap: overlap,
            larger_than_interval: d.low !== null && (d.low > 0 || d.high! < 0),
          });
        }
      }
    }
  };
  const byFactorOut = byFactor.map(({ factor, groups }) => ({
    factor,
    levels: groups.map((g) => ({
      level: g.level,
      runs: g.runs.length,
      figures: figures(`${factor}:${g.level}`, g.runs),
    })),
  }));
  for (const { factor, levels } of byFactorOut) {
    const groups = byFactor.find((f) => f.factor === factor)!.groups;
    compare(
      factor,
      groups.map((g) => ({ name: g.level, runs: g.runs })),
      (name) => levels.find((l) => l.level === name)!.figures,
    );
  }
  if (cellGroups.length > 1 && cellGroups.length <= (options.maxCellPairs ?? 10)) {
    compare(
      "cell",
      cellGroups.map((g) => ({ name: g.id, runs: g.runs })),
      (name) => cells.find((c) => c.cell === name)!.figures,
    );
  }
  return {
    schema_version: 1,
    kind: "batch",
    batch_id: batchId,
    method: "percentile_bootstrap",
    resamples,
    level: 0.95,
    runs: runs.length,
    factors,
    cells,
    by_factor: byFactorOut,
    differences,
  };
}

function _byCellNumber(a: string, b: string): number {
  return Number(a.slice(1)) - Number(b.slice(1));
}
