/**
 * Where a batch run came from, as a dataset line carries it: the batch, the
 * cell and its factor levels, the seed and the repeat.
 *
 * @module
 */
import type { BatchRun } from "./batch_matrix.ts";

/** The provenance of one run of a batch. */
export interface BatchProvenance {
  batch_id: string;
  cell: string;
  run: string;
  seed: number | null;
  repeat: number;
  /** Each factor's level in this cell (`models` is `agent1 × agent2`); null where it does not vary. */
  levels: Record<string, string | null>;
}

/**
 * The provenance of `run` in batch `batchId`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { batchProvenance } from "./batch_provenance.ts";
 * const cell = {
 *   id: "c2", agent1_model: "a", agent2_model: "a", backend: null, topic: "tea", story: null,
 *   prompt: null, temperature: null,
 *   levels: { models: "a × a", backend: null, topic: "tea", story: null, prompt: null, temperature: null },
 * };
 * strictEqual(batchProvenance("b1", { key: "c2/s1/r1", cell, seed: 1, repeat: 1 }).cell, "c2");
 * ```
 */
export function batchProvenance(batchId: string, run: BatchRun): BatchProvenance {
  return {
    batch_id: batchId,
    cell: run.cell.id,
    run: run.key,
    seed: run.seed,
    repeat: run.repeat,
    levels: { ...run.cell.levels },
  };
}
