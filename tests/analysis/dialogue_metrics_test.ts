import assert from "node:assert/strict";
import {
  computeDialogueMetrics,
  detectLoop,
  DialogueMetrics,
  type DialogueTurn,
  tokenize,
} from "../../lib/analysis/dialogue_metrics.ts";

/** Alternating speakers, agent 1 first, as in a real run. */
function turns(texts: string[]): DialogueTurn[] {
  return texts.map((text, i) => ({ agent: i % 2 === 0 ? 1 : 2, text }));
}

const VARIED = [
  "Good morning! Did you bring the maps of the northern pass?",
  "I did, although the river crossing looks flooded after last week's storms.",
  "Then we should ask the ferryman about the lower bridge instead.",
  "He charges too much, but maybe the mayor will lend us horses.",
  "Fine, let us leave at dawn and meet by the fountain.",
];
const MORE_VARIED = [
  "Should we pack lanterns? The caves beyond the ridge are dark.",
  "Two lanterns and plenty of oil, my cousin sells it cheaply.",
  "Your cousin also sold me a lame mule last spring, remember?",
  "That mule carried your grain for three harvests without complaint.",
  "Granted. I will fetch rope from the smithy before sunrise.",
  "Bring bread as well; the inn at Hollow Ford closed in winter.",
  "Agreed, cheese and dried apples too, since the journey is long.",
];

Deno.test("tokenize() lower-cases Unicode words and keeps inner apostrophes", () => {
  assert.deepEqual(tokenize("You’re welcome — 'thank' you! 42 Straße"), [
    "you're",
    "welcome",
    "thank",
    "you",
    "42",
    "straße",
  ]);
  assert.deepEqual(tokenize("...!?"), []);
});

Deno.test("computeDialogueMetrics() gives hand-computed distinct-1 and distinct-2", () => {
  const m = computeDialogueMetrics(
    turns(["the cat sat on the mat", "the dog sat"]),
  );
  // Overall unigrams: 9 in all, 6 unique; bigrams: 7, all unique.
  assert.deepEqual(m.diversity.overall, { distinct_1: 0.6667, distinct_2: 1 });
  // Agent 1: 6 unigrams, 5 unique ("the" twice); 5 bigrams, all unique.
  assert.deepEqual(m.diversity.agents["1"], {
    distinct_1: 0.8333,
    distinct_2: 1,
  });
  assert.deepEqual(m.diversity.agents["2"], { distinct_1: 1, distinct_2: 1 });
  assert.equal(m.words, 9);
  assert.equal(m.turn_taking.words_per_turn_mean, 4.5);
  assert.equal(m.turn_taking.words_per_turn_stdev, 1.5);
});

Deno.test("detectLoop() flags endless thanks from the first turn of the looping window", () => {
  const loop = [
    ...VARIED,
    ...Array.from(
      { length: 4 },
      () => ["Thank you so much!", "You're welcome, thank you!"],
    ).flat(),
  ];
  // Turns 6 and 7 say the phrases first; turn 8 is the first that repeats
  // (turn 6), and turns 8-11 all repeat, so the window starts at turn 8.
  const result = detectLoop(loop);
  assert.equal(result.detected, true);
  assert.equal(result.from_turn, 8);
  assert.match(
    result.evidence ?? "",
    /turn 8 "Thank you so much!" repeats turn 6/,
  );
  // Live use: nothing yet after 10 turns, detected once turn 11 arrives.
  assert.equal(detectLoop(loop.slice(0, 10)).detected, false);
  assert.equal(detectLoop(loop.slice(0, 11)).from_turn, 8);
});

Deno.test("detectLoop() leaves a varied conversation alone", () => {
  assert.deepEqual(detectLoop([...VARIED, ...MORE_VARIED]), {
    detected: false,
  });
  assert.deepEqual(detectLoop([]), { detected: false });
  const m = computeDialogueMetrics(turns([...VARIED, ...MORE_VARIED]));
  assert.equal(m.loop.detected, false);
  assert.equal(m.repetition.rate, 0);
  assert.equal(m.repetition.exact_repeats, 0);
  assert.equal(m.repetition.near_repeats, 0);
});

Deno.test("detectLoop() honours the window option and rejects a bad one", () => {
  const texts = [
    "Hello there, traveller.",
    "Greetings!",
    "Farewell, friend!",
    "Farewell, friend!",
  ];
  assert.equal(detectLoop(texts).detected, false);
  assert.equal(detectLoop(texts, { window: 2 }).detected, false);
  const pingPong = ["Bye now!", "Bye now!", "Bye now!"];
  assert.equal(detectLoop(pingPong, { window: 2 }).from_turn, 2);
  assert.throws(() => detectLoop(texts, { window: 1 }), RangeError);
  assert.throws(() => detectLoop(texts, { window: 2.5 }), RangeError);
});

