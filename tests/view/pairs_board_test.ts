/** The --pairs board: one line per conversation, ended runs printed once, model text made inert. */
import assert from "node:assert/strict";
import { estimateRemainingMs, formatPairLine, PairsBoard } from "../../lib/view/pairs_board.ts";
import { paint } from "../../lib/view/terminal.ts";

function board(ids: string[], live = false) {
  let out = "";
  const b = new PairsBoard(ids, 8, {
    writer: { write: (s) => out += s },
    live,
    width: 80,
    height: 10,
    paint: paint(false),
  });
  return { b, out: () => out };
}

Deno.test("formatPairLine() strips terminal control sequences from the model's last words", () => {
  const line = formatPairLine({
    id: "c1",
    turns: 2,
    maxTurns: 8,
    status: "running",
    last: "evil\x1b[2J\x1b]0;title\x07 words",
  }, 80);
  assert.ok(!line.includes("\x1b"), JSON.stringify(line));
  assert.match(line, /evil words|evil {0,2}words/);
});

Deno.test("formatPairLine() keeps to the width by cutting the start of the last words", () => {
  const line = formatPairLine({
    id: "c1",
    turns: 2,
    maxTurns: 8,
    status: "running",
    last: "x".repeat(500) + " the end",
  }, 60);
  assert.ok(line.length <= 60, `${line.length}`);
  assert.ok(line.endsWith("the end"));
});

Deno.test("PairsBoard prints one line per ended run off a terminal, once, with a counter", () => {
  const { b, out } = board(["a", "b"]);
  b.apply({ type: "progress", id: "a", turns: 1, max_turns: 8, status: "running" });
  assert.equal(out(), "");
  assert.equal(
    b.apply({ type: "ended", id: "a", status: "completed", stop_reason: "max_turns", turns: 8 }),
    true,
  );
  assert.equal(b.end("a", "completed", "max_turns", 8), false);
  assert.match(out(), /^\[1\/2\] a {2}completed \(max_turns\) +8\/8/);
  assert.equal(out().split("\n").length, 2);
  assert.deepEqual(b.open(), ["b"]);
});

Deno.test("PairsBoard ignores events of conversations it does not show", () => {
  const { b } = board(["a"]);
  assert.equal(b.apply({ type: "ended", id: "zzz", status: "failed", turns: 0 }), false);
  assert.deepEqual(b.open(), ["a"]);
});

Deno.test("PairsBoard on a terminal redraws its block in place and sums up what does not fit", () => {
  const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const { b, out } = board(ids, true);
  b.close();
  const first = out();
  assert.match(first, /… and 13 more/);
  b.close();
  // The second draw moves the cursor up over the first block (7 rows, the summary and the counter).
  assert.ok(
    out().slice(first.length).startsWith("\x1b[9A"),
    JSON.stringify(out().slice(first.length, first.length + 8)),
  );
});

Deno.test("the board's last line estimates the time left from the pace so far", () => {
  let now = 0;
  let out = "";
  const b = new PairsBoard(["a", "b"], 8, {
    writer: { write: (s) => out += s },
    live: true,
    width: 80,
    height: 10,
    paint: paint(false),
    now: () => now,
  });
  now = 4000;
  b.apply({ type: "progress", id: "a", turns: 4, max_turns: 8, status: "running" });
  b.apply({ type: "progress", id: "b", turns: 4, max_turns: 8, status: "running" });
  b.close();
  assert.match(out, /\[0\/2\] ended · 8 turns · about 4 s left/);
});

Deno.test("estimateRemainingMs() has nothing to say before the first turn and counts no turns for a run ended early", () => {
  const running = { id: "a", turns: 0, maxTurns: 8, status: "running" as const };
  assert.equal(estimateRemainingMs([running], 0, 1000), undefined);
  const ended = {
    id: "b",
    turns: 2,
    maxTurns: 8,
    status: "completed" as const,
    stopReason: "loop" as const,
  };
  assert.equal(estimateRemainingMs([ended, { ...running, turns: 2 }], 0, 4000), 6000);
});
