/** fitHistory: what of a history is kept so prompt and reply fit the context (pure). */
import { throws as assertThrows } from "node:assert/strict";
import { assertEquals } from "../../helpers/assert.ts";
import { fitHistory, type HistoryFitInput } from "../../../lib/llm/embedded/history_fit.ts";

const base: HistoryFitInput = {
  systemTokens: 50,
  turnTokens: [100, 100, 100, 20],
  overheadTokens: 10,
  replyTokens: 100,
  contextTokens: 1000,
};

/** Prompt plus reply tokens of a fit, as the host will render it. */
function used(input: HistoryFitInput, fit: ReturnType<typeof fitHistory>): number {
  const kept = input.turnTokens.slice(fit.droppedTurns);
  const turns = kept.slice(0, -1).reduce((s, n) => s + n, 0) + fit.lastTurnTokens;
  return fit.systemTokens + turns + input.overheadTokens + fit.replyTokens;
}

Deno.test("fitHistory() keeps a history that fits whole and says nothing was trimmed", () => {
  const fit = fitHistory(base);
  assertEquals(fit, {
    droppedTurns: 0,
    systemTokens: 50,
    lastTurnTokens: 20,
    replyTokens: 100,
    trimmed: false,
  });
});

Deno.test("fitHistory() drops the oldest turns first, keeping the system text and the reply's room", () => {
  const input = { ...base, contextTokens: 300 };
  const fit = fitHistory(input);
  assertEquals(fit.droppedTurns, 2);
  assertEquals(fit.systemTokens, 50);
  assertEquals(fit.replyTokens, 100);
  assertEquals(fit.trimmed, true);
  assertEquals(used(input, fit) <= 300, true);
});

Deno.test("fitHistory() never drops the last turn; then it cuts the system text to what is left", () => {
  const input = { ...base, systemTokens: 500, contextTokens: 300 };
  const fit = fitHistory(input);
  assertEquals(fit.droppedTurns, 3, "every turn but the one answered");
  assertEquals(fit.systemTokens, 300 - 10 - 100 - 20);
  assertEquals(fit.lastTurnTokens, 20);
  assertEquals(used(input, fit), 300);
});

Deno.test("fitHistory() keeps the end of a last turn longer than the context, and a reply under half the room whole", () => {
  const input = { ...base, turnTokens: [5000], contextTokens: 256 };
  const fit = fitHistory(input);
  assertEquals(fit.systemTokens, 0);
  assertEquals(fit.replyTokens, 100, "the reply asked for fits in half the room, so it keeps it");
  assertEquals(fit.lastTurnTokens, 256 - 10 - 100);
  assertEquals(used(input, fit), 256);
});

Deno.test("fitHistory() lowers a reply that would take the whole context to half of it", () => {
  const input = { ...base, turnTokens: [5000], replyTokens: 4000, contextTokens: 256 };
  const fit = fitHistory(input);
  assertEquals(fit.replyTokens, Math.floor((256 - 10) / 2));
  assertEquals(used(input, fit), 256);
  assertEquals(fit.trimmed, true);
});

Deno.test("fitHistory() fits every history, however long, into every context it can", () => {
  for (const context of [64, 100, 333, 2048]) {
    for (const turns of [1, 2, 10, 200]) {
      for (const reply of [1, 50, 400, 5000]) {
        const input: HistoryFitInput = {
          systemTokens: 700,
          turnTokens: Array.from({ length: turns }, (_, i) => 10 + (i * 37) % 300),
          overheadTokens: 12,
          replyTokens: reply,
          contextTokens: context,
        };
        const fit = fitHistory(input);
        const total = used(input, fit);
        assertEquals(total <= context, true, `${JSON.stringify(input)} → ${JSON.stringify(fit)}`);
        assertEquals(fit.replyTokens >= 1, true);
        assertEquals(fit.droppedTurns < Math.max(1, turns), true);
      }
    }
  }
});

Deno.test("fitHistory() refuses negative counts and a context the template alone fills", () => {
  assertThrows(() => fitHistory({ ...base, turnTokens: [-1] }), RangeError);
  assertThrows(() => fitHistory({ ...base, systemTokens: 1.5 }), RangeError);
  assertThrows(() => fitHistory({ ...base, overheadTokens: 60, contextTokens: 61 }), RangeError);
});
