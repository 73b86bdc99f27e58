/**
 * The batch file: its schema, the one-line-per-problem errors, JSONC, and
 * the story and prompt files it names.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../helpers/assert.ts";
import { parseBatchFile, readBatchFile, resolveBatchFile } from "../../lib/batch/batch_file.ts";
import { DialogueError } from "../../lib/base/dialogue_error.ts";

const STORY = new URL("../fixtures/story.json", import.meta.url).pathname;

const isUsage = (error: Error) => error instanceof DialogueError && error.code === "usage";

function problems(value: unknown): string[] {
  try {
    parseBatchFile(value);
  } catch (error) {
    assert(error instanceof DialogueError, String(error));
    assertEquals(error.code, "usage");
    return error.message.split("\n");
  }
  throw new Error("expected the batch file to be refused");
}

Deno.test("parseBatchFile() takes the smallest file and fills the defaults", async () => {
  const file = parseBatchFile({
    models: ["llama3.2", "qwen2.5:0.5b"],
    topics: ["a", "b"],
    seeds: [1, 2],
  });
  assertEquals(file.repeats, 1);
  assertEquals(file.max_parallel, 4);
  const spec = await resolveBatchFile(file);
  assertEquals(spec.agent1_models, ["llama3.2", "qwen2.5:0.5b"]);
  assertEquals(spec.agent2_models, ["llama3.2", "qwen2.5:0.5b"]);
  assertEquals(spec.seeds, [1, 2]);
  assertEquals(spec.max_turns, null);
});

Deno.test("parseBatchFile() pairs agent1_models with agent2_models and reads a duration with a unit", async () => {
  const spec = await resolveBatchFile(parseBatchFile({
    agent1_models: ["a", "b"],
    agent2_models: ["c", "d"],
    duration: "10m",
    max_turns: 8,
  }));
  assertEquals([spec.agent1_models, spec.agent2_models], [["a", "b"], ["c", "d"]]);
  assertEquals(spec.duration_seconds, 600);
  assertEquals(spec.max_turns, 8);
});

Deno.test("a bad batch file gets one line per problem, each naming its field", () => {
  const lines = problems({
    models: [],
    topics: ["x"],
    seeds: [1, 1],
    temperatures: [3],
    max_parallel: 0,
    colour: "blue",
  });
  assertEquals(lines.length, 5, lines.join("\n"));
  const text = lines.join("\n");
  for (const field of ["models", "seeds", "temperatures.0", "max_parallel"]) {
    assertStringIncludes(text, `Invalid batch file field ${field}`);
  }
  assertStringIncludes(
    text,
    `Unknown batch file field "colour" at the top level: expected one of models,`,
  );
  assertStringIncludes(text, "each seed once");
});

Deno.test("models are required, once: a list, or two paired lists of one length", () => {
  assertEquals(problems({ topics: ["x"] }), [
    "Invalid batch file field models (required: a list of models, or agent1_models with agent2_models)",
  ]);
  assertStringIncludes(
    problems({ models: ["a"], agent1_models: ["a"], agent2_models: ["b"] })[0]!,
    "give models, or agent1_models with agent2_models, not both",
  );
  assertEquals(problems({ agent1_models: ["a", "b"], agent2_models: ["c"] }), [
    `Invalid batch file field agent2_models: got ["c"] (pairs with the other list: expected 2 models, got 1)`,
  ]);
  assertStringIncludes(
    problems({ models: ["a"], topics: ["x"], story_files: ["s.json"] })[0]!,
    "(give topics or story_files, not both)",
  );
  assertStringIncludes(problems({ models: ["a"], duration: "soon" })[0]!, "field duration");
});

Deno.test("readBatchFile() reads JSONC and refuses a file that is not JSON in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = `${dir}/batch.jsonc`;
    await Deno.writeTextFile(
      good,
      `{
      // two models
      "models": ["a", "b"],
      "topics": ["x",],
    }`,
    );
    assertEquals((await readBatchFile(good)).topics, ["x"]);
    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, `{"models": [`);
    const error = await assertRejects(() => readBatchFile(bad), isUsage);
    assertEquals(error.message.split("\n").length, 1);
    assertStringIncludes(error.message, `Cannot parse batch file ${bad} as JSON`);
    const missing = await assertRejects(() => readBatchFile(`${dir}/none.json`), isUsage);
    assertStringIncludes(missing.message, "batch file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveBatchFile() reads story files and prompt files, naming each bad one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/system.txt`, "You are {{name}}. {{format_instructions}}");
    const spec = await resolveBatchFile(parseBatchFile({
      models: ["a"],
      story_files: [STORY],
      prompts: { terse: { agent_system: { file: `${dir}/system.txt` } }, plain: {} },
    }));
    assertEquals(spec.stories?.[0]?.file, STORY);
    assertEquals(spec.stories?.[0]?.scenario.personas.length, 2);
    assertEquals(spec.prompts?.terse?.agent_system, "You are {{name}}. {{format_instructions}}");
    const error = await assertRejects(
      () =>
        resolveBatchFile(parseBatchFile({
          models: ["a"],
          story_files: [`${dir}/none.json`],
          prompts: { odd: { first_turn: "{{weather}}" } },
        })),
      isUsage,
    );
    const lines = error.message.split("\n");
    assertEquals(lines.length, 2, error.message);
    assertStringIncludes(lines[0]!, "story_files:");
    assertStringIncludes(lines[1]!, "prompts.odd.first_turn:");
    assertStringIncludes(lines[1]!, "{{weather}}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
