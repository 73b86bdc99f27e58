/**
 * Shared by the Ollama double's tests: a fresh double per test, a streamed
 * chat collected, a rejection caught.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { OllamaDouble, type OllamaDoubleOptions } from "../../../lib/testing/ollama_double.ts";

/** The model every test asks for (installed as `llama3.2:latest`). */
export const MODEL = "llama3.2";

/** Runs `fn` against a fresh double and always closes it. */
export async function withDouble(
  options: OllamaDoubleOptions,
  fn: (double: OllamaDouble, client: Ollama) => Promise<void>,
): Promise<void> {
  const double = await OllamaDouble.start(options);
  try {
    await fn(double, new Ollama({ host: double.url }));
  } finally {
    await double.close();
  }
}

/** One user message. */
export function user(content: string) {
  return [{ role: "user", content }];
}

/** Streams a chat (as the product does); the content chunks, their text and the last object. */
export async function streamChat(client: Ollama, request: Record<string, unknown>) {
  const chunks: string[] = [];
  const parts = await client.chat({
    model: MODEL,
    messages: user("hello"),
    ...request,
    stream: true,
  });
  let last: Record<string, unknown> = {};
  for await (const part of parts) {
    if (!part.done) chunks.push(part.message.content);
    last = part as unknown as Record<string, unknown>;
  }
  return { chunks, content: chunks.join(""), last };
}

/** Asserts `promise` rejects and returns the error. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${error}`);
    return error;
  }
  assert.fail("expected a rejection");
}
