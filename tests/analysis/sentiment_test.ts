import assert from "node:assert/strict";
import {
  analyzeSentiment,
  SentimentAnalysis,
  sentimentClass,
  sentimentScore,
} from "../../lib/analysis/sentiment.ts";

Deno.test("sentimentScore() is positive for obviously happy text and negative for miserable text", () => {
  assert.ok(sentimentScore("I love this place, it is wonderful and everyone is so kind!") > 0.5);
  assert.ok(sentimentScore("This is awful. I hate it and I am furious.") < -0.5);
  assert.equal(sentimentScore("The door is on the left."), 0);
  assert.equal(sentimentScore(""), 0);
  assert.equal(sentimentScore("... !!"), 0);
});

Deno.test("sentimentScore() averages sentences, so one long text does not saturate", () => {
  const mixed = "What a wonderful, lovely day. The storm destroyed everything and I hate it.";
  const score = sentimentScore(mixed);
  assert.ok(Math.abs(score) < 0.5, `mixed text scored ${score}`);
  assert.ok(score >= -1 && score <= 1);
});

Deno.test("sentimentClass() uses VADER's ±0.05 thresholds", () => {
  assert.equal(sentimentClass(0.05), "positive");
  assert.equal(sentimentClass(0.049), "neutral");
  assert.equal(sentimentClass(-0.05), "negative");
});

Deno.test("analyzeSentiment() follows each speaker's trajectory and checks self-reported labels", () => {
  const { scores, summary } = analyzeSentiment([
    { agent: 1, text: "I am so happy to see you, friend!", label: "positive" },
    { agent: 2, text: "Leave me alone, this is terrible.", label: "negative" },
    { agent: 1, text: "The tide turns at noon.", label: "neutral" },
    { agent: 2, text: "Sorry, that was awful of me. I hate fighting.", label: "positive" },
    { agent: 1, text: "It is all ruined, I am miserable and angry.", label: "mixed" },
  ]);
  SentimentAnalysis.parse(summary);
  assert.equal(scores.length, 5);
  const one = summary.agents["1"];
  assert.equal(one.summary.n, 3);
  assert.ok((one.first ?? 0) > 0 && (one.last ?? 0) < 0, "agent 1 goes from happy to miserable");
  assert.ok(one.trend_per_turn < 0, "a falling trend");
  assert.deepEqual(one.self_reported, { positive: 1, neutral: 1, mixed: 1 });
  assert.equal(summary.agents["2"].summary.n, 2);
  // Labelled positive/neutral/negative: turns 1–4; turn 4 says "positive" but reads negative.
  assert.equal(summary.self_report_agreement, 0.75);
});

Deno.test("analyzeSentiment() of no turns is all zeros and nulls", () => {
  const { scores, summary } = analyzeSentiment([]);
  assert.deepEqual(scores, []);
  assert.equal(summary.overall.n, 0);
  assert.equal(summary.agents["1"].first, null);
  assert.equal(summary.self_report_agreement, null);
  SentimentAnalysis.parse(summary);
});
