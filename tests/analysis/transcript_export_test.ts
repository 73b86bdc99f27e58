import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import type { Transcript } from "../../lib/analysis/run_analysis.ts";
import { EXPORT_FORMATS, exportTranscript } from "../../lib/analysis/transcript_export.ts";

const SCENARIO = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/story.json", import.meta.url)),
);
const TEXTS = ["Lamp's out.", "Can I fix it?", "", "Try.", "On it!"];

function transcript(scenario: unknown = SCENARIO): Transcript {
  const responses = TEXTS.map((content, i) =>
    DialogMessage.parse({
      queue_timestamp: Date.UTC(2026, 0, 1) + i * 1000,
      message_id: `r${i + 1}`,
      role: "assistant",
      content,
      metadata: {
        conversation_id: "c1",
        sequence_number: i + 1,
        agent_id: (i % 2) + 1,
        model: i % 2 === 0 ? "llama3.2" : "qwen2.5",
        tokens_generated: 5 + i,
        sentiment: "neutral",
        ...(i === 3 ? { error: "invalid JSON" } : {}),
      },
    })
  );
  // Deliberately out of order: exports follow turn numbers.
  [responses[0], responses[1]] = [responses[1]!, responses[0]!];
  const meta = ConversationMeta.parse({
    id: "c1",
    status: "completed",
    created_at: Date.UTC(2026, 0, 1),
    turns: 5,
    max_turns: 5,
    duration_seconds: 60,
    stop_reason: "max_turns",
    models: { manager: "m", agent1: "llama3.2", agent2: "qwen2.5" },
    config: { manager: { topic: "a lighthouse" } },
    ...(scenario ? { scenario } : {}),
  });
  return { meta, responses, requests: [] };
}

/** A parsed JSON record; tests read whatever fields they check. */
// deno-lint-ignore no-explicit-any
type Json = any;

function parseLines(lines: string[]): Json[] {
  return lines.map((line) => {
    assert.ok(!line.includes("\n"), "one record per line");
    return JSON.parse(line);
  });
}

Deno.test("jsonl export writes one parseable line per turn with its metadata", () => {
  const records = parseLines(exportTranscript(transcript(), "jsonl"));
  assert.equal(records.length, 5, "every turn, failed and empty ones too");
  assert.deepEqual(records.map((r) => r.turn), [1, 2, 3, 4, 5]);
  const [first] = records;
  assert.equal(first!.conversation_id, "c1");
  assert.equal(first!.speaker, "Mara");
  assert.equal(first!.role, "user");
  assert.equal(first!.model, "llama3.2");
  assert.equal(first!.content, "Lamp's out.");
  assert.equal(first!.created_at, "2026-01-01T00:00:00.000Z");
  assert.equal(first!.metadata.tokens_generated, 5);
  assert.equal(first!.metadata.sentiment, "neutral");
  assert.equal(records[3].metadata.error, "invalid JSON");
});

Deno.test("sharegpt export maps agent 1 to human and agent 2 to gpt, after a system persona", () => {
  const [record, ...rest] = parseLines(exportTranscript(transcript(), "sharegpt"));
  assert.equal(rest.length, 0, "one line per conversation");
  assert.equal(record!.id, "c1");
  const turns = record!.conversations as { from: string; value: string }[];
  assert.deepEqual(turns.map((t) => t.from), ["system", "human", "gpt", "human"]);
  assert.match(turns[0]!.value, /^You are Ilya\. A young engineer/);
  assert.match(turns[0]!.value, /You are talking with Mara\./);
  // The empty turn 3 and the failed turn 4 are left out.
  assert.deepEqual(turns.slice(1).map((t) => t.value), ["Lamp's out.", "Can I fix it?", "On it!"]);
  assert.equal(record!.metadata.topic, "a lighthouse");
  assert.deepEqual(record!.metadata.personas, ["Mara", "Ilya"]);
  assert.deepEqual(record!.metadata.roles, { agent1: "user", agent2: "assistant" });
});

Deno.test("openai export maps agent 1 to user and agent 2 to assistant", () => {
  const [record] = parseLines(exportTranscript(transcript(), "openai"));
  const messages = record!.messages as { role: string; content: string }[];
  assert.deepEqual(messages.map((m) => m.role), ["system", "user", "assistant", "user"]);
  assert.equal(messages[2]!.content, "Can I fix it?");
  assert.equal(record!.metadata.conversation_id, "c1");
  assert.equal(record!.metadata.stop_reason, "max_turns");
});

Deno.test("exports without a stored scenario have no system message and generic speakers", () => {
  const t = transcript(null);
  const [openai] = parseLines(exportTranscript(t, "openai"));
  assert.equal(openai!.messages[0].role, "user");
  const [turn] = parseLines(exportTranscript(t, "jsonl"));
  assert.equal(turn!.speaker, "agent 1");
  assert.deepEqual(EXPORT_FORMATS, ["jsonl", "sharegpt", "openai"]);
});
