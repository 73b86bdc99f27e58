/**
 * The page's "start a run" form: its fields (validated by zod) and the
 * configuration layer and scenario they give. Pure; the route merges the
 * layer over the server's configuration and calls `createConversation`.
 *
 * @module
 */
import { z } from "zod";
import { Scenario } from "../model/story.ts";
import type { ConfigLayer } from "../config/config.ts";

const model = z.string().trim().max(200).optional();

/** What the form sends; an absent field keeps the server's configuration. */
export const RunForm = z.strictObject({
  topic: z.string().trim().max(2000).optional(),
  /** A story file's JSON text (shape of `tests/fixtures/story.json`). */
  story: z.string().max(1_000_000).optional(),
  manager_model: model,
  agent1_model: model,
  agent2_model: model,
  backend: z.enum(["auto", "ollama", "openai", "embedded"]).optional(),
  max_turns: z.number().int().min(1).max(10_000).optional(),
  duration_seconds: z.number().positive().max(7 * 24 * 3600).optional(),
});
/** What the form sends. */
export type RunForm = z.infer<typeof RunForm>;

/** What a form asks for. */
export interface RunRequest {
  layer: ConfigLayer;
  scenario?: Scenario;
}

/**
 * The configuration layer and scenario of a form. Empty strings count as
 * absent, so a blank field keeps the configured value.
 *
 * @throws {RangeError} when `story` is not a valid story (the message names the problem).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { runRequest } from "./run_form.ts";
 * deepStrictEqual(runRequest({ topic: "tea", agent1_model: "a", max_turns: 4 }).layer, {
 *   manager: { topic: "tea" },
 *   agents: { agent1: { model: "a" } },
 *   conversation: { max_turns: 4 },
 * });
 * ```
 */
export function runRequest(form: RunForm): RunRequest {
  const layer: Record<string, Record<string, unknown>> = {};
  const put = (section: string, key: string, value: unknown) => {
    if (value === undefined || value === "") return;
    (layer[section] ??= {})[key] = value;
  };
  put("manager", "topic", form.topic);
  put("manager", "model", form.manager_model);
  if (form.agent1_model) put("agents", "agent1", { model: form.agent1_model });
  if (form.agent2_model) {
    layer.agents = { ...layer.agents, agent2: { model: form.agent2_model } };
  }
  if (form.backend) {
    (layer as ConfigLayer).backend = form.backend;
    put("agents", "backend", form.backend);
    put("manager", "backend", form.backend);
  }
  put("conversation", "max_turns", form.max_turns);
  put("conversation", "duration_seconds", form.duration_seconds);
  const out: RunRequest = { layer };
  if (form.story?.trim()) out.scenario = _scenario(form.story);
  return out;
}

function _scenario(text: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RangeError(`Cannot read the story as it is not JSON: ${(error as Error).message}`);
  }
  const parsed = Scenario.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new RangeError(
    `Cannot use the story as ${issue?.path.join(".") || "it"} is invalid: ${issue?.message}`,
  );
}
