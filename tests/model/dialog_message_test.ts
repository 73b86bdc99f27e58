/** The wire format of stream entries: the figures a response carries. */
import assert from "node:assert/strict";
import { agentForTurn, DialogMessage, MessageMetadata } from "../../lib/model/dialog_message.ts";
import { decodeEntry, encodeEntry } from "../../lib/bus/stream_entry.ts";

const IDENTITY = { conversation_id: "c1", sequence_number: 3 };

Deno.test("MessageMetadata.llm_ms keeps the agent's sub-millisecond measurement through a stream entry", () => {
  const message = DialogMessage.parse({
    queue_timestamp: 1,
    message_id: "m1",
    role: "assistant",
    content: "hi",
    metadata: { ...IDENTITY, wall_time_ms: 12.3456, llm_ms: 11.0625 },
  });
  const back = decodeEntry(encodeEntry(message));
  assert.equal(back.metadata.llm_ms, 11.0625);
  assert.equal(back.metadata.wall_time_ms - back.metadata.llm_ms, 12.3456 - 11.0625);
});

Deno.test("MessageMetadata.llm_ms is 0 in an entry written before it existed", () => {
  assert.equal(MessageMetadata.parse(IDENTITY).llm_ms, 0);
});

Deno.test("MessageMetadata rejects a negative or non-finite llm_ms", () => {
  for (const llm_ms of [-0.5, Number.POSITIVE_INFINITY, Number.NaN]) {
    assert.equal(MessageMetadata.safeParse({ ...IDENTITY, llm_ms }).success, false, String(llm_ms));
  }
});

Deno.test("agentForTurn() gives odd turns to agent 1 and even turns to agent 2", () => {
  assert.deepEqual([1, 2, 3, 4, 999].map(agentForTurn), [1, 2, 1, 2, 1]);
});
