import assert from "node:assert/strict";
import { parseScenarioReply, readScenarioFile } from "../../lib/manager/scenario_writer.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import type { Scenario } from "../../lib/model/story.ts";

function validScenario(): Scenario {
  return {
    story: {
      setting: "A night train crossing the Alps.",
      characters: ["Noor", "Bastien"],
      initial_situation: "The train has stopped in a tunnel and the lights are flickering.",
    },
    personas: [
      {
        name: "Noor",
        background: "A retired conductor.",
        personality: "Wry and patient.",
        speaking_style: "Dry understatement.",
        goal: "Keep the passengers calm.",
      },
      {
        name: "Bastien",
        background: "A student late for an exam.",
        personality: "Restless.",
        speaking_style: "Breathless, many questions.",
        goal: "Find out when the train will move.",
      },
    ],
  };
}

async function withTempFile<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "dialogue_story_", suffix: ".json" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

async function usageRejection(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof DialogueError, String(error));
    assert.equal(error.code, ErrorCode.Usage);
    return error.message;
  }
  assert.fail("expected a usage error");
}

Deno.test("parseScenarioReply() accepts a valid scenario", () => {
  const reply = parseScenarioReply(JSON.stringify(validScenario()), "stop");
  assert.deepEqual(reply, { ok: true, scenario: validScenario() });
});

Deno.test("parseScenarioReply() trims text fields as the schema requires", () => {
  const scenario = validScenario();
  scenario.personas[0]!.name = "  Noor  ";
  const reply = parseScenarioReply(JSON.stringify(scenario), "stop");
  assert.ok(reply.ok);
  assert.equal(reply.scenario.personas[0]!.name, "Noor");
});

Deno.test("parseScenarioReply() rejects a reply cut at the length limit before parsing it", () => {
  // Even a reply that happens to parse is distrusted when the model was cut off.
  const valid = parseScenarioReply(JSON.stringify(validScenario()), "length");
  assert.equal(valid.ok, false);
  assert.ok(!valid.ok && valid.problem.includes("length limit"));
  const cut = parseScenarioReply('{"story": {"setting": "A ni', "length");
  assert.ok(!cut.ok && cut.problem.includes("length limit"));
  assert.ok(!cut.ok && !cut.problem.includes("JSON"));
});

Deno.test("parseScenarioReply() reports a reply that is not JSON", () => {
  const reply = parseScenarioReply("Sure! Here is your story: ...", "stop");
  assert.equal(reply.ok, false);
  assert.ok(!reply.ok && reply.problem.startsWith("not JSON"), !reply.ok ? reply.problem : "");
});

Deno.test("parseScenarioReply() names the path of a schema violation", () => {
  const missing = validScenario() as unknown as { story: Record<string, unknown> };
  delete missing.story.setting;
  const noSetting = parseScenarioReply(JSON.stringify(missing), "stop");
  assert.ok(!noSetting.ok && noSetting.problem.startsWith("story.setting:"));

  const onePersona = validScenario();
  onePersona.personas.pop();
  const short = parseScenarioReply(JSON.stringify(onePersona), "stop");
  assert.ok(!short.ok && short.problem.startsWith("personas:"));

  const blankGoal = validScenario();
  blankGoal.personas[1]!.goal = "   ";
  const blank = parseScenarioReply(JSON.stringify(blankGoal), "stop");
  assert.ok(!blank.ok && blank.problem.startsWith("personas.1.goal:"));
});

Deno.test("readScenarioFile() reads and validates a scenario file", async () => {
  await withTempFile(JSON.stringify(validScenario(), null, 2), async (path) => {
    assert.deepEqual(await readScenarioFile(path), validScenario());
  });
});

Deno.test("readScenarioFile() names a missing file and --story", async () => {
  const path = `/nonexistent-${crypto.randomUUID()}/story.json`;
  const message = await usageRejection(() => readScenarioFile(path));
  assert.ok(message.includes(path), message);
  assert.ok(message.includes("--story"), message);
});

Deno.test("readScenarioFile() names a file that is not JSON", async () => {
  await withTempFile("story: a train", async (path) => {
    const message = await usageRejection(() => readScenarioFile(path));
    assert.ok(message.includes(path), message);
    assert.ok(message.includes("not JSON"), message);
  });
});

Deno.test("readScenarioFile() names the file and the invalid field, and shows the expected shape", async () => {
  const scenario = validScenario() as unknown as { personas: Record<string, unknown>[] };
  delete scenario.personas[0]!.speaking_style;
  await withTempFile(JSON.stringify(scenario), async (path) => {
    const message = await usageRejection(() => readScenarioFile(path));
    assert.ok(message.includes(path), message);
    assert.ok(message.includes("personas.0.speaking_style"), message);
    assert.ok(message.includes('"initial_situation"'), message);
  });
});
