/**
 * Validating a model's structured output (Ollama `format`): truncation is
 * checked before parsing, then JSON, then the zod schema. Model output is
 * untrusted; the problem found is said in words fit for a log or a retry.
 *
 * @module
 */
import type { z } from "zod";

/** Outcome of {@linkcode parseStructuredReply}. */
export type StructuredReply<T> =
  | { ok: true; value: T }
  | { ok: false; problem: string };

/**
 * Validates `content` against `schema`.
 *
 * @example A reply cut at the token limit is rejected before parsing
 * ```ts
 * import { z } from "zod";
 * import { parseStructuredReply } from "./structured_reply.ts";
 * const reply = parseStructuredReply(z.object({ a: z.string() }), '{"a": "x"}', "length");
 * reply.ok; // false: "the reply was cut at the length limit"
 * ```
 */
export function parseStructuredReply<S extends z.ZodType>(
  schema: S,
  content: string,
  doneReason: string,
): StructuredReply<z.infer<S>> {
  if (doneReason === "length") {
    return { ok: false, problem: "the reply was cut at the length limit" };
  }
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (error) {
    return { ok: false, problem: `not JSON (${(error as Error).message})` };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return { ok: false, problem: `${issue?.path.join(".") || "(root)"}: ${issue?.message}` };
}
