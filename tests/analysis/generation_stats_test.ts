import assert from "node:assert/strict";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage, type MessageMetadata } from "../../lib/model/dialog_message.ts";
import { AgentStats, agentStats, generationRow } from "../../lib/analysis/generation_stats.ts";

const META = ConversationMeta.parse({
  id: "c1",
  status: "completed",
  created_at: 0,
  max_turns: 10,
  duration_seconds: 60,
  models: { manager: "m", agent1: "a", agent2: "b" },
  config: {},
});

function reply(seq: number, at: number, metadata: Partial<MessageMetadata>): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: at,
    message_id: `r${seq}`,
    role: "assistant",
    content: "one two three",
    metadata: { conversation_id: "c1", sequence_number: seq, ...metadata },
  });
}

Deno.test("agentStats() fits prompt token growth per turn and totals wall time", () => {
  // Prompts of 100, 160, 220 and (unreported) 0 tokens: +60 per turn.
  const responses = [
    reply(1, 1000, { prompt_tokens: 100, wall_time_ms: 500 }),
    reply(2, 2000, { prompt_tokens: 160, wall_time_ms: 700 }),
    reply(3, 3000, { prompt_tokens: 220, wall_time_ms: 900 }),
    reply(4, 4000, { prompt_tokens: 0, wall_time_ms: 100 }),
  ];
  const rows = responses.map((r, i) =>
    generationRow(r, META, { previousAt: i === 0 ? 0 : responses[i - 1]!.queue_timestamp })
  );
  const s = AgentStats.parse(agentStats(rows, responses));
  assert.equal(s.prompt_tokens_growth_per_turn, 60);
  assert.equal(s.wall_time_ms_total, 2200);
  assert.equal(s.response_latency_ms.mean, 1000);
  assert.equal(s.response_latency_ms.n, 4);
});

Deno.test("generationRow() reads speeds, loads and latency from one response", () => {
  const r = reply(2, 5000, {
    agent_id: 2,
    tokens_generated: 40,
    tokens_per_second: 20,
    prompt_tokens_per_second: 400.12345,
    load_duration_ms: 2500,
    time_to_first_token_ms: 90,
    total_duration_ms: 2000,
    wall_time_ms: 2300,
    llm_ms: 2299.875,
    done_reason: "length",
  });
  const row = generationRow(r, META, { previousAt: 1000 });
  assert.equal(row.model, "b");
  assert.equal(row.prompt_tokens_per_second, 400.123);
  assert.equal(row.load_ms, 2500);
  assert.equal(row.llm_ms, 2299.875);
  assert.equal(row.bus_overhead_ms, 0.125, "wall − the agent's llm_ms, not Ollama's total");
  assert.equal(row.latency_ms, 4000);
  assert.equal(row.words, 3);
  assert.equal(generationRow(r, META).latency_ms, null);
  const s = agentStats([row], [r]);
  assert.equal(s.cold_starts, 1);
  assert.equal(s.truncated_share, 1);
  assert.equal(s.tokens_per_message.mean, 40);
});

Deno.test("agentStats() counts the retries and the turns that needed one; generationRow() shows each turn's attempts", () => {
  const responses = [
    reply(1, 1000, { attempts: 1 }),
    reply(2, 2000, { attempts: 3, last_error: "Ollama at http://h answered 503: busy" }),
    reply(3, 3000, { attempts: 2, last_error: "invalid reply (not JSON)" }),
    reply(4, 4000, {}), // recorded before attempts existed
  ];
  const rows = responses.map((r) => generationRow(r, META));
  assert.deepEqual(rows.map((r) => r.attempts), [1, 3, 2, null]);
  assert.equal(rows[1]!.last_error, "Ollama at http://h answered 503: busy");
  assert.equal(rows[0]!.last_error, null);
  const s = AgentStats.parse(agentStats(rows, responses));
  assert.equal(s.retries, 3);
  assert.equal(s.retried_turns, 2);
});

Deno.test("agentStats() counts the turns per token source; turns recorded before sources count as reported", () => {
  const responses = [
    reply(1, 1000, { token_source: "counted", tokens_generated: 9 }),
    reply(2, 2000, { token_source: "estimated", tokens_generated: 4 }),
    reply(3, 3000, { tokens_generated: 7 }),
    reply(4, 4000, { token_source: "counted", tokens_generated: 5 }),
  ];
  const rows = responses.map((r) => generationRow(r, META, {}));
  const s = AgentStats.parse(agentStats(rows, responses));
  assert.deepEqual(s.token_sources, { reported: 1, counted: 2, estimated: 1, absent: 0 });
});
