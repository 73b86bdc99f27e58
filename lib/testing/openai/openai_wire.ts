/**
 * The envelope of the OpenAI API as the test double speaks it: JSON
 * replies, `{"error": {message, type, param, code}}` bodies with their
 * status, and server-sent events.
 *
 * @module
 */
import { jsonResponse } from "../ollama/wire.ts";

export { asRecord, jsonResponse } from "../ollama/wire.ts";

/** `Content-Type` of a streamed reply, as OpenAI sends it. */
export const SSE_TYPE = "text/event-stream; charset=utf-8";

const _encoder = new TextEncoder();

/** What an OpenAI error body says besides its message. */
export interface ApiErrorFields {
  /** e.g. `invalid_request_error`, `server_error`, `requests`. @default {"invalid_request_error"} */
  type?: string;
  /** e.g. `model_not_found`, `invalid_api_key`, `rate_limit_exceeded`. @default {null} */
  code?: string | number | null;
  /** The request field at fault. @default {null} */
  param?: string | null;
  /** Extra response headers (`retry-after`). */
  headers?: Record<string, string>;
}

/** An error before any output: `status` and OpenAI's error object. */
export function apiErrorResponse(
  status: number,
  message: string,
  fields: ApiErrorFields = {},
): Response {
  const response = jsonResponse({
    error: {
      message,
      type: fields.type ?? "invalid_request_error",
      param: fields.param ?? null,
      code: fields.code ?? null,
    },
  }, status);
  for (const [name, value] of Object.entries(fields.headers ?? {})) {
    response.headers.set(name, value);
  }
  return response;
}

/** One `data:` event, encoded, with the blank line that dispatches it. */
export function sseEvent(value: unknown): Uint8Array {
  return _encoder.encode(`data: ${typeof value === "string" ? value : JSON.stringify(value)}\n\n`);
}
