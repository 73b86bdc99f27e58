/**
 * The configuration of one batch run: the batch's base configuration (the
 * `--config` file, the environment and the flags) with the run's cell,
 * seed and limits laid over it.
 *
 * @module
 */
import { type Config, parseConfig } from "../config/config.ts";
import { type ConfigLayer, mergeLayers } from "../config/config_layer.ts";
import type { BatchSpec } from "./batch_file.ts";
import type { BatchRun } from "./batch_matrix.ts";

/**
 * The layer a run adds over the base configuration.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { runLayer } from "./batch_run_config.ts";
 * const cell = {
 *   id: "c1", agent1_model: "a", agent2_model: "b", backend: null, topic: "tea",
 *   story: null, prompt: null, temperature: 0.5,
 *   levels: { models: "a × b", backend: null, topic: "tea", story: null, prompt: null, temperature: "0.5" },
 * };
 * const spec = {
 *   agent1_models: ["a"], agent2_models: ["b"], backends: null, topics: ["tea"], stories: null,
 *   prompts: null, temperatures: [0.5], seeds: [7], repeats: 1, max_turns: 4,
 *   duration_seconds: null, max_parallel: 1,
 * };
 * deepStrictEqual(runLayer(spec, { key: "c1/s7/r1", cell, seed: 7, repeat: 1 }), {
 *   agents: { agent1: { model: "a", temperature: 0.5 }, agent2: { model: "b", temperature: 0.5 } },
 *   manager: { topic: "tea" },
 *   generation: { temperature: 0.5, seed: 7 },
 *   conversation: { max_turns: 4 },
 * });
 * ```
 */
export function runLayer(spec: BatchSpec, run: BatchRun): ConfigLayer {
  const { cell } = run;
  const temperature = cell.temperature === null ? {} : { temperature: cell.temperature };
  const generation: Record<string, number> = {};
  if (cell.temperature !== null) generation.temperature = cell.temperature;
  if (run.seed !== null) generation.seed = run.seed;
  const conversation: Record<string, number> = {};
  if (spec.max_turns !== null) conversation.max_turns = spec.max_turns;
  if (spec.duration_seconds !== null) conversation.duration_seconds = spec.duration_seconds;
  return {
    ...(cell.backend !== null ? { backend: cell.backend } : {}),
    // The cell's temperature is both agents' (over a per-agent one in the base) and the manager's.
    agents: {
      agent1: { model: cell.agent1_model, ...temperature },
      agent2: { model: cell.agent2_model, ...temperature },
    },
    ...(cell.topic !== null ? { manager: { topic: cell.topic } } : {}),
    ...(Object.keys(generation).length > 0 ? { generation } : {}),
    ...(Object.keys(conversation).length > 0 ? { conversation } : {}),
    ...(cell.prompt !== null && spec.prompts?.[cell.prompt]
      ? { prompts: spec.prompts[cell.prompt] }
      : {}),
  };
}

/**
 * The run's configuration, validated.
 *
 * @throws {DialogueError} `usage` when the combination is invalid.
 */
export function runConfig(base: Config, spec: BatchSpec, run: BatchRun): Config {
  return parseConfig(mergeLayers(base as unknown as ConfigLayer, runLayer(spec, run)));
}
