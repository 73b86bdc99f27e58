import assert from "node:assert/strict";
import { readTranscripts } from "../../lib/analysis/transcript_input.ts";
import { absentGroups, withAbsentAsNull } from "../../lib/analysis/input_source.ts";
import { analyzeRun } from "../../lib/analysis/run_analysis.ts";
import { DialogueError } from "../../lib/base/dialogue_error.ts";

const SHAREGPT = {
  id: "sg-1",
  system: "You are Theo. A botanist.\nGoal: collect lichen.\nYou are talking with Mara.",
  conversations: [
    { from: "human", value: "The lamp failed." },
    { from: "gpt", value: "I'm Mara, and I keep the lamp." },
  ],
};

Deno.test("readTranscripts() reads ShareGPT JSON Lines, one conversation a line, personas from the system prompt", () => {
  const text = [SHAREGPT, { ...SHAREGPT, id: "sg-2" }].map((o) => JSON.stringify(o)).join("\n");
  const read = readTranscripts(text, "data.jsonl");
  assert.deepEqual(read.map((r) => [r.format, r.index, r.transcript.meta.id]), [
    ["sharegpt", 1, "sg-1"],
    ["sharegpt", 2, "sg-2"],
  ]);
  const [first] = read;
  assert.deepEqual(first?.personas, [{ name: "Mara" }, { name: "Theo" }]);
  assert.deepEqual(first?.transcript.responses.map((r) => r.metadata.agent_id), [1, 2]);
  assert.equal(
    absentGroups({ ...first!, file: "f", absent: [...first!.absent] }).has("generation"),
    true,
  );
  // The partner's name claimed by agent 2: found through the file's personas.
  const a = analyzeRun(first!.transcript, { personas: first!.personas });
  assert.equal(a.insight.persona_break?.from_turn, 2);
});

Deno.test("readTranscripts() reads one OpenAI-style object, and an array of them", () => {
  const one = {
    messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }],
  };
  assert.equal(readTranscripts(JSON.stringify(one), "o.json")[0]?.format, "openai");
  assert.equal(readTranscripts(JSON.stringify(one), "o.json")[0]?.transcript.meta.id, "o.json#1");
  assert.equal(readTranscripts(JSON.stringify([one, one, one]), "o.json").length, 3);
});

Deno.test("readTranscripts() groups our --export jsonl lines by run and keeps their generation figures", () => {
  const line = (id: string, turn: number, agent: number, content: string) =>
    JSON.stringify({
      conversation_id: id,
      turn,
      agent,
      speaker: agent === 1 ? "Mara" : "Theo",
      role: agent === 1 ? "user" : "assistant",
      model: "tiny",
      content,
      created_at: new Date(1_700_000_000_000 + turn * 1000).toISOString(),
      metadata: { tokens_generated: 7, tokens_per_second: 20, wall_time_ms: 350 },
    });
  const read = readTranscripts(
    [line("a", 1, 1, "One."), line("a", 2, 2, "Two."), line("b", 1, 1, "Three.")].join("\n"),
    "runs.jsonl",
  );
  assert.deepEqual(read.map((r) => [r.transcript.meta.id, r.transcript.responses.length]), [
    ["a", 2],
    ["b", 1],
  ]);
  assert.equal(read[0]?.format, "dialoguellm_jsonl");
  assert.equal(absentGroups({ ...read[0]!, file: "f", absent: [...read[0]!.absent] }).size, 1);
  const a = analyzeRun(read[0]!.transcript);
  assert.equal(a.overall.tokens_generated, 14);
  assert.equal(a.overall.tokens_per_second.mean, 20);
});

Deno.test("readTranscripts() refuses text that is neither JSON nor a known format, naming the line", () => {
  assert.throws(
    () => readTranscripts("{}\nnot json", "x.jsonl"),
    (e) => e instanceof DialogueError && /line 2 is not JSON/.test(e.message),
  );
  assert.throws(() => readTranscripts(`{"turns": []}`, "x.json"), /neither "conversations"/);
  assert.throws(
    () => readTranscripts(JSON.stringify({ messages: [{ role: "tool", content: "x" }] }), "x.json"),
    /role "tool": expected human\/user, gpt\/assistant or system/,
  );
  assert.throws(() => readTranscripts("  \n", "x.jsonl"), /holds no conversation/);
});

Deno.test("withAbsentAsNull() sets what the file lacks to null, per agent and per turn, and leaves the rest", () => {
  const [input] = readTranscripts(JSON.stringify(SHAREGPT), "sg.json");
  const a = analyzeRun(input!.transcript, {
    source: { file: "sg.json", format: "sharegpt", index: 1, absent: [...input!.absent] },
  });
  // deno-lint-ignore no-explicit-any
  const out = withAbsentAsNull(a) as Record<string, any>;
  assert.equal(out.overall.tokens_per_second, null);
  assert.equal(out.agents["2"].wall_time_ms, null);
  assert.equal(out.per_turn[0].tokens, null);
  assert.equal(out.conversation.max_turns, null);
  assert.equal(out.per_turn[0].words, 3);
  assert.equal(out.overall.turns, 2);
  // The analysis itself is untouched.
  assert.equal(a.overall.tokens_generated, 0);
});
