/**
 * {@linkcode LlmBackend} over the OpenAI chat completions API, as OpenAI,
 * vLLM, llama.cpp's server, LM Studio and Ollama's `/v1` serve it. Plain
 * `fetch`: the protocol is small, and owning the stream lets us cap a
 * runaway reply, tell a cut stream from a finished one, and label every
 * figure with its source.
 *
 * @module
 */
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";
import { sanitizeBounded } from "../../base/sanitize.ts";
import { redactUrl } from "../../config/redaction.ts";
import { MAX_CONTENT_CHARS } from "../../model/dialog_message.ts";
import type {
  ChatOptions,
  ChatRequest,
  ChatResult,
  EmbedOptions,
  EnsureModelOptions,
  LlmBackend,
} from "../llm_backend.ts";
import { CONTENT_MARGIN_CHARS } from "../llm_backend.ts";
import { chatBody } from "./chat_body.ts";
import { completionMetrics, reportedTokens } from "./completion_metrics.ts";
import { CompletionReader } from "./completion_reader.ts";
import { embeddingVectors } from "./embedding_vectors.ts";
import { failureError, type OpenAiErrorContext, responseError } from "./openai_errors.ts";
import { serverRoot } from "./server_root.ts";
import { ServerTokenizer } from "./server_tokenizer.ts";
import { sseEvents } from "./sse_events.ts";

/** Options of an {@linkcode OpenAiBackend}. */
export interface OpenAiBackendOptions {
  /**
   * The server, with or without its `/v1` (`http://127.0.0.1:8000` and
   * `http://127.0.0.1:8000/v1/` are the same). The `/v1` is stripped and
   * added back per endpoint because llama.cpp and vLLM serve `/tokenize`
   * beside it, at the root.
   */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set; never shown or logged. */
  apiKey?: string | undefined;
  /** A request running longer than this is cancelled. @default 300000 */
  requestTimeoutMs?: number;
  /** Extra headers (an `apiKey` wins over an Authorization given here); never logged. */
  headers?: Record<string, string> | undefined;
  /**
   * Most characters of a reply kept in memory: past it the stream is
   * cancelled and the reply returned as cut at the length limit
   * (`doneReason` "length"), so a runaway model cannot fill the heap.
   * @default MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS
   */
  maxContentChars?: number;
}

/** Re-exported: the seam defines it for every backend. */
export { CONTENT_MARGIN_CHARS };

const _CHAT = "/v1/chat/completions";
const _LIST_TIMEOUT_MS = 15_000;
/** Model ids quoted when the one asked for is missing. */
const _LISTED_IDS = 5;

/**
 * Chat with models on an OpenAI-compatible server.
 *
 * @example Against the test double
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { OpenAiDouble } from "../../testing/openai/openai_double.ts";
 * import { OpenAiBackend } from "./openai_backend.ts";
 *
 * const double = await OpenAiDouble.start();
 * const backend = new OpenAiBackend({ baseUrl: `${double.url}/v1` });
 * const reply = await backend.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }] });
 * strictEqual(reply.metrics.sources.generatedTokens, "reported"); // from the usage chunk
 * await double.close();
 * ```
 */
