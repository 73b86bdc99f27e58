/**
 * Expanding a batch into its runs. A **cell** is one combination of the
 * factors (model pair, backend, topic or story, prompt variant,
 * temperature); a **run** is a cell with one seed and one repeat — the
 * replicates the statistics resample. Pure, so the order and the keys are
 * the same on every `--resume`.
 *
 * @module
 */
import type { BatchSpec } from "./batch_file.ts";

/** The factors a cell is a combination of, in the order they vary. */
export const FACTORS = ["models", "backend", "topic", "story", "prompt", "temperature"] as const;
/** One of {@linkcode FACTORS}. */
export type Factor = typeof FACTORS[number];

/** One combination of factor levels. */
export interface BatchCell {
  /** `c1`, `c2`, … in matrix order. */
  id: string;
  agent1_model: string;
  agent2_model: string;
  backend: string | null;
  topic: string | null;
  /** Index into `spec.stories`, and its file. */
  story: { index: number; file: string } | null;
  prompt: string | null;
  temperature: number | null;
  /** Each factor's level as shown in reports (`models` is `agent1 × agent2`). */
  levels: Record<Factor, string | null>;
}

/** One run of a cell. */
export interface BatchRun {
  /** `c3/s2/r1`: cell, seed, repeat; stable across resumes. */
  key: string;
  cell: BatchCell;
  seed: number | null;
  /** 1-based. */
  repeat: number;
}

/**
 * The cells of a batch, in matrix order (the first factor varies slowest).
 *
 * @example 2 model pairs × 3 topics
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { expandCells } from "./batch_matrix.ts";
 * const cells = expandCells({
 *   agent1_models: ["a", "b"], agent2_models: ["a", "b"], backends: null,
 *   topics: ["x", "y", "z"], stories: null, prompts: null, temperatures: null,
 *   seeds: null, repeats: 1, max_turns: null, duration_seconds: null, max_parallel: 4,
 * });
 * strictEqual(cells.length, 6);
 * strictEqual(cells[4]!.levels.models, "b × b");
 * ```
 */
export function expandCells(spec: BatchSpec): BatchCell[] {
  const pairs = spec.agent1_models.map((a, i) => [a, spec.agent2_models[i]!] as const);
  const backends = spec.backends ?? [null];
  const themes: ({ topic: string } | { story: number } | null)[] = spec.topics
    ? spec.topics.map((topic) => ({ topic }))
    : spec.stories
    ? spec.stories.map((_, story) => ({ story }))
    : [null];
  const prompts = spec.prompts ? Object.keys(spec.prompts) : [null];
  const temperatures = spec.temperatures ?? [null];
  const cells: BatchCell[] = [];
  for (const [agent1, agent2] of pairs) {
    for (const backend of backends) {
      for (const theme of themes) {
        for (const prompt of prompts) {
          for (const temperature of temperatures) {
            const topic = theme && "topic" in theme ? theme.topic : null;
            const storyIndex = theme && "story" in theme ? theme.story : null;
            const story = storyIndex === null
              ? null
              : { index: storyIndex, file: spec.stories![storyIndex]!.file };
            cells.push({
              id: `c${cells.length + 1}`,
              agent1_model: agent1,
              agent2_model: agent2,
              backend,
              topic,
              story,
              prompt,
              temperature,
              levels: {
                models: `${agent1} × ${agent2}`,
                backend,
                topic,
                story: story?.file ?? null,
                prompt,
                temperature: temperature === null ? null : String(temperature),
              },
            });
          }
        }
      }
    }
  }
  return cells;
}

/**
 * Every run of a batch: replicates outermost, so a batch stopped halfway
 * has covered every cell about equally.
 *
 * @example 2 models × 2 topics × 2 seeds
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { expandRuns } from "./batch_matrix.ts";
 * const runs = expandRuns({
 *   agent1_models: ["a", "b"], agent2_models: ["a", "b"], backends: null,
 *   topics: ["x", "y"], stories: null, prompts: null, temperatures: null,
 *   seeds: [1, 2], repeats: 1, max_turns: null, duration_seconds: null, max_parallel: 4,
 * });
 * deepStrictEqual(runs.slice(0, 5).map((r) => r.key), ["c1/s1/r1", "c2/s1/r1", "c3/s1/r1", "c4/s1/r1", "c1/s2/r1"]);
 * ```
 */
export function expandRuns(spec: BatchSpec): BatchRun[] {
  const cells = expandCells(spec);
  const seeds = spec.seeds ?? [null];
  const runs: BatchRun[] = [];
  for (let repeat = 1; repeat <= spec.repeats; repeat++) {
    for (const seed of seeds) {
      for (const cell of cells) {
        runs.push({
          key: `${cell.id}/s${seed ?? "-"}/r${repeat}`,
          cell,
          seed,
          repeat,
        });
      }
    }
  }
  return runs;
}

/** The factors whose levels differ between cells: the ones worth comparing. */
export function varyingFactors(cells: readonly BatchCell[]): Factor[] {
  return FACTORS.filter((f) => new Set(cells.map((c) => c.levels[f])).size > 1);
}
