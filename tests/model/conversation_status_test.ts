/** The conversation status state machine, as a table of what may follow what. */
import assert from "node:assert/strict";
import {
  canTransition,
  STATUS_TRANSITIONS,
  statusesLeadingTo,
} from "../../lib/model/conversation_status.ts";
import { ConversationStatus } from "../../lib/model/conversation_meta.ts";

Deno.test("canTransition() allows a run's life and resume, and nothing out of an ended run", () => {
  const legal = [
    ["pending", "running"],
    ["pending", "failed"],
    ["pending", "interrupted"],
    ["running", "completed"],
    ["running", "failed"],
    ["running", "interrupted"],
    ["interrupted", "running"],
    ["interrupted", "failed"],
  ];
  for (const from of ConversationStatus.options) {
    for (const to of ConversationStatus.options) {
      const expected = legal.some(([f, t]) => f === from && t === to);
      assert.equal(canTransition(from, to), expected, `${from} → ${to}`);
    }
  }
});

Deno.test("completed and failed are final", () => {
  assert.deepEqual(STATUS_TRANSITIONS.completed, []);
  assert.deepEqual(STATUS_TRANSITIONS.failed, []);
});

Deno.test("statusesLeadingTo() is the inverse of the table (the guard the Lua script applies)", () => {
  assert.deepEqual(statusesLeadingTo("running").sort(), ["interrupted", "pending"]);
  assert.deepEqual(statusesLeadingTo("completed"), ["running"]);
  assert.deepEqual(statusesLeadingTo("pending"), []);
});
