/**
 * What an OpenAI-compatible server's failures mean to DialogueLLM: an HTTP
 * status with its `{"error": …}` body, an error event inside the stream, or
 * a transport failure, each turned into the {@linkcode DialogueError} code
 * callers branch on, with a message that says what to do.
 *
 * Everything the server says is untrusted: it is cut to
 * {@linkcode MAX_SERVER_TEXT} characters, its control characters escaped,
 * and the API key scrubbed from it (some proxies quote the key they refused).
 *
 * @module
 */
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";
import { sanitizeBounded } from "../../base/sanitize.ts";

/** Most characters of a server's own error text quoted in a message. */
export const MAX_SERVER_TEXT = 300;

/** Most bytes of an error body read: enough for any real error, never a flood. */
const _MAX_ERROR_BODY_BYTES = 16_384;

/** What a message needs to know about the request that failed. */
export interface OpenAiErrorContext {
  /** The backend's safe description, e.g. `OpenAI-compatible server at http://…/v1`. */
  where: string;
  /** The redacted base URL (with `/v1`), for the `/v1/models` hint. */
  baseUrl: string;
  /** The endpoint, e.g. `/v1/chat/completions`. */
  path: string;
  /** The model asked for, if any. */
  model?: string;
  /** Scrubbed from every quoted server text. */
  apiKey?: string;
}

/** A transport failure and the state of the signals around it. */
export interface FailureState {
  /** The caller's signal fired: a cancellation, not a failure. */
  callerAborted: boolean;
  /** Our request timeout fired. */
  timedOut: boolean;
  /** The timeout, named in its message. */
  timeoutMs: number;
  /** Characters of content received when a stream failed; undefined before the reply began. */
  received?: number;
}

/**
 * The error for a non-2xx `response`; reads at most 16 KiB of its body.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { ErrorCode } from "../../base/dialogue_error.ts";
 * import { responseError } from "./openai_errors.ts";
 *
 * const error = await responseError(new Response('{"error":{"message":"busy"}}', { status: 503 }), {
 *   where: "OpenAI-compatible server at http://127.0.0.1:8000/v1",
 *   baseUrl: "http://127.0.0.1:8000/v1",
 *   path: "/v1/chat/completions",
 * });
 * strictEqual(error.code, ErrorCode.LlmTransient);
 * ```
 */
export async function responseError(
  response: Response,
  context: OpenAiErrorContext,
): Promise<DialogueError> {
  const text = await _readBounded(response);
  return statusError(response.status, text, {
    ...context,
    retryAfter: response.headers.get("retry-after"),
  });
}

/**
 * The error for HTTP `status` with body `text`: 401/403 a rejected key,
 * 404 a missing model (or endpoint), 429 a rate limit with its Retry-After,
 * 400/413/422 a request the server refuses, anything else transient.
 */
export function statusError(
  status: number,
  text: string,
  context: OpenAiErrorContext & { retryAfter?: string | null },
): DialogueError {
  const { where, model } = context;
  const detail = serverText(text, context.apiKey);
  const said = detail ? `: ${detail}` : "";
  if (status === 401 || status === 403) {
    const what = context.apiKey ? "rejected the API key" : "asked for an API key (none is set)";
    return new DialogueError(
      ErrorCode.LlmUnavailable,
      `${where} ${what} (${status}): set OPENAI_API_KEY or openai.api_key${
        detail ? ` (it said: ${detail})` : ""
      }`,
    );
  }
  if (status === 404) {
    if (model !== undefined && /model/i.test(text)) {
      return new DialogueError(
        ErrorCode.ModelNotFound,
        `Model '${sanitizeBounded(model, 200)}' is not available on ${where} (404${said}): ` +
          `use an id that ${context.baseUrl}/models lists, or pull it on the server`,
      );
    }
    return new DialogueError(
      ErrorCode.LlmUnavailable,
      `${where} does not serve ${context.path} (404${said}): check OPENAI_BASE_URL / openai.base_url`,
    );
  }
  if (status === 429) {
    const seconds = retryAfterSeconds(context.retryAfter ?? null);
    const when = seconds === undefined ? "retry later" : `retry after ${seconds} s`;
    return new DialogueError(
      ErrorCode.LlmTransient,
      `${where} is rate limiting requests (429${said}): ${when}`,
      seconds === undefined ? {} : { retryAfterMs: seconds * 1000 },
    );
  }
  const refused = status === 400 || status === 413 || status === 422;
  // A 503 may say when to come back too (llama.cpp's server while it loads).
  const later = status === 503 ? retryAfterSeconds(context.retryAfter ?? null) : undefined;
  return new DialogueError(
    refused ? ErrorCode.InvalidOutput : ErrorCode.LlmTransient,
    `${where} answered ${status} to ${context.path}${said}`,
    later === undefined ? {} : { retryAfterMs: later * 1000 },
  );
}

