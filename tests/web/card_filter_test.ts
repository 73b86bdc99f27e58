import { assertEquals } from "../helpers/assert.ts";
import { cardMatches, cardModels } from "../../lib/web/card_filter.ts";
import type { ConversationCard } from "../../lib/web/conversation_card.ts";

const cards: Pick<ConversationCard, "id" | "status" | "personas" | "models" | "flags">[] = [
  {
    id: "run-a",
    status: "running",
    personas: ["Mara", "Ilya"],
    models: { manager: "m", agent1: "llama", agent2: "qwen" },
    flags: ["loop"],
  },
  {
    id: "run-b",
    status: "completed",
    personas: ["Ana", "Bo"],
    models: { manager: "m", agent1: "qwen", agent2: "qwen" },
    flags: [],
  },
  {
    id: "other",
    status: "failed",
    personas: ["Cy", "Di"],
    models: { manager: "m", agent1: "phi", agent2: "phi" },
    flags: ["errors", "truncated"],
  },
];

function ids(filter: Parameters<typeof cardMatches>[1]): string[] {
  return cards.filter((c) => cardMatches(c, filter)).map((c) => c.id);
}

Deno.test("cardMatches() filters by status, model and flag and searches ids and personas", () => {
  assertEquals(ids({}), ["run-a", "run-b", "other"]);
  assertEquals(ids({ status: "completed" }), ["run-b"]);
  assertEquals(ids({ model: "qwen" }), ["run-a", "run-b"]);
  assertEquals(ids({ flag: "truncated" }), ["other"]);
  assertEquals(ids({ search: " RUN-" }), ["run-a", "run-b"]);
  assertEquals(ids({ search: "ilya" }), ["run-a"]);
  assertEquals(ids({ search: "ilya", status: "failed" }), []);
  assertEquals(cardModels(cards), ["llama", "phi", "qwen"]);
});
