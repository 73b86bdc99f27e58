import assert from "node:assert/strict";
import { type ConversationRow, formatConversationList } from "../../lib/view/conversation_list.ts";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);

function row(
  fields: Partial<ConversationMeta> & Pick<ConversationMeta, "id">,
  queues: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]],
): ConversationRow {
  const meta = ConversationMeta.parse({
    status: "completed",
    created_at: NOW - 5000,
    max_turns: 10,
    duration_seconds: 60,
    models: { manager: "m", agent1: "a", agent2: "b" },
    config: {},
    ...fields,
  });
  const names = ["req1", "res1", "req2", "res2"];
  return {
    meta,
    queues: queues.map(([length, pending], i) => ({ stream: names[i]!, length, pending })),
  };
}

Deno.test("formatConversationList() says how to start a run when there is none", () => {
  assert.equal(
    formatConversationList([], NOW),
    "No conversations in Redis yet: start one with 'deno task chat'.",
  );
});

Deno.test("formatConversationList() prints an aligned table with status, turns, age and queues", () => {
  const text = formatConversationList([
    row(
      { id: "20250601-115955-aaaa", status: "running", turns: 3, created_at: NOW - 5000 },
      [[2, 1], [1, 0], [2, 0], [1, 1]],
    ),
    row({
      id: "c2",
      status: "completed",
      stop_reason: "max_turns",
      turns: 10,
      created_at: NOW - 90_000,
    }, [[5, 0], [5, 0], [5, 0], [5, 0]]),
  ], NOW);
  assert.equal(
    text,
    [
      "ID                    STATUS     STOP       TURNS  AGE    QUEUES len/pending req1 res1 req2 res2",
      "20250601-115955-aaaa  running    -          3/10   5.0 s  2/1 1/0 2/0 1/1",
      "c2                    completed  max_turns  10/10  1:30   5/0 5/0 5/0 5/0",
    ].join("\n"),
  );
});

Deno.test("formatConversationList() shows a creation time in the future as age 0", () => {
  const text = formatConversationList([row({ id: "c-future", created_at: NOW + 60_000 })], NOW);
  assert.match(text.split("\n")[1]!, /\s0 ms\s/);
});

Deno.test("formatConversationList() shows ages of hours as h:mm:ss", () => {
  const text = formatConversationList(
    [row({ id: "c-old", created_at: NOW - (2 * 3600 + 5 * 60 + 7) * 1000 })],
    NOW,
  );
  assert.ok(text.split("\n")[1]!.includes("2:05:07"), text);
});
