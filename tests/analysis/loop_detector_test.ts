import assert from "node:assert/strict";
import { detectLoop, detectStale, LoopResult } from "../../lib/analysis/loop_detector.ts";
import * as metrics from "../../lib/analysis/dialogue_metrics.ts";

const OPENING = [
  "The lamp is out and a ship is heading for the rocks.",
  "Then we climb the tower and rewire the lens motor from the generator.",
  "The generator floods whenever the tide is this high.",
  "We can carry the spare battery up the stairs instead.",
];
const THANKS = ["Thank you so much for everything!", "You're welcome, it was my pleasure!"];
/** Four varied turns, then the agents thank each other forever. */
const LOOPING = [...OPENING, ...THANKS, ...THANKS, ...THANKS, ...THANKS];

const VARIED = [
  "Good morning! Did you bring the maps of the northern pass?",
  "I did, although the river crossing looks flooded after last week's storms.",
  "Then we should ask the ferryman about the lower bridge instead.",
  "He charges too much, but maybe the mayor will lend us horses.",
  "Fine, let us leave at dawn and meet by the fountain.",
  "Should we pack lanterns? The caves beyond the ridge are dark.",
  "Two lanterns and plenty of oil, my cousin sells it cheaply.",
  "Your cousin also sold me a lame mule last spring, remember?",
  "That mule carried your grain for three harvests without complaint.",
  "Granted. I will fetch rope from the smithy before sunrise.",
  "Bring bread as well; the inn at Hollow Ford closed in winter.",
  "Agreed, cheese and dried apples too, since the journey is long.",
];

Deno.test("detectLoop() flags mutual thanks from the first turn of the looping window", () => {
  const result = LoopResult.parse(detectLoop(LOOPING));
  // Turn 5 opens the thanks; turns 7-10 each echo the turn two before.
  assert.equal(result.detected, true);
  assert.equal(result.from_turn, 7);
  assert.match(result.evidence ?? "", /^turns 7-10 each repeat a recent turn; turn 7 "Thank you/);
  // Called live after every turn, it fires exactly when turn 10 arrives.
  assert.equal(detectLoop(LOOPING.slice(0, 9)).detected, false);
  assert.equal(detectLoop(LOOPING.slice(0, 10)).from_turn, 7);
});

Deno.test("detectLoop() catches a conversation stuck mid-run or at its end on the same words", () => {
  const stuck = "We must wait for the tide, Mara.";
  const atEnd = [...VARIED.slice(0, 6), stuck, stuck, "we must WAIT for the tide -- Mara!"];
  const result = LoopResult.parse(detectLoop(atEnd));
  assert.equal(result.detected, true);
  assert.equal(result.from_turn, 7);
  assert.equal(result.evidence, 'turns 7-9 say the same "we must WAIT for the tide -- Mara!"');
  assert.equal(detectLoop(atEnd.slice(0, 8)).detected, false);
  // Mid-run, with varied talk after it: still found, at the turn it began.
  const midRun = [...VARIED.slice(0, 3), stuck, stuck, stuck, ...VARIED.slice(3)];
  assert.equal(detectLoop(midRun).from_turn, 4);
  assert.equal(detectLoop(midRun, { turnNumbers: midRun.map((_, i) => i + 11) }).from_turn, 14);
  // Two identical turns, or an empty reply repeated, are not a loop.
  assert.deepEqual(detectLoop([...VARIED.slice(0, 4), stuck, stuck]), { detected: false });
  assert.deepEqual(detectLoop(["...", "...", "..."]), { detected: false });
});

Deno.test("detectLoop() leaves a varied conversation alone", () => {
  assert.deepEqual(detectLoop(VARIED), { detected: false });
  assert.deepEqual(detectLoop([]), { detected: false });
  assert.deepEqual(detectLoop(["Only one turn."]), { detected: false });
});

Deno.test("detectLoop() reports the given turn numbers and validates its options", () => {
  const numbers = LOOPING.map((_, i) => i + 101);
  assert.equal(detectLoop(LOOPING, { turnNumbers: numbers }).from_turn, 107);
  assert.equal(detectLoop(LOOPING, { window: 6 }).from_turn, 7);
  assert.throws(() => detectLoop(LOOPING, { window: 1 }), RangeError);
  assert.throws(() => detectLoop(LOOPING, { turnNumbers: [1, 2] }), /turnNumbers must match/);
});

Deno.test("detectStale() flags a conversation that keeps agreeing without new content", () => {
  const stale = [
    ...OPENING,
    "Yes, the battery.",
    "The battery, yes.",
    "The stairs and the battery.",
    "Stairs. Battery. Yes?",
    "Yes, the battery on the stairs.",
    "Yes. The battery.",
  ];
  const result = detectStale(stale);
  assert.equal(result.detected, true);
  assert.equal(result.from_turn, 5);
  assert.match(result.evidence ?? "", /^turns 5-10 each brought less than 20% new words/);
  // Live, it fires when the sixth stale turn arrives, not before.
  assert.equal(detectStale(stale.slice(0, 9)).detected, false);
  // One turn with something new breaks the run.
  const revived = [...stale.slice(0, 7), "What about the foghorn?", ...stale.slice(7)];
  assert.equal(detectStale(revived).detected, false);
});

Deno.test("detectStale() leaves a varied conversation alone and honours its options", () => {
  assert.deepEqual(detectStale(VARIED), { detected: false });
  assert.deepEqual(detectStale([]), { detected: false });
  const short = ["The lamp is out.", "Lamp.", "Lamp!", "Lamp?"];
  assert.equal(detectStale(short).detected, false);
  assert.equal(detectStale(short, { window: 3 }).from_turn, 2);
  assert.equal(detectStale(short, { window: 3, turnNumbers: [5, 6, 7, 8] }).from_turn, 6);
  assert.throws(() => detectStale(short, { minNovelty: 2 }), RangeError);
  assert.throws(() => detectStale(short, { window: 0 }), RangeError);
});

Deno.test("dialogue_metrics.ts re-exports the live detectors unchanged", () => {
  assert.equal(metrics.detectLoop, detectLoop);
  assert.equal(metrics.detectStale, detectStale);
});