/** The error for an `{"error": …}` chunk sent inside a 200 stream. */
export function streamError(error: unknown, context: OpenAiErrorContext): DialogueError {
  return new DialogueError(
    ErrorCode.LlmTransient,
    `${context.where} reported an error mid-reply: ${
      serverText(JSON.stringify({ error }), context.apiKey) || "(no message)"
    }`,
  );
}

/** The error for a request that failed without an HTTP status. */
export function failureError(
  error: unknown,
  state: FailureState,
  context: OpenAiErrorContext,
): DialogueError {
  if (error instanceof DialogueError) return error;
  const where = context.where;
  if (state.callerAborted) {
    return new DialogueError(ErrorCode.Aborted, "Generation cancelled", { cause: error });
  }
  if (state.timedOut || (error as Error)?.name === "TimeoutError") {
    return new DialogueError(
      ErrorCode.LlmTransient,
      `${where} did not finish within ${state.timeoutMs} ms: raise openai.request_timeout_ms or use a smaller model`,
      { cause: error },
    );
  }
  const reason = _reason(error);
  if (state.received !== undefined) {
    return new DialogueError(
      ErrorCode.LlmTransient,
      `${where} cut the stream mid-reply after ${state.received} characters (${
        serverText(reason, context.apiKey)
      }): retry the turn`,
      { cause: error },
    );
  }
  if (/refused|ECONNREFUSED/i.test(reason)) {
    return new DialogueError(
      ErrorCode.LlmUnavailable,
      `Cannot reach the ${where} as the connection was refused: start it or set OPENAI_BASE_URL / --openai-base-url`,
      { cause: error },
    );
  }
  if (/dns error|failed to lookup|ENOTFOUND/i.test(reason)) {
    return new DialogueError(
      ErrorCode.LlmUnavailable,
      `Cannot reach the ${where} as its host name does not resolve: check OPENAI_BASE_URL / --openai-base-url`,
      { cause: error },
    );
  }
  return new DialogueError(
    ErrorCode.LlmTransient,
    `${where} failed on ${context.path}: ${serverText(reason, context.apiKey)}`,
    { cause: error },
  );
}

/**
 * The message of an OpenAI error body (`{"error":{"message"}}`, `{"error":
 * "text"}`, vLLM's top-level `{"message"}`) or the text itself, scrubbed of
 * `apiKey`, escaped and cut to {@linkcode MAX_SERVER_TEXT} characters.
 */
export function serverText(text: string, apiKey?: string): string {
  let message = text.trim();
  try {
    const body = JSON.parse(message) as Record<string, unknown>;
    const error = body?.error ?? body;
    const inner = typeof error === "object" && error !== null
      ? (error as Record<string, unknown>).message
      : error;
    if (typeof inner === "string" && inner.trim() !== "") message = inner.trim();
  } catch {
    // not JSON: the text is the message (an HTML page from a proxy, plain text)
  }
  if (apiKey) message = message.replaceAll(apiKey, "***");
  // Userinfo in a URL a transport error quotes is a credential too.
  message = message.replace(/\/\/[^/\s@]+@/g, "//***@");
  return sanitizeBounded(message, MAX_SERVER_TEXT, { keepNewlines: false });
}

/** Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function _reason(error: unknown): string {
  const err = error as Error & { cause?: unknown };
  const cause = err?.cause instanceof Error ? ` (${err.cause.message})` : "";
  return `${err?.message ?? String(error)}${cause}`;
}

async function _readBounded(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < _MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } catch {
    // a body cut short still says something
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return new TextDecoder().decode(bytes.subarray(0, _MAX_ERROR_BODY_BYTES));
}
