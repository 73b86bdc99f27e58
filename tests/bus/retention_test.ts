import assert from "node:assert/strict";
import { parseAge, selectForCleanup } from "../../lib/bus/retention.ts";
import { ConversationMeta, type ConversationStatus } from "../../lib/model/conversation_meta.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function meta(id: string, status: ConversationStatus, ageMs: number): ConversationMeta {
  return ConversationMeta.parse({
    id,
    status,
    created_at: NOW - ageMs,
    max_turns: 10,
    duration_seconds: 60,
    models: { manager: "m", agent1: "a", agent2: "b" },
    config: {},
  });
}

const METAS = [
  meta("done-old", "completed", 10 * DAY),
  meta("failed-old", "failed", 9 * DAY),
  meta("stopped-new", "interrupted", 1 * HOUR),
  meta("done-new", "completed", 2 * HOUR),
  meta("running-old", "running", 8 * DAY),
  meta("pending-new", "pending", 1000),
];

function ids(selected: ConversationMeta[]): string[] {
  return selected.map((m) => m.id);
}

Deno.test("selectForCleanup() picks nothing without ids, all or an age", () => {
  assert.deepEqual(selectForCleanup(METAS, {}, NOW), []);
  assert.deepEqual(selectForCleanup(METAS, { force: true }, NOW), []);
});

Deno.test("selectForCleanup() with all picks every finished conversation and keeps active ones", () => {
  assert.deepEqual(ids(selectForCleanup(METAS, { all: true }, NOW)), [
    "done-old",
    "failed-old",
    "stopped-new",
    "done-new",
  ]);
});

Deno.test("selectForCleanup() with all and force also picks pending and running ones", () => {
  assert.deepEqual(ids(selectForCleanup(METAS, { all: true, force: true }, NOW)), ids(METAS));
});

Deno.test("selectForCleanup() by age picks finished conversations older than the limit", () => {
  assert.deepEqual(ids(selectForCleanup(METAS, { olderThanMs: 7 * DAY }, NOW)), [
    "done-old",
    "failed-old",
  ]);
  assert.deepEqual(
    ids(selectForCleanup(METAS, { olderThanMs: 7 * DAY, force: true }, NOW)),
    ["done-old", "failed-old", "running-old"],
  );
});

Deno.test("selectForCleanup() counts a conversation exactly as old as the limit as old enough", () => {
  const exact = [meta("exact", "completed", 2 * HOUR), meta("younger", "completed", 2 * HOUR - 1)];
  assert.deepEqual(ids(selectForCleanup(exact, { olderThanMs: 2 * HOUR }, NOW)), ["exact"]);
});

Deno.test("selectForCleanup() by id picks only the named conversations", () => {
  assert.deepEqual(
    ids(selectForCleanup(METAS, { ids: ["done-new", "failed-old", "unknown"] }, NOW)),
    ["failed-old", "done-new"],
  );
});

Deno.test("selectForCleanup() by id keeps a running conversation unless forced", () => {
  assert.deepEqual(selectForCleanup(METAS, { ids: ["running-old"] }, NOW), []);
  assert.deepEqual(
    ids(selectForCleanup(METAS, { ids: ["running-old"], force: true }, NOW)),
    ["running-old"],
  );
});

Deno.test("selectForCleanup() combines ids with an age limit", () => {
  assert.deepEqual(
    ids(selectForCleanup(METAS, { ids: ["done-old", "done-new"], olderThanMs: DAY }, NOW)),
    ["done-old"],
  );
});

Deno.test("parseAge() converts each unit to milliseconds", () => {
  assert.equal(parseAge("90s"), 90_000);
  assert.equal(parseAge("30m"), 30 * 60_000);
  assert.equal(parseAge("12h"), 12 * HOUR);
  assert.equal(parseAge("7d"), 7 * DAY);
  assert.equal(parseAge("2w"), 14 * DAY);
  assert.equal(parseAge("1.5h"), 1.5 * HOUR);
  assert.equal(parseAge(" 3 d "), 3 * DAY);
  assert.equal(parseAge("0s"), 0);
});

Deno.test("parseAge() rejects malformed ages naming the flag, the value and the expected form", () => {
  for (const text of ["", "7", "d", "7y", "-1d", "7 days", "1e3s", "7D"]) {
    try {
      parseAge(text, "--max-age");
      assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
    } catch (error) {
      assert.ok(error instanceof DialogueError, String(error));
      assert.equal(error.code, ErrorCode.Usage);
      assert.ok(error.message.includes("--max-age"), error.message);
      assert.ok(error.message.includes(JSON.stringify(text)), error.message);
      assert.ok(error.message.includes("e.g. 7d"), error.message);
    }
  }
});

Deno.test("parseAge() names --older-than by default", () => {
  assert.throws(() => parseAge("soon"), /Invalid --older-than "soon"/);
});
