import assert from "node:assert/strict";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { OllamaBackend } from "../../lib/llm/ollama/ollama_backend.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import {
  judgePersonas,
  judgePrompt,
  parseVerdict,
  PERSONA_VERDICT_JSON_SCHEMA,
  PersonaJudgement,
} from "../../lib/analysis/persona_judge.ts";
import { Scenario } from "../../lib/model/story.ts";

const SCENARIO = Scenario.parse(
  JSON.parse(await Deno.readTextFile(new URL("../fixtures/story.json", import.meta.url))),
);

const LINES = [
  "Lamp's dead. Ship's close. We move now.",
  "But what if the lens motor could run from the generator? Could we? Should we?",
  "Untested. Risky. Fetch the cable.",
  "Yes! And the fuse? And the ladder? Which first?",
];

const RESPONSES = LINES.map((content, i) =>
  DialogMessage.parse({
    queue_timestamp: 1_000 + i,
    message_id: `r${i + 1}`,
    role: "assistant",
    content,
    metadata: { conversation_id: "c1", sequence_number: i + 1, agent_id: (i % 2) + 1 },
  })
);

async function withDouble(fn: (double: OllamaDouble, backend: OllamaBackend) => Promise<void>) {
  const double = await OllamaDouble.start();
  try {
    await fn(double, new OllamaBackend({ host: double.url }));
  } finally {
    await double.close();
  }
}

Deno.test("judgePersonas() scores each agent on the rubric through structured output", async () => {
  await withDouble(async (double, backend) => {
    const j = await judgePersonas(backend, SCENARIO, RESPONSES, { model: "tiny" });
    PersonaJudgement.parse(j);
    assert.equal(j.judged_by, "model");
    assert.equal(j.model, "tiny");
    for (const k of ["1", "2"] as const) {
      const a = j.agents[k];
      assert.ok(a.scores, `agent ${k} scored`);
      for (const v of Object.values(a.scores)) assert.ok(Number.isInteger(v) && v >= 1 && v <= 5);
      assert.ok(a.mean !== null && a.mean >= 1 && a.mean <= 5);
      assert.equal(a.attempts, 1);
      assert.equal(a.error, null);
    }
    assert.equal(j.agents["1"].persona, "Mara");
    const chats = double.requests.filter((r) => r.path === "/api/chat");
    assert.equal(chats.length, 2);
    const body = chats[0]?.body as {
      format: unknown;
      options: { temperature: number };
      messages: { content: string }[];
    };
    assert.deepEqual(body.format, PERSONA_VERDICT_JSON_SCHEMA);
    assert.equal(body.options.temperature, 0);
    const prompt = body.messages.at(-1)?.content ?? "";
    assert.ok(prompt.includes("Relight the lamp before the ship arrives"), "agent 1's goal");
    assert.ok(prompt.includes("[turn 3] Untested. Risky."), "agent 1's lines");
    assert.ok(!prompt.includes("lens motor"), "not agent 2's lines");
  });
});

Deno.test("judgePersonas() retries an invalid verdict and gives up after maxAttempts", async () => {
  await withDouble(async (double, backend) => {
    double.enqueueFault({ kind: "invalid_schema" });
    const retried = await judgePersonas(backend, SCENARIO, RESPONSES, { model: "tiny" });
    assert.equal(retried.agents["1"].attempts, 2);
    assert.ok(retried.agents["1"].scores);

    for (let i = 0; i < 2; i++) double.enqueueFault({ kind: "text", content: "I think 4/5." });
    const failed = await judgePersonas(backend, SCENARIO, RESPONSES, {
      model: "tiny",
      maxAttempts: 2,
    });
    assert.equal(failed.agents["1"].scores, null);
    assert.equal(failed.agents["1"].mean, null);
    assert.match(failed.agents["1"].error ?? "", /no valid verdict in 2 attempts \(last: not JSON/);
    assert.ok(failed.agents["2"].scores, "the other agent is still judged");
    PersonaJudgement.parse(failed);
  });
});

Deno.test("judgePersonas() refuses a run without a scenario and passes a missing model on", async () => {
  await withDouble(async (_double, backend) => {
    await assert.rejects(
      judgePersonas(backend, undefined, RESPONSES, { model: "tiny" }),
      (e: unknown) => e instanceof DialogueError && e.code === ErrorCode.NotFound,
    );
    await assert.rejects(
      judgePersonas(backend, SCENARIO, RESPONSES, { model: "judge-9000" }),
      (e: unknown) => e instanceof DialogueError && e.code === ErrorCode.ModelNotFound,
    );
  });
});

Deno.test("parseVerdict() rejects cut, non-JSON and out-of-rubric replies", () => {
  const good = {
    speaking_style: 4,
    personality: 5,
    goal: 3,
    background: 4,
    in_character: 5,
    rationale: "Terse nautical lines throughout (turns 1, 3).",
  };
  assert.deepEqual(parseVerdict(JSON.stringify(good), "stop"), { ok: true, value: good });
  assert.match(
    (parseVerdict(JSON.stringify(good), "length") as { problem: string }).problem,
    /cut/,
  );
  assert.match((parseVerdict("four", "stop") as { problem: string }).problem, /^not JSON/);
  const outOfRange = parseVerdict(JSON.stringify({ ...good, goal: 7 }), "stop");
  assert.match((outOfRange as { problem: string }).problem, /^goal:/);
});

Deno.test("judgePrompt() keeps within its character budget and says what it left out", () => {
  const mine = RESPONSES.filter((r) => r.metadata.agent_id === 1);
  const full = judgePrompt(SCENARIO, 1, mine, 10_000);
  assert.ok(full.includes("[turn 1]") && full.includes("[turn 3]"));
  const cut = judgePrompt(SCENARIO, 1, mine, 50);
  assert.ok(cut.includes("[turn 1]") && !cut.includes("[turn 3]"));
  assert.ok(cut.endsWith("(1 later lines not shown)"));
  assert.ok(full.includes("in_character: stays in character"));
});
