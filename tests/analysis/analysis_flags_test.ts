import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { analyzeRun } from "../../lib/analysis/run_analysis.ts";
import { Flag } from "../../lib/analysis/analysis_flags.ts";

const SCENARIO = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/story.json", import.meta.url)),
);

function run(texts: string[]) {
  const responses = texts.map((content, i) =>
    DialogMessage.parse({
      queue_timestamp: 1000 * (i + 1),
      message_id: `r${i + 1}`,
      role: "assistant",
      content,
      metadata: { conversation_id: "c1", sequence_number: i + 1, agent_id: (i % 2) + 1 },
    })
  );
  const meta = ConversationMeta.parse({
    id: "c1",
    status: "completed",
    created_at: 0,
    started_at: 0,
    ended_at: 1000 * (texts.length + 1),
    turns: texts.length,
    max_turns: texts.length,
    duration_seconds: 300,
    models: { manager: "m", agent1: "a", agent2: "b" },
    config: {},
    scenario: SCENARIO,
  });
  const a = analyzeRun({ meta, responses, requests: [] });
  for (const f of a.flags) Flag.parse(f);
  return new Map(a.flags.map((f) => [f.code, f]));
}

const ON_TOPIC = [
  "Ilya, the lamp has failed and the ship is close to the rocks. Help me relight it.",
  "Could my repair work? I rewired the lighthouse lamp motor last winter on this island!",
  "The storm is too strong for an untested repair, but the ship is close.",
];

Deno.test("a conversation that leaves the story is flagged as drift from its first off-topic turn", () => {
  const flags = run([
    ...ON_TOPIC,
    "Anyway, have you ever baked sourdough bread with rye flour?",
    "Rye flour makes a dense loaf; spelt bakes lighter, honestly.",
    "Spelt is expensive at the market, bakers charge double now.",
    "Markets everywhere charge double for flour lately.",
  ]);
  const drift = flags.get("drift");
  assert.equal(drift?.from_turn, 4);
  assert.match(drift?.message ?? "", /by word overlap/);
});

Deno.test("an on-topic conversation raises no drift flag", () => {
  const flags = run([
    ...ON_TOPIC,
    "Then hold the ladder while I climb to the lamp room.",
    "The ship's horn! It is close to the rocks, Mara!",
    "Lamp is lit. The ship turns away from the island.",
  ]);
  assert.equal(flags.has("drift"), false);
});

Deno.test("a stale conversation is flagged from its first stale turn, unless it is a loop", () => {
  const stale = [
    ...ON_TOPIC,
    "Yes, the lamp.",
    "The lamp, yes.",
    "The ship, yes.",
    "The ship and the lamp.",
    "Lamp. Ship. Yes.",
    "Yes. The rocks.",
  ];
  const flags = run(stale);
  assert.equal(flags.get("stale")?.from_turn, 4);
  assert.match(flags.get("stale")?.message ?? "", /stopped moving/);
  assert.equal(flags.has("loop"), false);

  const thanks = ["Thank you so much!", "You're welcome, thank you!"];
  const looping = run([...ON_TOPIC, ...thanks, ...thanks, ...thanks, ...thanks]);
  assert.ok(looping.has("loop"));
  assert.equal(looping.has("stale"), false, "a loop is not flagged twice");
});
