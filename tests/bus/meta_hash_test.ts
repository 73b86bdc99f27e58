import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { decodeMetaHash, encodeMetaHash } from "../../lib/bus/meta_hash.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

const META = ConversationMeta.parse({
  id: "conv-1",
  status: "running",
  created_at: 1_700_000_000_000,
  max_turns: 50,
  duration_seconds: 300,
  models: { manager: "qwen3", agent1: "llama3.2", agent2: "gemma3" },
  config: { a: 1 },
});

Deno.test("encodeMetaHash() and decodeMetaHash() round-trip metadata with objects and numbers", () => {
  const hash = encodeMetaHash(META);
  assert.equal(hash.models, JSON.stringify(META.models));
  assert.equal(hash.max_turns, "50");
  assert.deepEqual(decodeMetaHash("conv-1", hash), META);
});

Deno.test("encodeMetaHash() leaves out undefined fields of a patch", () => {
  assert.deepEqual(encodeMetaHash({ turns: 2, error: undefined }), { turns: "2" });
});

Deno.test("decodeMetaHash() names the bad field and how to inspect or delete the run", () => {
  const bad = { ...encodeMetaHash(META), models: "{not json" };
  assert.throws(() => decodeMetaHash("conv-1", bad), (error: unknown) => {
    assert.ok(error instanceof DialogueError);
    assert.equal(error.code, ErrorCode.NotFound);
    assert.match(error.message, /Conversation conv-1 has invalid metadata in Redis/);
    assert.match(error.message, /deno task clean --conversation conv-1 --force/);
    return true;
  });
  const wrong = { ...encodeMetaHash(META), status: "sleeping" };
  assert.throws(() => decodeMetaHash("conv-1", wrong), /status/);
});