export class OpenAiBackend implements LlmBackend {
  readonly kind = "openai" as const;
  readonly description: string;
  readonly #root: string;
  readonly #baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #maxChars: number;
  readonly #tokenizer = new ServerTokenizer((path, body, signal) =>
    this.#fetch(path, body, signal)
  );

  /** @throws {TypeError} When `baseUrl` is not an http(s) URL without query or fragment. */
  constructor(options: OpenAiBackendOptions) {
    this.#root = serverRoot(options.baseUrl);
    this.#baseUrl = `${redactUrl(this.#root)}/v1`;
    this.description = `OpenAI-compatible server at ${this.#baseUrl}`;
    this.#apiKey = options.apiKey || undefined;
    this.#timeoutMs = options.requestTimeoutMs ?? 300_000;
    this.#headers = options.headers ?? {};
    this.#maxChars = options.maxContentChars ?? MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS;
  }

  async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = _any(options.signal, timeout);
    const context = this.#context(_CHAT, request.model);
    const reader = new CompletionReader({
      maxChars: this.#maxChars,
      onToken: options.onToken,
      context,
    });
    const started = performance.now();
    let streaming = false;
    try {
      const response = await this.#send(_CHAT, chatBody(request), signal, context);
      if (!response.body) throw new Error("the 200 response had no body");
      streaming = true;
      await reader.read(sseEvents(response.body));
    } catch (error) {
      throw failureError(error, {
        callerAborted: options.signal?.aborted ?? false,
        timedOut: timeout.aborted,
        timeoutMs: this.#timeoutMs,
        ...(streaming ? { received: reader.content.length } : {}),
      }, context);
    }
    if (!reader.done && !reader.capped && reader.finishReason === undefined) {
      throw new DialogueError(
        ErrorCode.LlmTransient,
        `${this.description} cut the stream mid-reply after ${reader.content.length} characters (it ended without a finish_reason or [DONE]): retry the turn`,
      );
    }
    const promptText = request.messages.map((m) => m.content).join("\n");
    const uncounted = reader.content !== "" &&
      reportedTokens(reader, promptText).generated === undefined;
    const countedTokens = uncounted
      ? await this.#tokenizer.count(reader.content, request.model, options.signal)
      : undefined;
    const ended = reader.endedAt ?? performance.now();
    return {
      content: reader.content,
      doneReason: reader.capped ? "length" : reader.finishReason ?? "stop",
      metrics: completionMetrics(reader, { started, promptText, countedTokens }),
      timeToFirstTokenMs: reader.firstTokenAt === undefined ? 0 : reader.firstTokenAt - started,
      wallMs: ended - started,
    };
  }

  /**
   * Checks that `GET /v1/models` lists `model`. The OpenAI API cannot
   * download models, so `pull` changes nothing but the message.
   */
  async ensureModel(model: string, options: EnsureModelOptions = {}): Promise<void> {
    // No model in the context: a 404 here means the server has no /v1/models.
    const body = await this.#json(
      "/v1/models",
      undefined,
      undefined,
      options.signal,
      _LIST_TIMEOUT_MS,
    );
    const data = Array.isArray(body.data) ? body.data : [];
    const ids = data.map((entry) => (entry as { id?: unknown })?.id)
      .filter((id): id is string => typeof id === "string");
    // Ollama's /v1 lists `llama3.2:latest` for what its users call `llama3.2`.
    if (ids.includes(model) || ids.includes(`${model}:latest`)) return;
    const shown = ids.slice(0, _LISTED_IDS).map((id) => `'${sanitizeBounded(id, 80)}'`);
    const more = ids.length > _LISTED_IDS ? ` and ${ids.length - _LISTED_IDS} more` : "";
    const offers = ids.length === 0 ? "lists no models" : `lists ${shown.join(", ")}${more}`;
    throw new DialogueError(
      ErrorCode.ModelNotFound,
      `Model '${sanitizeBounded(model, 200)}' is not served by ${this.description} (its ` +
        `/v1/models ${offers}): pull it on the server (this backend cannot pull${
          options.pull ? ", so --pull does not help" : ""
        }) or choose a model it lists`,
    );
  }

  /** `POST /v1/embeddings`; the vectors come back in the order of `texts`. */
  async embed(
    model: string,
    texts: readonly string[],
    options: EmbedOptions = {},
  ): Promise<number[][]> {
    if (texts.length === 0) return [];
    const body = await this.#json(
      "/v1/embeddings",
      { model, input: [...texts], encoding_format: "float" },
      model,
      options.signal,
      this.#timeoutMs,
    );
    return embeddingVectors(body.data, texts.length, this.description);
  }

  /** Holds nothing: every request has its own connection lifetime. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The one request funnel: headers, body, and a non-2xx status turned into its error. */
  async #send(
    path: string,
    body: unknown,
    signal: AbortSignal,
    context: OpenAiErrorContext,
  ): Promise<Response> {
    const response = await this.#fetch(path, body, signal);
    if (!response.ok) throw await responseError(response, context);
    return response;
  }

  #fetch(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    const headers = new Headers(this.#headers);
    headers.set("accept", path === _CHAT ? "text/event-stream" : "application/json");
    if (body !== undefined) headers.set("content-type", "application/json");
    if (this.#apiKey) headers.set("authorization", `Bearer ${this.#apiKey}`);
    return fetch(`${this.#root}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
    });
  }

  /** A whole JSON request: the funnel, its errors translated, the body an object. */
  async #json(
    path: string,
    body: unknown,
    model: string | undefined,
    callerSignal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const context = this.#context(path, model);
    try {
      const response = await this.#send(path, body, _any(callerSignal, timeout), context);
      const value: unknown = await response.json().catch(() => undefined);
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new DialogueError(
          ErrorCode.InvalidOutput,
          `${this.description} answered ${path} with something other than a JSON object`,
        );
      }
      return value as Record<string, unknown>;
    } catch (error) {
      throw failureError(error, {
        callerAborted: callerSignal?.aborted ?? false,
        timedOut: timeout.aborted,
        timeoutMs,
      }, context);
    }
  }

  #context(path: string, model?: string): OpenAiErrorContext {
    return {
      where: this.description,
      baseUrl: this.#baseUrl,
      path,
      ...(model === undefined ? {} : { model }),
      ...(this.#apiKey ? { apiKey: this.#apiKey } : {}),
    };
  }
}

/**
 * The backend for the `openai` section of the configuration.
 *
 * @example
 * ```ts
 * import { openAiBackendFor } from "./openai_backend.ts";
 * const backend = openAiBackendFor({ base_url: "http://127.0.0.1:8000/v1", request_timeout_ms: 60_000 });
 * ```
 */
export function openAiBackendFor(settings: {
  base_url: string;
  api_key?: string | undefined;
  request_timeout_ms: number;
  headers?: Record<string, string> | undefined;
}): OpenAiBackend {
  return new OpenAiBackend({
    baseUrl: settings.base_url,
    apiKey: settings.api_key,
    requestTimeoutMs: settings.request_timeout_ms,
    headers: settings.headers,
  });
}

function _any(signal: AbortSignal | undefined, timeout: AbortSignal): AbortSignal {
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}
