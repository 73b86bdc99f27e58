import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { paint } from "../../lib/view/terminal.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import type { Scenario } from "../../lib/model/story.ts";
import { formatCount, speakerName, turnFigures, turnHeading } from "../../lib/view/turn_lines.ts";

const PLAIN = paint(false);

const SCENARIO: Scenario = {
  story: { setting: "A lighthouse.", characters: ["Alice", "Bob"], initial_situation: "A storm." },
  personas: [
    {
      name: "Alice",
      background: "Keeper.",
      personality: "Calm",
      speaking_style: "Short",
      goal: "Save the crew",
    },
    {
      name: "Bob\u009b2J",
      background: "Sailor.",
      personality: "Loud",
      speaking_style: "Shouts",
      goal: "Reach the shore",
    },
  ],
};

function metadata(extra: Record<string, unknown> = {}) {
  return DialogMessage.parse({
    queue_timestamp: 1_700_000_000_000,
    message_id: "m-1",
    role: "assistant",
    content: "Hi",
    metadata: { conversation_id: "conv-1", sequence_number: 1, agent_id: 1, ...extra },
  }).metadata;
}

Deno.test("speakerName() uses the persona name or falls back", () => {
  strictEqual(speakerName({ scenario: SCENARIO }, 1), "Alice");
  strictEqual(speakerName({ scenario: SCENARIO }, 2), "Bob");
  strictEqual(speakerName({}, 2), "Agent 2");
  strictEqual(speakerName(undefined, 1), "Agent 1");
});

Deno.test("turnHeading() names the turn, the speaker and the model when known", () => {
  strictEqual(
    turnHeading(PLAIN, { seq: 3, agent: 2, speaker: "Bob\x1b[2J", model: "gemma3" }),
    "[3] Bob (gemma3)",
  );
  strictEqual(turnHeading(PLAIN, { seq: 4, agent: 1, speaker: "Alice" }), "[4] Alice");
});

Deno.test("turnFigures() leaves out zero figures and adds one-line references and the error", () => {
  deepStrictEqual(turnFigures(PLAIN, metadata({ tokens_generated: 1 })), ["  ↳ 1 token"]);
  deepStrictEqual(
    turnFigures(
      PLAIN,
      metadata({
        tokens_generated: 1234,
        tokens_per_second: 18.31,
        generation_time_ms: 2301,
        time_to_first_token_ms: 120,
        references: ["a", "b\nc"],
        error: "cut\x1b[31m off",
      }),
    ),
    [
      "  ↳ 1,234 tokens · 18.3 tok/s · 2,301 ms · ttft 120 ms",
      "  ↳ references: a · b c",
      "  ✗ cut off",
    ],
  );
});

Deno.test("formatCount() puts the noun in the plural unless there is one", () => {
  strictEqual(formatCount(0, "turn"), "0 turns");
  strictEqual(formatCount(1, "turn"), "1 turn");
  strictEqual(formatCount(12_345, "token"), "12,345 tokens");
});

Deno.test("turnFigures() wraps long references to the width, indented under the first line", () => {
  const refs = ["Moby Dick by Herman Melville", "The Old Man and the Sea", "Treasure Island"];
  deepStrictEqual(turnFigures(PLAIN, metadata({ tokens_generated: 3, references: refs }), 40), [
    "  ↳ 3 tokens",
    "  ↳ references: Moby Dick by Herman",
    "    Melville · The Old Man and the Sea ·",
    "    Treasure Island",
  ]);
});

Deno.test("turnFigures() marks a reply the model stopped at the token limit", () => {
  deepStrictEqual(
    turnFigures(PLAIN, metadata({ tokens_generated: 400, done_reason: "length" })),
    ["  ↳ 400 tokens (cut at the limit)"],
  );
});
