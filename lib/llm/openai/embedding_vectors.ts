/**
 * The vectors of a `POST /v1/embeddings` reply, checked before topic drift
 * computes anything from them.
 *
 * @module
 */
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";

/**
 * The `embedding` of each entry of `data`, ordered by `index` (the API
 * gives every entry its input's index; a server batching inputs need not
 * answer in order), each one a non-empty array of finite numbers.
 *
 * @param count How many texts were sent: there must be a vector for each.
 * @param where The server's safe description, for the message.
 * @throws {DialogueError} `invalid_output` naming what was wrong.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { embeddingVectors } from "./embedding_vectors.ts";
 *
 * const data = [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: [1, 0] }];
 * deepStrictEqual(embeddingVectors(data, 2, "a server"), [[1, 0], [0, 1]]);
 * ```
 */
export function embeddingVectors(data: unknown, count: number, where: string): number[][] {
  const fail = (why: string) =>
    new DialogueError(ErrorCode.InvalidOutput, `${where} answered /v1/embeddings with ${why}`);
  if (!Array.isArray(data) || data.length !== count) {
    throw fail(`${Array.isArray(data) ? data.length : "no"} vectors for ${count} texts`);
  }
  const entries = data.map((entry, position) => {
    const { index, embedding } = (entry ?? {}) as { index?: unknown; embedding?: unknown };
    if (!Array.isArray(embedding) || embedding.length === 0) {
      throw fail("an entry without a vector");
    }
    if (!embedding.every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw fail("a vector holding something other than finite numbers");
    }
    return {
      index: typeof index === "number" ? index : position,
      embedding: embedding as number[],
    };
  });
  entries.sort((a, b) => a.index - b.index);
  if (entries.some((entry, i) => entry.index !== i)) {
    throw fail(`indexes other than 0 to ${count - 1}`);
  }
  return entries.map((entry) => entry.embedding);
}
