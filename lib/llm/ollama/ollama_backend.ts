/**
 * {@linkcode LlmBackend} over Ollama's HTTP API, through ollama-js.
 *
 * @module
 */
import { Ollama } from "ollama";
import { redactUrl } from "../../config/redaction.ts";
import { MAX_CONTENT_CHARS } from "../../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";
import { translateOllamaError } from "./ollama_errors.ts";
import {
  type ChatOptions,
  type ChatRequest,
  type ChatResult,
  CONTENT_MARGIN_CHARS,
  type EmbedOptions,
  emptyMetrics,
  type EnsureModelOptions,
  estimateTokens,
  type GenerationMetrics,
  type LlmBackend,
} from "../llm_backend.ts";

/** Options of an {@linkcode OllamaBackend}. */
export interface OllamaBackendOptions {
  /** e.g. `http://127.0.0.1:11434`. */
  host: string;
  /** A request running longer than this is cancelled. @default 300000 */
  requestTimeoutMs?: number;
  /** Extra headers (e.g. Authorization); never logged. */
  headers?: Record<string, string>;
  /**
   * Most characters of a reply kept in memory: past it the stream is
   * aborted and the reply returned as cut at the length limit
   * (`doneReason` "length"), so a runaway model cannot fill the heap.
   * @default MAX_CONTENT_CHARS + 8192 (room for the JSON around a structured message)
   */
  maxContentChars?: number;
  /** How long Ollama keeps the model loaded after a request. @default "5m" */
  keepAlive?: string;
}

/** Re-exported: the seam defines it for every backend. */
export { CONTENT_MARGIN_CHARS };

/** Chat with models served by Ollama. */
export class OllamaBackend implements LlmBackend {
  readonly kind = "ollama" as const;
  readonly description: string;
  readonly #host: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string> | undefined;
  readonly #maxChars: number;
  readonly #keepAlive: string;

  constructor(options: OllamaBackendOptions) {
    this.#host = options.host;
    this.description = `Ollama at ${redactUrl(options.host)}`;
    this.#timeoutMs = options.requestTimeoutMs ?? 300_000;
    this.#headers = options.headers;
    this.#maxChars = options.maxContentChars ?? MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS;
    this.#keepAlive = options.keepAlive ?? "5m";
  }