Deno.test("computeDialogueMetrics() reports loop turns as sequence numbers", () => {
  const texts = ["Bye now!", "Bye now!", "Bye now!", "Bye now!", "Bye now!"];
  const m = computeDialogueMetrics(
    texts.map((text, i) => ({ agent: i % 2 === 0 ? 1 : 2, text, seq: i + 11 })),
  );
  // Three turns with the same words make a loop from the first of them.
  assert.equal(m.loop.from_turn, 11);
  assert.equal(m.loop.evidence, 'turns 11-13 say the same "Bye now!"');
  assert.deepEqual(m.repetition.exact_repeat_turns, [12, 13, 14, 15]);
});

Deno.test("computeDialogueMetrics() shows a one-sided run as unbalanced", () => {
  const long = "I have walked these roads for many years now";
  const m = computeDialogueMetrics([
    { agent: 1, text: long, tokens: 30 },
    { agent: 2, text: "Yes.", tokens: 10 },
    { agent: 1, text: long, tokens: 30 },
    { agent: 2, text: "Yes.", tokens: 10 },
  ]);
  // 18 words to 2: shares 0.9 / 0.1, balance 1 - 0.8.
  assert.deepEqual(m.turn_taking.word_share, { "1": 0.9, "2": 0.1 });
  assert.equal(m.turn_taking.word_balance, 0.2);
  assert.deepEqual(m.turn_taking.token_share, { "1": 0.75, "2": 0.25 });
  assert.equal(m.turn_taking.token_balance, 0.5);
});

Deno.test("computeDialogueMetrics() leaves shares null when nothing was measured", () => {
  const m = computeDialogueMetrics(turns(["", "..."]));
  assert.equal(m.turn_taking.word_share, null);
  assert.equal(m.turn_taking.token_balance, null);
  assert.equal(m.repetition.exact_repeats, 0);
  DialogueMetrics.parse(m);
  DialogueMetrics.parse(computeDialogueMetrics([]));
});

Deno.test("computeDialogueMetrics() counts the share of messages asking a question", () => {
  const m = computeDialogueMetrics(
    turns(["Where to?", "North.", "Why north?", "Because of the weather."]),
  );
  assert.equal(m.turn_taking.question_rate, 0.5);
  assert.deepEqual(m.turn_taking.question_rate_by_agent, { "1": 1, "2": 0 });
});

Deno.test("computeDialogueMetrics() counts exact, near-exact and trigram repeats", () => {
  const m = computeDialogueMetrics(turns([
    "The cat sat on the mat today",
    "A dog barked loudly at the mailman",
    "the cat sat on the mat today!",
    "The cat sat on the old mat today",
  ]));
  assert.deepEqual(m.repetition.exact_repeat_turns, [3]);
  assert.equal(m.repetition.exact_repeats, 1);
  // Turn 4 shares 6 of 7 distinct words with turn 1 (Jaccard 0.857).
  assert.deepEqual(m.repetition.near_repeat_turns, [3, 4]);
  // Turn 3 repeats all 5 trigrams, turn 4 three of its six: both repeat.
  assert.deepEqual(m.repetition.repeating_turns, [3, 4]);
  assert.equal(m.repetition.eligible_turns, 4);
  assert.equal(m.repetition.rate, 0.5);
});

Deno.test("computeDialogueMetrics() reports tokens per turn over the turns that reported them", () => {
  const m = computeDialogueMetrics([
    { agent: 1, text: "one", tokens: 10 },
    { agent: 2, text: "two", tokens: 30 },
    { agent: 1, text: "three", tokens: 0 },
  ]);
  assert.equal(m.turn_taking.tokens_per_turn_mean, 20);
  assert.equal(m.turn_taking.tokens_per_turn_stdev, 10);
});

Deno.test("computeDialogueMetrics() reports staleness with sequence numbers and its options", () => {
  const texts = ["The lamp is out and the ship is close.", "Lamp.", "Lamp!", "Lamp?", "Ship."];
  const seqTurns = texts.map((text, i) => ({ agent: (i % 2 + 1) as 1 | 2, text, seq: i + 21 }));
  assert.equal(computeDialogueMetrics(seqTurns).stale.detected, false);
  const m = computeDialogueMetrics(seqTurns, { stale: { window: 3 } });
  assert.equal(m.stale.from_turn, 22);
  DialogueMetrics.parse(m);
});
