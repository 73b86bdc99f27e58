/**
 * Shared by the OpenAI backend's tests: a fresh double per test, a backend
 * pointed at it, one user message.
 *
 * @module
 */
import {
  OpenAiBackend,
  type OpenAiBackendOptions,
} from "../../../lib/llm/openai/openai_backend.ts";
import type { ChatRequest } from "../../../lib/llm/llm_backend.ts";
import {
  OpenAiDouble,
  type OpenAiDoubleOptions,
} from "../../../lib/testing/openai/openai_double.ts";

/** A model the double lists by default. */
export const MODEL = "tiny";

/** Runs `fn` against a fresh double and a backend at its `/v1`; always closes both. */
export async function withDouble(
  options: OpenAiDoubleOptions,
  fn: (double: OpenAiDouble, backend: OpenAiBackend) => Promise<void>,
  backendOptions: Partial<OpenAiBackendOptions> = {},
): Promise<void> {
  const double = await OpenAiDouble.start(options);
  const backend = new OpenAiBackend({ baseUrl: `${double.url}/v1`, ...backendOptions });
  try {
    await fn(double, backend);
  } finally {
    await backend.close();
    await double.close();
  }
}

/** A chat request of one user message. */
export function ask(content = "Tell me about the harbor.", extra: Partial<ChatRequest> = {}) {
  return { model: MODEL, messages: [{ role: "user" as const, content }], ...extra };
}

/** The bodies of the chat completions the double received. */
export function chatBodies(double: OpenAiDouble): Record<string, unknown>[] {
  return double.requests
    .filter((r) => r.path === "/v1/chat/completions")
    .map((r) => r.body as Record<string, unknown>);
}
