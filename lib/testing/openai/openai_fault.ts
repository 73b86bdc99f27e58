/**
 * The ways an OpenAI-compatible server fails, as the test double plays
 * them on the next chat completion: an error status before any output, a
 * cut connection, a stream that ends without `[DONE]`, a reply cut at the
 * length limit, an error event mid-stream, characters split across writes,
 * given content, a hang.
 *
 * @module
 */
import { apiErrorResponse } from "./openai_wire.ts";

/**
 * A failure the double plays on the next `POST /v1/chat/completions`.
 * `afterChunks` counts content chunks sent before it strikes.
 */
export type OpenAiFault =
  /**
   * An error status with OpenAI's body (or `raw`, sent as is); a 429 carries
   * `Retry-After: retryAfter` (default 1).
   */
  | {
    kind: "status";
    status: 400 | 401 | 403 | 404 | 422 | 429 | 500 | 502 | 503;
    error?: string;
    retryAfter?: number | string;
    raw?: string;
  }
  /** The TCP connection dropped mid-body. */
  | { kind: "cut_connection"; afterChunks: number }
  /** A clean end without `[DONE]`: before the finish chunk, or just after it with `finish`. */
  | { kind: "no_done"; afterChunks: number; finish?: boolean }
  /** `finish_reason: "length"` after `afterChunks` (structured output always loses its end). */
  | { kind: "length"; afterChunks: number }
  /** An `{"error": …}` event inside the 200 stream, then `[DONE]` (as vLLM does). */
  | { kind: "error_mid_stream"; afterChunks: number; error?: string }
  /** The reply (default: a sentence of accents and emoji) with each chunk's first multibyte character sent in two writes. */
  | { kind: "split_utf8"; content?: string }
  /** This content instead of generated prose, ending with `finishReason` (default `stop`). */
  | { kind: "text"; content: string; finishReason?: string }
  /** No response at all until the client gives up or the double closes. */
  | { kind: "hang" };

/** Content of a `split_utf8` fault that gives none: every width of UTF-8 character. */
export const SPLIT_UTF8_TEXT = "Zoë’s café served a naïve jalapeño crêpe — ✓ 🎉 done.";

const _DEFAULTS: Record<number, [message: string, type: string, code: string | number | null]> = {
  400: ["Invalid value for 'messages'.", "invalid_request_error", null],
  401: ["Incorrect API key provided.", "invalid_request_error", "invalid_api_key"],
  403: ["You are not allowed to use this model.", "invalid_request_error", null],
  422: ["Input validation error.", "invalid_request_error", null],
  429: ["Rate limit reached for requests.", "requests", "rate_limit_exceeded"],
  500: ["The server had an error while processing your request.", "server_error", null],
  502: ["Bad gateway.", "server_error", null],
  503: ["Loading model", "unavailable_error", 503], // llama.cpp's wording while it loads
};

/** The response a `status` fault answers with, OpenAI's wording unless the fault gives its own. */
export function statusFaultResponse(
  fault: Extract<OpenAiFault, { kind: "status" }>,
  model: unknown,
): Response {
  const headers: Record<string, string> = fault.status === 429
    ? { "retry-after": String(fault.retryAfter ?? 1) }
    : {};
  if (fault.raw !== undefined) {
    return new Response(fault.raw, {
      status: fault.status,
      headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    });
  }
  if (fault.status === 404) {
    return apiErrorResponse(
      404,
      fault.error ??
        `The model \`${String(model ?? "")}\` does not exist or you do not have access to it.`,
      { code: "model_not_found" },
    );
  }
  const [message, type, code] = _DEFAULTS[fault.status] ?? ["error", "server_error", null];
  return apiErrorResponse(fault.status, fault.error ?? message, { type, code, headers });
}
