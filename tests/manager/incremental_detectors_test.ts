import { assert, assertEquals } from "../helpers/assert.ts";
import { detectLoop, detectStale, type LoopResult } from "../../lib/analysis/loop_detector.ts";
import { LoopTracker, StaleTracker } from "../../lib/manager/incremental_detectors.ts";

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = seed + 0x6d2b79f5 | 0;
    let t = Math.imul(seed ^ seed >>> 15, 1 | seed);
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  };
}

const WORDS = ["lamp", "ship", "storm", "tower", "thank", "you", "yes", "the", "friend", "rocks"];
const PHRASES = ["Thank you!", "You're welcome!", "Yes, the lamp.", "The ship, yes."];

/** Conversations that drift in and out of repetition; `fresh` is the chance of a new word. */
function conversation(next: () => number, length: number, fresh = 0): string[] {
  const out: string[] = [];
  const word = (i: number, k: number) =>
    next() < fresh ? `novel${i}x${k}` : WORDS[Math.floor(next() * WORDS.length)];
  for (let i = 0; i < length; i++) {
    const r = next();
    if (r < 0.05 && out.length >= 1) out.push(out[out.length - 1]!);
    else if (r < 0.3 && out.length >= 2) out.push(out[out.length - 2]!);
    else if (r < 0.5) out.push(PHRASES[Math.floor(next() * PHRASES.length)]!);
    else {
      const n = 1 + Math.floor(next() * 12);
      out.push(Array.from({ length: n }, (_, k) => word(i, k)).join(" "));
    }
  }
  return out;
}

/** The first prefix on which the batch detector fires, and what it says. */
function firstBatch(
  texts: string[],
  detect: (texts: string[]) => LoopResult,
): { at: number; found: LoopResult } | undefined {
  for (let n = 1; n <= texts.length; n++) {
    const found = detect(texts.slice(0, n));
    if (found.detected) return { at: n, found };
  }
  return undefined;
}

function firstIncremental(
  texts: string[],
  tracker: { peek(text: string, seq: number): { finding: LoopResult; commit(): void } },
): { at: number; found: LoopResult } | undefined {
  for (const [i, text] of texts.entries()) {
    const step = tracker.peek(text, i + 1);
    step.commit();
    if (step.finding.detected) return { at: i + 1, found: step.finding };
  }
  return undefined;
}

Deno.test("LoopTracker fed turn by turn finds the loop detectLoop finds, at the same turn, with the same evidence", () => {
  const next = random(7);
  let detected = 0;
  for (let run = 0; run < 300; run++) {
    const texts = conversation(next, 30);
    const batch = firstBatch(texts, (t) => detectLoop(t));
    assertEquals(firstIncremental(texts, new LoopTracker()), batch, JSON.stringify(texts));
    if (batch) detected++;
  }
  // The generator makes both kinds of runs.
  assertEquals(detected > 20 && detected < 290, true, `${detected} of 300 looped`);
});

Deno.test("LoopTracker catches the same words three turns running, mid-run, as detectLoop does", () => {
  const stuck = "We must wait for the tide.";
  const texts = ["The lamp is out.", "Then we climb the tower now.", stuck, stuck, stuck, "Fine."];
  const batch = firstBatch(texts, (t) => detectLoop(t));
  assertEquals(batch?.at, 5);
  assertEquals(batch?.found.from_turn, 3);
  assertEquals(firstIncremental(texts, new LoopTracker()), batch);
});

Deno.test("StaleTracker fed turn by turn finds the staleness detectStale finds, at the same turn, with the same evidence", () => {
  const next = random(11);
  let detected = 0;
  for (let run = 0; run < 300; run++) {
    const texts = conversation(next, 30, 0.3);
    const batch = firstBatch(texts, (t) => detectStale(t));
    assertEquals(firstIncremental(texts, new StaleTracker()), batch, JSON.stringify(texts));
    if (batch) detected++;
  }
  assertEquals(detected > 20 && detected < 290, true, `${detected} of 300 went stale`);
});

Deno.test("LoopTracker costs the same per turn late in a long run as early on", () => {
  const tracker = new LoopTracker();
  const text = (i: number) => `Turn ${i} brings the lamp ${i * 7} and the ship ${i * 13} closer.`;
  let fed = 0;
  const feed = (count: number) => {
    for (const end = fed + count; fed < end; fed++) tracker.peek(text(fed), fed + 1).commit();
  };
  /** The fastest of five batches of 500 turns: robust to a busy machine. */
  const batchMs = () => {
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      feed(500);
      best = Math.min(best, performance.now() - start);
    }
    return best;
  };
  feed(500); // Warm up.
  const early = batchMs();
  feed(20_000);
  const late = batchMs();
  // Re-tokenising the history would make the late batches ~10x slower.
  assert(late < early * 3 + 2, `early ${early.toFixed(2)} ms, late ${late.toFixed(2)} ms`);
});
