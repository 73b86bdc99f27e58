import assert from "node:assert/strict";
import {
  parseScenarioReply,
  readScenarioFile,
  writeScenario,
} from "../../lib/manager/scenario_writer.ts";
import { type Fault, OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { OllamaBackend } from "../../lib/llm/ollama/ollama_backend.ts";
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

async function withDouble<T>(faults: Fault[], fn: (backend: OllamaBackend) => Promise<T>) {
  const double = await OllamaDouble.start({ splitUtf8: false });
  try {
    for (const fault of faults) double.enqueueFault(fault);
    return await fn(new OllamaBackend({ host: double.url }));
  } finally {
    await double.close();
  }
}

Deno.test("writeScenario() says each attempt as it starts and each failure before its retry", async () => {
  const progress: string[] = [];
  const scenario = await withDouble(
    [{ kind: "status", status: 503 }],
    (backend) =>
      writeScenario(backend, {
        model: "tiny",
        topic: "a storm",
        onProgress: (text) => progress.push(text),
      }),
  );
  assert.ok(scenario.personas.length === 2);
  assert.equal(progress[0], "Writing the scenario with tiny…");
  assert.match(progress[1] ?? "", /^Scenario attempt 1\/3 failed: .*answered 503.*; retrying$/);
  assert.equal(progress[2], "Writing the scenario with tiny (attempt 2/3)…");
  assert.equal(progress.length, 3);
});

Deno.test("writeScenario() with a hanging server fails at its budget, not after 3 request timeouts, saying so", async () => {
  const progress: string[] = [];
  const started = Date.now();
  const error = await withDouble([{ kind: "hang" }], (backend) =>
    writeScenario(backend, {
      model: "tiny",
      topic: "a storm",
      budgetMs: 700,
      onProgress: (text) => progress.push(text),
    }).then(() => undefined, (e) => e));
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.ok(error instanceof DialogueError, String(error));
  assert.match(
    error.message,
    /^Cannot write the scenario with 'tiny' as it did not finish within 1 s/,
  );
  assert.match(
    error.message,
    /no reply from the model\): check the server, raise ollama\.request_timeout_ms/,
  );
  assert.deepEqual(progress, ["Writing the scenario with tiny…"]);
});

Deno.test("writeScenario() blames a busy server, not the model, and says no 'retrying' after the last attempt", async () => {
  const progress: string[] = [];
  const error = await withDouble(
    [1, 2, 3].map(() => ({ kind: "status", status: 503 }) as Fault),
    (backend) =>
      writeScenario(backend, {
        model: "tiny",
        topic: "a storm",
        onProgress: (text) => progress.push(text),
      }).then(() => undefined, (e) => e),
  );
  assert.ok(error instanceof DialogueError);
  assert.match(error.message, /gave no valid scenario in 3 attempts/);
  assert.match(error.message, /the server is busy or unreachable: check it/);
  assert.ok(!error.message.includes("larger model"), error.message);
  assert.equal(progress.filter((p) => p.includes("retrying")).length, 2);
  assert.ok(!progress.at(-1)!.includes("retrying"));
});

Deno.test("writeScenario() keeps the model advice when the last reply broke the schema", async () => {
  const error = await withDouble(
    [1, 2, 3].map(() => ({ kind: "invalid_schema" }) as Fault),
    (backend) =>
      writeScenario(backend, { model: "tiny", topic: "x" }).then(() => undefined, (e) => e),
  );
  assert.ok(error instanceof DialogueError);
  assert.equal(error.code, ErrorCode.InvalidOutput);
  assert.match(error.message, /try a larger model/);
});
