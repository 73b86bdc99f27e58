/** Expanding a batch into cells and runs, and each run's configuration. */
import { assert, assertEquals } from "../helpers/assert.ts";
import { expandCells, expandRuns, varyingFactors } from "../../lib/batch/batch_matrix.ts";
import { runConfig } from "../../lib/batch/batch_run_config.ts";
import type { BatchSpec } from "../../lib/batch/batch_file.ts";
import { agentTemperature, parseConfig } from "../../lib/config/config.ts";

function spec(over: Partial<BatchSpec> = {}): BatchSpec {
  return {
    agent1_models: ["a", "b"],
    agent2_models: ["a", "b"],
    backends: null,
    topics: ["x", "y", "z"],
    stories: null,
    prompts: null,
    temperatures: null,
    seeds: [1, 2, 3],
    repeats: 1,
    max_turns: 6,
    duration_seconds: null,
    max_parallel: 4,
    ...over,
  };
}

Deno.test("expandRuns() gives models × topics × seeds runs with keys unique and stable", () => {
  const runs = expandRuns(spec());
  assertEquals(runs.length, 18);
  assertEquals(new Set(runs.map((r) => r.key)).size, 18);
  assertEquals(expandRuns(spec()).map((r) => r.key), runs.map((r) => r.key));
  // Replicates outermost: the first six runs cover every cell once.
  assertEquals(runs.slice(0, 6).map((r) => r.cell.id), ["c1", "c2", "c3", "c4", "c5", "c6"]);
  assertEquals(runs.slice(0, 6).every((r) => r.seed === 1), true);
  assertEquals(runs[6]!.key, "c1/s2/r1");
});

Deno.test("expandCells() pairs agent1_models with agent2_models and crosses every other factor", () => {
  const cells = expandCells(spec({
    agent1_models: ["a", "b"],
    agent2_models: ["c", "d"],
    backends: ["ollama", "openai"],
    topics: ["x"],
    prompts: { p: {}, q: { first_turn: "Hi {{partner}}" } },
    temperatures: [0.2, 1],
  }));
  assertEquals(cells.length, 2 * 2 * 1 * 2 * 2);
  assertEquals(new Set(cells.map((c) => c.levels.models)), new Set(["a × c", "b × d"]));
  assertEquals(cells[0]!.levels, {
    models: "a × c",
    backend: "ollama",
    topic: "x",
    story: null,
    prompt: "p",
    temperature: "0.2",
  });
  assertEquals(varyingFactors(cells), ["models", "backend", "prompt", "temperature"]);
});

Deno.test("expandRuns() with no seeds and repeats runs each cell that often", () => {
  const runs = expandRuns(spec({ seeds: null, repeats: 3, topics: null }));
  assertEquals(runs.length, 2 * 3);
  assertEquals(runs.map((r) => r.key).slice(0, 3), ["c1/s-/r1", "c2/s-/r1", "c1/s-/r2"]);
  assertEquals(runs.every((r) => r.seed === null && r.cell.topic === null), true);
});

Deno.test("expandCells() uses story files as the theme when given", () => {
  const scenario = {
    story: { setting: "s", characters: ["A", "B"], initial_situation: "i" },
    personas: [],
  } as unknown as NonNullable<BatchSpec["stories"]>[number]["scenario"];
  const cells = expandCells(spec({
    topics: null,
    stories: [{ file: "one.json", scenario }, { file: "two.json", scenario }],
  }));
  assertEquals(cells.map((c) => c.story?.file), ["one.json", "two.json", "one.json", "two.json"]);
  assertEquals(varyingFactors(cells), ["models", "story"]);
});

Deno.test("runConfig() lays the run's models, topic, temperature, seed, prompts and limits over the base", () => {
  const base = parseConfig({
    generation: { temperature: 0.8 },
    agents: { agent2: { temperature: 1.2 } },
    conversation: { max_turns: 50 },
  });
  const s = spec({
    agent1_models: ["a"],
    agent2_models: ["b"],
    temperatures: [0.3],
    prompts: { terse: { agent_system: "Be {{name}}. {{format_instructions}}" } },
    duration_seconds: 90,
  });
  const run = expandRuns(s).find((r) => r.seed === 2 && r.cell.topic === "y")!;
  const config = runConfig(base, s, run);
  assertEquals(config.agents.agent1.model, "a");
  assertEquals(config.agents.agent2.model, "b");
  assertEquals(config.manager.topic, "y");
  assertEquals(config.generation.temperature, 0.3);
  assertEquals([agentTemperature(config, 1), agentTemperature(config, 2)], [0.3, 0.3]);
  assertEquals(config.generation.seed, 2);
  assertEquals(config.conversation.max_turns, 6);
  assertEquals(config.conversation.duration_seconds, 90);
  assertEquals(config.prompts.agent_system, "Be {{name}}. {{format_instructions}}");
  assert(base.generation.seed === undefined, "the base is not changed");
});
