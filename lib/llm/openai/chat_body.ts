/**
 * The neutral {@linkcode ChatRequest} in the OpenAI chat completions wire
 * format, always streamed.
 *
 * @module
 */
import type { ChatRequest } from "../llm_backend.ts";

/**
 * The `POST /v1/chat/completions` body for `request`. It always streams
 * and asks for the usage chunk (`stream_options.include_usage`), without
 * which a streamed reply carries no token counts. A `schema` becomes
 * `response_format` `json_schema` with `strict: true`, the shape OpenAI,
 * vLLM and LM Studio accept. `contextTokens` has no OpenAI field: the
 * server fixes its context when it loads the model (llama.cpp `-c`, vLLM
 * `--max-model-len`), so it is not sent.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { chatBody } from "./chat_body.ts";
 *
 * const body = chatBody({ model: "m", messages: [], maxTokens: 64 });
 * strictEqual(body.max_tokens, 64);
 * ```
 */
export function chatBody(request: ChatRequest): Record<string, unknown> {
  return {
    model: request.model,
    messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
    stream: true,
    stream_options: { include_usage: true },
    ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.seed === undefined ? {} : { seed: request.seed }),
    ...(request.schema === undefined ? {} : {
      response_format: {
        type: "json_schema",
        json_schema: { name: "reply", schema: request.schema, strict: true },
      },
    }),
  };
}
