import assert from "node:assert/strict";
import {
  consumerName,
  conversationIndexKey,
  conversationKeys,
  isValidConversationId,
  KEY_PREFIX,
  newConversationId,
} from "../../lib/bus/keys.ts";

/** The part of a key Redis Cluster hashes: the text between the first `{` and the next `}`. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open < 0) return undefined;
  const close = key.indexOf("}", open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

Deno.test("conversationKeys() gives every key of a conversation the same {id} hash tag", () => {
  const id = newConversationId();
  const keys = conversationKeys(id);
  const all = [...keys.all(), keys.control];
  for (const key of all) {
    assert.equal(hashTag(key), id, key);
    assert.ok(key.startsWith(`${KEY_PREFIX}:`), key);
  }
});

Deno.test("conversationKeys().all() lists nine distinct keys covering every stream and hash", () => {
  const keys = conversationKeys("c-all");
  const all = keys.all();
  assert.equal(new Set(all).size, all.length);
  assert.deepEqual(
    new Set(all),
    new Set([
      keys.meta,
      keys.requests(1),
      keys.requests(2),
      keys.responses(1),
      keys.responses(2),
      keys.live,
      keys.deadLetter,
      keys.answered,
      keys.routed,
    ]),
  );
  assert.equal(all.length, 9);
  assert.ok(!all.includes(keys.control), "the control channel is not a key");
});

Deno.test("conversationKeys() gives each agent its own request and response stream", () => {
  const keys = conversationKeys("c1");
  assert.equal(keys.requests(1), "dialogue:{c1}:requests:1");
  assert.equal(keys.responses(2), "dialogue:{c1}:responses:2");
  assert.notEqual(keys.requests(1), keys.requests(2));
  assert.notEqual(keys.requests(1), keys.responses(1));
});

Deno.test("conversationKeys() of two conversations share no key", () => {
  const a = conversationKeys("conv-a");
  const b = conversationKeys("conv-b");
  const shared = a.all().filter((key) => b.all().includes(key));
  assert.deepEqual(shared, []);
  assert.notEqual(a.control, b.control);
});

Deno.test("conversationIndexKey() is one prefixed key outside every conversation's hash tag", () => {
  assert.equal(conversationIndexKey(), `${KEY_PREFIX}:conversations`);
  assert.equal(hashTag(conversationIndexKey()), undefined);
});

Deno.test("newConversationId() gives unique ids that pass isValidConversationId()", () => {
  const now = new Date("2025-03-04T05:06:07.890Z");
  const ids = Array.from({ length: 2000 }, () => newConversationId(now));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) {
    assert.ok(isValidConversationId(id), id);
    assert.match(id, /^[0-9a-z-]+$/);
  }
});

Deno.test("newConversationId() starts with the UTC creation time so ids sort by time", () => {
  assert.match(
    newConversationId(new Date("2025-03-04T05:06:07.890Z")),
    /^20250304-050607-[0-9a-f]{8}$/,
  );
  const times = [
    "2024-12-31T23:59:59.999Z",
    "2025-01-01T00:00:00.000Z",
    "2025-01-01T00:00:01.000Z",
    "2025-01-01T09:59:59.000Z",
    "2025-01-01T10:00:00.000Z",
    "2025-10-01T00:00:00.000Z",
  ];
  const ids = times.map((t) => newConversationId(new Date(t)));
  assert.deepEqual([...ids].sort(), ids);
  assert.deepEqual([...ids].reverse().sort(), ids);
});

Deno.test("isValidConversationId() rejects ids that would break keys, patterns or paths", () => {
  for (
    const id of [
      "",
      "a b",
      "a:b",
      "{a}",
      "a}b",
      "a*",
      "a/b",
      "a\\b",
      "a\nb",
      "ünïcode",
      "x".repeat(129),
    ]
  ) {
    assert.equal(isValidConversationId(id), false, JSON.stringify(id));
  }
  for (const id of ["c1", "A_b.c-9", "x".repeat(128)]) {
    assert.equal(isValidConversationId(id), true, id);
  }
});

Deno.test("consumerName() names the role and differs between calls", () => {
  const a = consumerName("agent-1");
  const b = consumerName("agent-1");
  assert.ok(a.startsWith("agent-1-"), a);
  assert.ok(a.includes(String(Deno.pid)), a);
  assert.notEqual(a, b);
});
