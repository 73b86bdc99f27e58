import { assert, assertEquals } from "../helpers/assert.ts";
import {
  addFlag,
  cardFromMeta,
  compareCards,
  LAST_WORDS_CHARS,
  withAnalysisFlags,
  withMessage,
  withMeta,
  withProgress,
  withTokens,
  withTurnStart,
} from "../../lib/web/conversation_card.ts";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";
import { STORY_SCENARIO } from "./web_rig.ts";

const META = ConversationMeta.parse({
  id: "c1",
  status: "running",
  created_at: 10,
  turns: 1,
  max_turns: 6,
  duration_seconds: 60,
  deadline: 70_000,
  models: { manager: "m", agent1: "a", agent2: "b" },
  backends: { manager: "ollama", agent1: "openai", agent2: "embedded" },
  scenario: {
    ...STORY_SCENARIO,
    personas: [
      { ...STORY_SCENARIO.personas[0]!, name: "\x1b[31mMara" },
      STORY_SCENARIO.personas[1]!,
    ],
  },
  config: {},
});

function message(seq: number, content: string, extra: Record<string, unknown> = {}) {
  return DialogMessage.parse({
    queue_timestamp: 1,
    message_id: `m${seq}`,
    role: "assistant",
    content,
    metadata: { conversation_id: "c1", sequence_number: seq, tokens_per_second: 40, ...extra },
  });
}

Deno.test("cardFromMeta() names the personas (sanitized), models, backends and limits", () => {
  const card = cardFromMeta(META);
  assertEquals(card.personas, ["Mara", "Ilya"]);
  assertEquals(card.backends, { manager: "ollama", agent1: "openai", agent2: "embedded" });
  assertEquals([card.turns, card.max_turns, card.deadline], [1, 6, 70_000]);
  assertEquals(card.flags, []);
});

Deno.test("tokens stream into the last words, bounded, and start over with each turn", () => {
  let card = withTurnStart(cardFromMeta(META), 2, 2);
  card = withTokens(card, 2, 2, "Hello");
  card = withTokens(card, 2, 2, " there");
  assertEquals([card.last, card.speaking], ["Hello there", { seq: 2, agent: 2 }]);
  card = withTokens(card, 2, 2, "x".repeat(1000));
  assertEquals(card.last.length, LAST_WORDS_CHARS);
  card = withTurnStart(card, 3, 1);
  assertEquals(card.last, "");
  assertEquals(withTokens(card, 4, 2, "new").last, "new", "a turn seen only by its tokens");
});

Deno.test("withMessage() keeps the reply's rate and end, and raises truncated and errors", () => {
  let card = withTokens(withTurnStart(cardFromMeta(META), 2, 2), 2, 2, "partial");
  card = withMessage(card, message(2, "All\nof it,\x1b[2J done."));
  assertEquals([card.last, card.tokens_per_second, card.speaking, card.turns], [
    "All of it, done.",
    40,
    undefined,
    2,
  ]);
  assertEquals(card.flags, []);
  card = withMessage(card, message(3, "cut", { done_reason: "length" }));
  card = withMessage(card, message(4, "retried", { attempts: 2 }));
  assertEquals(card.flags, ["truncated", "errors"]);
});

Deno.test("progress, metadata and analysis flags update a card; ended runs keep their reason", () => {
  let card = cardFromMeta(META);
  card = withProgress(card, {
    type: "progress",
    id: "c1",
    turns: 3,
    max_turns: 8,
    status: "running",
    tokens_per_second: 12,
  });
  assertEquals([card.turns, card.max_turns, card.tokens_per_second], [3, 8, 12]);
  card = withProgress(card, {
    type: "ended",
    id: "c1",
    status: "completed",
    stop_reason: "loop",
    turns: 4,
  });
  assertEquals([card.status, card.stop_reason, card.turns], ["completed", "loop", 4]);
  card = withAnalysisFlags(card, ["drift", "one_sided", "loop", "drift"]);
  assertEquals(card.flags, ["loop", "drift"], "known codes, in order, once");
  const failed = withMeta(card, { ...META, status: "failed", error: "boom\x1b[2J\nagain" });
  assertEquals([failed.status, failed.error], ["failed", "boom again"]);
  assert(failed.flags.includes("errors"));
  assertEquals(addFlag(["drift"], "loop"), ["loop", "drift"]);
});

Deno.test("compareCards() puts pending and running first, then the newest", () => {
  const cards = [
    { id: "a", status: "completed" as const, created_at: 5 },
    { id: "b", status: "pending" as const, created_at: 1 },
    { id: "c", status: "running" as const, created_at: 3 },
    { id: "d", status: "failed" as const, created_at: 9 },
  ];
  assertEquals(cards.sort(compareCards).map((c) => c.id), ["c", "b", "d", "a"]);
});
