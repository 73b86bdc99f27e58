/**
 * Validating a model's structured output (Ollama `format`): truncation is
 * checked before parsing, then JSON, then the zod schema. Model output is
 * untrusted; the problem found is said in words fit for a log or a retry.
 *
 * @module
 */
import type { z } from "zod";
import { escapeControls } from "../base/sanitize.ts";

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
    // V8 quotes the start of the reply; its control characters become visible
    // escapes here, since a cut-short `ESC ]` would swallow what follows.
    const quoted = escapeControls((error as Error).message, { keepNewlines: false });
    return { ok: false, problem: `not JSON (${quoted})` };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return { ok: false, problem: `${issue?.path.join(".") || "(root)"}: ${issue?.message}` };
}
