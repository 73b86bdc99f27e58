import assert from "node:assert/strict";
import {
  contentWords,
  cosineSimilarity,
  jaccard,
  lexicalSimilarity,
  ngrams,
  overlapShare,
  tokenize,
} from "../../lib/analysis/text_similarity.ts";

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

Deno.test("contentWords() drops function words and folds plurals and possessives", () => {
  assert.deepEqual(contentWords("The keepers' lamps and the keeper's lamp are out"), [
    "keeper",
    "lamp",
    "keeper",
    "lamp",
  ]);
  // A double s and short words are not plurals.
  assert.deepEqual(contentWords("glass bus"), ["glass", "bus"]);
  assert.deepEqual(contentWords("Yes, I would, and you?"), []);
});

Deno.test("ngrams(), overlapShare() and jaccard() give hand-computed values", () => {
  assert.deepEqual(ngrams(["a", "b", "c", "d"], 3), ["a b c", "b c d"]);
  assert.deepEqual(ngrams(["a"], 2), []);
  assert.equal(overlapShare(new Set(["a", "b", "c", "d"]), new Set(["a", "x"])), 0.25);
  assert.equal(overlapShare(new Set(), new Set(["a"])), 0);
  assert.equal(jaccard(new Set(["a", "b", "c"]), new Set(["b", "c", "d"])), 0.5);
  assert.equal(jaccard(new Set(), new Set()), 0);
});

Deno.test("cosineSimilarity() is 1 for parallel vectors, 0 for orthogonal or mismatched ones", () => {
  assert.equal(cosineSimilarity([2, 0, 1], [4, 0, 2]), 1);
  assert.equal(cosineSimilarity([1, 0], [0, 1]), 0);
  assert.equal(cosineSimilarity([1, 0], [-1, 0]), 0, "negative similarity is clamped");
  assert.equal(cosineSimilarity([1, 2], [1, 2, 3]), 0);
  assert.equal(cosineSimilarity([0, 0], [1, 1]), 0);
  assert.equal(cosineSimilarity([1, 1], [1, 0]).toFixed(4), (1 / Math.SQRT2).toFixed(4));
});

Deno.test("lexicalSimilarity() compares content words, not function words", () => {
  assert.equal(lexicalSimilarity("the storm", "a storm"), 1);
  assert.equal(lexicalSimilarity("the and of", "the and of"), 0);
  // {lamp, storm} vs {lamp, ship}: one shared word of two each.
  assert.equal(lexicalSimilarity("lamp storm", "lamps ship").toFixed(6), "0.500000");
  const setting = "A lighthouse on a rocky island during a winter storm";
  assert.ok(
    lexicalSimilarity(setting, "The storm is shaking the lighthouse!") >
      lexicalSimilarity(setting, "I prefer pizza with basil."),
  );
});
