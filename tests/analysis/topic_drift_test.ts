import assert from "node:assert/strict";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { OllamaBackend } from "../../lib/llm/ollama/ollama_backend.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import {
  type DriftTurn,
  embedTurns,
  measureTopicDrift,
  TopicDrift,
} from "../../lib/analysis/topic_drift.ts";

const STORY = "A lighthouse on a rocky island during a winter storm. " +
  "The lamp has failed and a ship is approaching the rocks.";

const ON_TOPIC = [
  "The lamp in the lighthouse failed again, and the storm is getting worse!",
  "Then we fix the lamp before the ship hits the rocks.",
  "I can see the ship's lights through the storm.",
];
const OFF_TOPIC = [
  "Did you know my aunt bakes the best apple pie in town?",
  "Pie is overrated; a proper cheesecake needs cream cheese and patience.",
  "Cheesecake recipes always call for too much sugar, honestly.",
  "My aunt would disagree about the sugar and the cream.",
];

function turns(texts: string[]): DriftTurn[] {
  return texts.map((text, i) => ({ agent: (i % 2 + 1) as 1 | 2, text, seq: i + 1 }));
}

Deno.test("measureTopicDrift() gives off-topic turns a higher drift than on-topic ones", () => {
  const m = measureTopicDrift(turns([...ON_TOPIC, ...OFF_TOPIC]), STORY);
  TopicDrift.parse(m.summary);
  const drift = m.setting.map((s) => 1 - (s ?? 0));
  const on = drift.slice(0, 3);
  const off = drift.slice(3);
  assert.ok(Math.max(...on) < Math.min(...off), `on ${on} vs off ${off}`);
  assert.equal(m.summary.method, "lexical");
  assert.equal(m.summary.model, null);
});

Deno.test("measureTopicDrift() flags a drift from the first of three off-topic turns", () => {
  const m = measureTopicDrift(turns([...ON_TOPIC, ...OFF_TOPIC]), STORY);
  assert.deepEqual(m.summary.off_topic_turns, [4, 5, 6, 7]);
  assert.equal(m.summary.drift_from_turn, 4);
  assert.ok((m.summary.baseline ?? 0) > 0);
  // Two off-topic turns are a digression, not a drift.
  const brief = measureTopicDrift(
    turns([...ON_TOPIC, ...OFF_TOPIC.slice(0, 2), ON_TOPIC[0]!]),
    STORY,
  );
  assert.deepEqual(brief.summary.off_topic_turns, [4, 5]);
  assert.equal(brief.summary.drift_from_turn, null);
});

Deno.test("measureTopicDrift() compares each turn with the previous one", () => {
  const m = measureTopicDrift(turns([...ON_TOPIC, ...OFF_TOPIC]), STORY);
  assert.equal(m.previous[0], null);
  // Turn 4 (pie) and turn 3 (ship) share no content word; turns 5 and 6
  // share one of 8 and 6 ("cheesecake"): 1 / √48.
  assert.equal(m.previous[3], 0);
  assert.equal(m.previous[5], 0.1443);
  const means = m.summary.previous_similarity;
  assert.ok(means !== null && means.overall > 0);
});

Deno.test("measureTopicDrift() without a story measures only turn-to-turn similarity", () => {
  const m = measureTopicDrift(turns(ON_TOPIC), null);
  assert.deepEqual(m.setting, [null, null, null]);
  assert.equal(m.summary.setting_similarity, null);
  assert.equal(m.summary.baseline, null);
  assert.deepEqual(m.summary.off_topic_turns, []);
  assert.equal(measureTopicDrift([], STORY).summary.previous_similarity, null);
});

Deno.test("measureTopicDrift() uses embeddings when given, and checks they cover every turn", () => {
  const embeddings = {
    model: "nomic-embed-text",
    setting: [1, 0],
    turns: [[1, 0], [0.6, 0.8], [0, 1]],
  };
  const m = measureTopicDrift(turns(ON_TOPIC), STORY, embeddings);
  assert.deepEqual(m.setting, [1, 0.6, 0]);
  assert.deepEqual(m.previous, [null, 0.6, 0.8]);
  assert.equal(m.summary.method, "embedding");
  assert.equal(m.summary.model, "nomic-embed-text");
  assert.throws(
    () => measureTopicDrift(turns(ON_TOPIC), STORY, { ...embeddings, turns: [[1, 0]] }),
    RangeError,
  );
});

Deno.test("embedTurns() embeds the story and every turn through the backend (Ollama's /api/embed) in batches", async () => {
  const double = await OllamaDouble.start();
  try {
    const texts = Array.from({ length: 20 }, (_, i) => `turn ${i} about the storm`);
    const e = await embedTurns(STORY, texts, {
      backend: new OllamaBackend({ host: double.url }),
      model: "tiny",
    });
    assert.equal(e.model, "tiny");
    assert.equal(e.turns.length, 20);
    assert.ok(e.setting !== null && e.setting.length > 0);
    const calls = double.requests.filter((r) => r.path === "/api/embed");
    assert.equal(calls.length, 2, "21 texts in batches of 16");
    const m = measureTopicDrift(
      texts.map((text, i) => ({ agent: (i % 2 + 1) as 1 | 2, text, seq: i + 1 })),
      STORY,
      e,
    );
    assert.equal(m.summary.method, "embedding");
    const none = await embedTurns(null, ["a"], {
      backend: new OllamaBackend({ host: double.url }),
      model: "tiny",
    });
    assert.equal(none.setting, null);
    assert.equal(none.turns.length, 1);
  } finally {
    await double.close();
  }
});

Deno.test("embedTurns() names the pull command for a missing model and the host when unreachable", async () => {
  const double = await OllamaDouble.start();
  try {
    await assert.rejects(
      embedTurns(STORY, ["x"], {
        backend: new OllamaBackend({ host: double.url }),
        model: "nomic-embed-text",
      }),
      (e: unknown) =>
        e instanceof DialogueError && e.code === ErrorCode.ModelNotFound &&
        e.message.includes("ollama pull nomic-embed-text"),
    );
  } finally {
    await double.close();
  }
  await assert.rejects(
    embedTurns(STORY, ["x"], {
      backend: new OllamaBackend({ host: "http://127.0.0.1:9" }),
      model: "tiny",
    }),
    (e: unknown) =>
      e instanceof DialogueError && e.code === ErrorCode.LlmUnavailable &&
      e.message.includes("127.0.0.1:9") && e.message.includes("OLLAMA_HOST"),
  );
});
