/**
 * `POST /api/embed` of the test double: a hashed bag of words per input,
 * L2-normalised, so similar texts get similar vectors and topic drift has
 * something real to measure.
 *
 * @module
 */
import { hashSeed } from "./prose.ts";
import { jsonResponse } from "./wire.ts";

/** Dimensions of every vector. */
export const EMBEDDING_SIZE = 32;

/** The reply to an embed request for `model` (already resolved). */
export function embedResponse(model: string, body: Record<string, unknown>): Response {
  const input = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? "")];
  const words = input.join(" ").split(/\s+/).filter((w) => w !== "").length;
  return jsonResponse({
    model,
    embeddings: input.map(_embedding),
    total_duration: 1_000_000 + words * 10_000,
    load_duration: 100_000,
    prompt_eval_count: Math.ceil(words * 1.3),
  });
}

function _embedding(text: string): number[] {
  const vector = new Array<number>(EMBEDDING_SIZE).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = hashSeed(word);
    vector[hash % EMBEDDING_SIZE]! += (hash >>> 16) & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((v) => v / norm);
}
