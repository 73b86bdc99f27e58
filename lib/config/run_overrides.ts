/**
 * The generation settings a run carries in its stored configuration
 * (`meta.config`) that the pools apply to that run instead of their own:
 * the topic, temperatures, seed, prompt templates and reply length. Pools
 * serve many runs made with different settings (`deno task batch`), so the
 * run, not the pool process, says how it is generated.
 *
 * @module
 */
import { z } from "zod";
import type { Config } from "./config.ts";
import { PROMPT_MAX_CHARS } from "./config_files.ts";

// Stored text is read back from Redis: bounded as the config bounds it.
const text = z.string().min(1).max(PROMPT_MAX_CHARS);

/** The per-run generation settings read from a stored configuration. */
export const RunOverrides = z.object({
  topic: z.string().min(1).max(2000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  agent1_temperature: z.number().min(0).max(2).optional(),
  agent2_temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().optional(),
  max_reply_tokens: z.number().int().positive().optional(),
  scenario: text.optional(),
  agent_system: text.optional(),
  first_turn: text.optional(),
});
/** The per-run generation settings read from a stored configuration. */
export type RunOverrides = z.infer<typeof RunOverrides>;

/**
 * The settings of {@linkcode RunOverrides} found in a run's stored config;
 * fields absent or of the wrong type are left out (the pool's own apply).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { runOverrides } from "./run_overrides.ts";
 * deepStrictEqual(
 *   runOverrides({ manager: { topic: "tea" }, generation: { seed: 3, temperature: "hot" } }),
 *   { topic: "tea", seed: 3 },
 * );
 * ```
 */
export function runOverrides(stored: unknown): RunOverrides {
  const at = (...path: string[]): unknown => {
    let cur = stored;
    for (const key of path) {
      if (typeof cur !== "object" || cur === null) return undefined;
      cur = (cur as Record<string, unknown>)[key];
    }
    return cur;
  };
  const candidate: Record<string, unknown> = {
    topic: at("manager", "topic"),
    temperature: at("generation", "temperature"),
    agent1_temperature: at("agents", "agent1", "temperature"),
    agent2_temperature: at("agents", "agent2", "temperature"),
    seed: at("generation", "seed"),
    max_reply_tokens: at("conversation", "max_reply_tokens"),
    scenario: at("prompts", "scenario"),
    agent_system: at("prompts", "agent_system"),
    first_turn: at("prompts", "first_turn"),
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(candidate)) {
    const field = RunOverrides.shape[key as keyof RunOverrides];
    if (value !== undefined && field.safeParse(value).success) out[key] = value;
  }
  return out as RunOverrides;
}

/**
 * `config` with a run's overrides applied: shallow copies of the sections
 * that change, so it is cheap enough to do per turn.
 */
export function applyRunOverrides(config: Config, o: RunOverrides): Config {
  if (Object.keys(o).length === 0) return config;
  const pick = <T>(value: T | undefined, fallback: T): T => value ?? fallback;
  return {
    ...config,
    manager: { ...config.manager, topic: pick(o.topic, config.manager.topic) },
    generation: {
      ...config.generation,
      temperature: pick(o.temperature, config.generation.temperature),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    },
    agents: {
      ...config.agents,
      agent1: {
        ...config.agents.agent1,
        ...(o.agent1_temperature !== undefined ? { temperature: o.agent1_temperature } : {}),
      },
      agent2: {
        ...config.agents.agent2,
        ...(o.agent2_temperature !== undefined ? { temperature: o.agent2_temperature } : {}),
      },
    },
    conversation: {
      ...config.conversation,
      max_reply_tokens: pick(o.max_reply_tokens, config.conversation.max_reply_tokens),
    },
    prompts: {
      ...config.prompts,
      ...(o.scenario !== undefined ? { scenario: o.scenario } : {}),
      ...(o.agent_system !== undefined ? { agent_system: o.agent_system } : {}),
      ...(o.first_turn !== undefined ? { first_turn: o.first_turn } : {}),
    },
  };
}
