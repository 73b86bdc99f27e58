/** A run's own generation settings, applied by the pools over their own. */
import { assert, assertEquals } from "../helpers/assert.ts";
import { applyRunOverrides, runOverrides } from "../../lib/config/run_overrides.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { redactConfig } from "../../lib/config/redaction.ts";

Deno.test("runOverrides() reads a stored config's topic, temperatures, seed, prompts and reply length", () => {
  const stored = redactConfig(parseConfig({
    manager: { topic: "tea" },
    generation: { temperature: 0.3, seed: 9 },
    agents: { agent2: { temperature: 1.1 } },
    conversation: { max_reply_tokens: 120 },
    prompts: { first_turn: "Hello {{partner}}" },
  }));
  assertEquals(runOverrides(stored), {
    topic: "tea",
    temperature: 0.3,
    agent2_temperature: 1.1,
    seed: 9,
    max_reply_tokens: 120,
    first_turn: "Hello {{partner}}",
  });
});

Deno.test("runOverrides() leaves out what is absent or malformed: the pool's own settings apply", () => {
  assertEquals(runOverrides(undefined), {});
  assertEquals(
    runOverrides({
      generation: { seed: 1.5, temperature: 9 },
      prompts: { scenario: { file: "x" } },
    }),
    {},
  );
});

Deno.test("applyRunOverrides() changes only the run's fields and leaves the pool's config as it was", () => {
  const pool = parseConfig({ generation: { temperature: 0.8 }, manager: { topic: "pool" } });
  const run = applyRunOverrides(pool, { topic: "run", seed: 4, agent1_temperature: 0.1 });
  assertEquals(run.manager.topic, "run");
  assertEquals(run.generation.seed, 4);
  assertEquals(run.generation.temperature, 0.8);
  assertEquals(run.agents.agent1.temperature, 0.1);
  assertEquals(run.redis, pool.redis);
  assertEquals(pool.manager.topic, "pool");
  assert(pool.generation.seed === undefined);
  assert(applyRunOverrides(pool, {}) === pool, "nothing to apply: the same object");
});