  async chat(
    request: ChatRequest,
    options: ChatOptions = {},
  ): Promise<ChatResult> {
    const signal = _withTimeout(options.signal, this.#timeoutMs);
    const client = this.#client(signal);
    const started = performance.now();
    let firstTokenAt = 0;
    let content = "";
    try {
      const stream = await client.chat({
        model: request.model,
        messages: request.messages.map((m) => ({ ...m })),
        stream: true,
        ...(request.schema ? { format: request.schema } : {}),
        keep_alive: this.#keepAlive,
        options: _options(request),
      });
      for await (const chunk of stream) {
        let piece = chunk.message?.content ?? "";
        if (piece) {
          if (!firstTokenAt) firstTokenAt = performance.now();
          const room = this.#maxChars - content.length;
          if (piece.length >= room) {
            // A runaway reply: keep what fits, stop reading, and hand it back
            // as a reply cut at the length limit (never buffered whole).
            piece = piece.slice(0, Math.max(0, room));
            content += piece;
            if (piece) options.onToken?.(piece);
            stream.abort();
            return {
              content,
              doneReason: "length",
              metrics: _estimated(request, content),
              timeToFirstTokenMs: firstTokenAt - started,
              wallMs: performance.now() - started,
            };
          }
          content += piece;
          options.onToken?.(piece);
        }
        if (chunk.done) {
          return {
            content,
            doneReason: chunk.done_reason ?? "stop",
            metrics: _metrics(chunk as unknown as Record<string, unknown>, request, content),
            timeToFirstTokenMs: firstTokenAt ? firstTokenAt - started : 0,
            wallMs: performance.now() - started,
          };
        }
      }
      throw new Error("Did not receive done or success response in stream.");
    } catch (error) {
      throw translateOllamaError(error, {
        where: this.description,
        model: request.model,
        timeoutMs: this.#timeoutMs,
        signal,
        callerSignal: options.signal,
      });
    }
  }

  async ensureModel(
    model: string,
    options: EnsureModelOptions = {},
  ): Promise<void> {
    const client = this.#client(_withTimeout(options.signal, 15_000));
    let names: string[];
    try {
      names = (await client.list()).models.map((m) => m.name);
    } catch (error) {
      throw translateOllamaError(error, { where: this.description, model, timeoutMs: 15_000 });
    }
    if (names.some((n) => n === model || n === `${model}:latest`)) return;
    if (!options.pull) {
      throw new DialogueError(
        ErrorCode.ModelNotFound,
        `Model '${model}' is not installed on ${this.description}: run 'ollama pull ${model}' or pass --pull`,
      );
    }
    await this.#pull(model, options);
  }

  async embed(
    model: string,
    texts: readonly string[],
    options: EmbedOptions = {},
  ): Promise<number[][]> {
    const signal = _withTimeout(options.signal, this.#timeoutMs);
    try {
      const reply = await this.#client(signal).embed({ model, input: [...texts] });
      const vectors = reply.embeddings;
      if (
        !Array.isArray(vectors) || vectors.length !== texts.length ||
        !vectors.every((v) => Array.isArray(v) && v.length > 0 && v.every(Number.isFinite))
      ) {
        throw new DialogueError(
          ErrorCode.InvalidOutput,
          `${this.description} answered an embedding request with ${
            Array.isArray(vectors) ? vectors.length : "no"
          } valid vectors for ${texts.length} texts: check that '${model}' is an embedding model (e.g. nomic-embed-text)`,
        );
      }
      return vectors;
    } catch (error) {
      const translated = translateOllamaError(error, {
        where: this.description,
        model,
        timeoutMs: this.#timeoutMs,
        signal,
        callerSignal: options.signal,
      });
      if (translated.code === ErrorCode.ModelNotFound) {
        throw new DialogueError(
          ErrorCode.ModelNotFound,
          `Embedding model '${model}' is not installed on ${this.description}: run 'ollama pull ${model}' (e.g. nomic-embed-text) or drop --embed-model`,
          { cause: error },
        );
      }
      throw translated;
    }
  }

  /** Nothing to release: every request opens and ends its own fetch. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  async #pull(model: string, options: EnsureModelOptions): Promise<void> {
    const client = this.#client(options.signal ?? new AbortController().signal);
    try {
      const progress = await client.pull({ model, stream: true });
      for await (const step of progress) {
        const fraction = step.total ? (step.completed ?? 0) / step.total : undefined;
        options.onProgress?.(step.status, fraction);
      }
    } catch (error) {
      const reason = (error as Error).message;
      throw new DialogueError(
        ErrorCode.ModelNotFound,
        `Cannot pull model '${model}' from ${this.description} as ${reason}: check the model name (see https://ollama.com/library)`,
        { cause: error },
      );
    }
  }

  #client(signal: AbortSignal): Ollama {
    return new Ollama({
      host: this.#host,
      ...(this.#headers ? { headers: this.#headers } : {}),
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
        }),
    });
  }
}

function _options(request: ChatRequest): Record<string, number> {
  const out: Record<string, number> = {};
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.contextTokens !== undefined) out.num_ctx = request.contextTokens;
  if (request.maxTokens !== undefined) out.num_predict = request.maxTokens;
  if (request.seed !== undefined) out.seed = request.seed;
  return out;
}

/**
 * Ollama's final chunk, in neutral figures. Ollama omits zero metrics, so a
 * missing count is not a reported 0: it is estimated from the text and
 * labelled so; a missing duration stays 0 (unknown).
 */
function _metrics(
  chunk: Record<string, unknown>,
  request: ChatRequest,
  content: string,
): GenerationMetrics {
  const positive = (key: string) => {
    const value = Number(chunk[key] ?? 0);
    return Number.isFinite(value) && value > 0 ? value : 0;
  };
  const out = _estimated(request, content);
  const generated = positive("eval_count");
  const prompt = positive("prompt_eval_count");
  if (generated) [out.generatedTokens, out.sources.generatedTokens] = [generated, "reported"];
  if (prompt) [out.promptTokens, out.sources.promptTokens] = [prompt, "reported"];
  out.generationMs = positive("eval_duration") / 1e6;
  out.promptMs = positive("prompt_eval_duration") / 1e6;
  out.loadMs = positive("load_duration") / 1e6;
  out.totalMs = positive("total_duration") / 1e6;
  out.sources.timings = out.totalMs || out.generationMs ? "reported" : "absent";
  return out;
}

/** Token figures estimated from the text, for a reply Ollama never finished reporting. */
function _estimated(request: ChatRequest, content: string): GenerationMetrics {
  const out = emptyMetrics();
  out.generatedTokens = estimateTokens(content);
  out.promptTokens = estimateTokens(request.messages.map((m) => m.content).join("\n"));
  out.sources.generatedTokens = out.generatedTokens ? "estimated" : "absent";
  out.sources.promptTokens = out.promptTokens ? "estimated" : "absent";
  return out;
}

function _withTimeout(
  signal: AbortSignal | undefined,
  ms: number,
): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** The backend for an Ollama host, with the configured timeout and headers. */
export function ollamaBackendFor(
  ollama: {
    request_timeout_ms: number;
    keep_alive?: string;
    headers?: Record<string, string> | undefined;
  },
  host: string,
): OllamaBackend {
  return new OllamaBackend({
    host,
    requestTimeoutMs: ollama.request_timeout_ms,
    ...(ollama.keep_alive ? { keepAlive: ollama.keep_alive } : {}),
    ...(ollama.headers ? { headers: ollama.headers } : {}),
  });
}
