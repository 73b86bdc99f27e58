/**
 * A real HTTP server that speaks the part of Ollama's protocol DialogueLLM
 * uses, for tests, the bench and running the apps without a model:
 * `POST /api/chat` (streamed, with `format` structured output),
 * `GET /api/tags`, `POST /api/pull` (streamed) and `POST /api/embed`. Every
 * other path answers 404 as an Ollama without it would.
 *
 * @module
 */
import { untilAborted } from "./abortable.ts";
import { chatStream, CutConnection } from "./chat_stream.ts";
import { embedResponse } from "./embedding.ts";
import { type Fault, statusFaultResponse } from "./fault.ts";
import { ModelCatalog } from "./model_catalog.ts";
import { planReply } from "./reply_plan.ts";
import { decodeRequest, errorResponse, NDJSON_TYPE, streamOnlyResponse } from "./wire.ts";

export type { Fault } from "./fault.ts";

/** How {@linkcode OllamaDouble.start} sets the double up. */
export interface OllamaDoubleOptions {
  /**
   * Models that exist. A request for a name without a tag matches `:latest`.
   *
   * @default {["llama3.2:latest", "tiny:latest"]}
   */
  models?: string[];
  /**
   * Delay before each streamed chunk, in milliseconds.
   *
   * @default {0}
   */
  tokenDelayMs?: number;
  /**
   * Approximate length in words of a generated message.
   *
   * @default {12}
   */
  wordsPerReply?: number;
  /**
   * Send the first multibyte character of each reply in two writes, 5 ms
   * apart, so clients meet a character split across network chunks. Off for
   * a zero-latency double (the bench).
   *
   * @default {true}
   */
  splitUtf8?: boolean;
  /**
   * Port to listen on, 127.0.0.1 only; 0 picks a free one.
   *
   * @default {0}
   */
  port?: number;
}

/** One request as the double received it. */
export interface RecordedRequest {
  /** URL path, e.g. `/api/chat`. */
  path: string;
  /** The parsed JSON body, or `null` when there was none or it was not JSON. */
  body: unknown;
  /** Epoch milliseconds when it arrived. */
  at: number;
}

/**
 * The Ollama test double. Every request is recorded in `requests`; faults are
 * queued with {@linkcode OllamaDouble.enqueueFault}.
 *
 * @example Stream a chat reply from the double
 * ```ts
 * import { Ollama } from "ollama";
 * import { OllamaDouble } from "./ollama_double.ts";
 * const double = await OllamaDouble.start();
 * const client = new Ollama({ host: double.url });
 * const parts = await client.chat({
 *   model: "llama3.2",
 *   messages: [{ role: "user", content: "hi" }],
 *   stream: true,
 * });
 * let text = "";
 * for await (const part of parts) text += part.message.content;
 * await double.close();
 * ```
 */
export class OllamaDouble {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;
  #closing = new AbortController();
  #faults: Fault[] = [];
  #models: ModelCatalog;
  #tokenDelayMs: number;
  #wordsPerReply: number;
  #splitUtf8: boolean;

  private constructor(options: OllamaDoubleOptions) {
    this.#models = new ModelCatalog(options.models ?? ["llama3.2:latest", "tiny:latest"]);
    this.#tokenDelayMs = options.tokenDelayMs ?? 0;
    this.#wordsPerReply = options.wordsPerReply ?? 12;
    this.#splitUtf8 = options.splitUtf8 ?? true;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {}, onError: _onError },
      (request) => this.#handle(request),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /**
   * Starts listening on 127.0.0.1.
   *
   * @throws {Deno.errors.AddrInUse} When a fixed `port` is taken.
   */
  static start(options: OllamaDoubleOptions = {}): Promise<OllamaDouble> {
    return Promise.resolve(new OllamaDouble(options));
  }

  /** Queues `fault` for the next `/api/chat` request (FIFO), whatever that request holds. */
  enqueueFault(fault: Fault): void {
    this.#faults.push(fault);
  }

  /** Ends every reply in progress (hung ones too) and stops the server. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    const client = new _Client(request);
    try {
      return await this.#route(request, client);
    } finally {
      client.release();
    }
  }

  async #route(request: Request, client: _Client): Promise<Response> {
    const started = performance.now();
    const path = new URL(request.url).pathname;
    const raw = request.method === "POST" ? await request.text() : "";
    let recorded: unknown = null;
    try {
      recorded = raw.trim() === "" ? null : JSON.parse(raw);
    } catch {
      // recorded as null; the route reports the syntax error
    }
    this.requests.push({ path, body: recorded, at: Date.now() });
    const route = `${request.method === "HEAD" ? "GET" : request.method} ${path}`;
    if (route === "GET /api/tags") return this.#models.tags();
    const goType = _GO_TYPES[route];
    if (goType === undefined) {
      return new Response("404 page not found", {
        status: 404,
        headers: { "content-type": "text/plain" },
      });
    }
    const body = decodeRequest(raw, goType);
    if (body instanceof Response) return body;
    const signal = AbortSignal.any([this.#closing.signal, client.gone.signal]);
    switch (route) {
      case "POST /api/chat":
        return await this.#chat(body, client, signal, started);
      case "POST /api/pull":
        if (body.stream === false) return streamOnlyResponse(path);
        return this.#models.pull(body, {
          delayMs: this.#tokenDelayMs,
          signal,
          gone: client.gone,
        });
      default: {
        const model = this.#models.resolve(body.model);
        return model instanceof Response ? model : embedResponse(model, body);
      }
    }
  }

  async #chat(
    body: Record<string, unknown>,
    client: _Client,
    signal: AbortSignal,
    started: number,
  ): Promise<Response> {
    const fault = this.#faults.shift();
    if (fault?.kind === "status") return statusFaultResponse(fault, body.model);
    const model = this.#models.resolve(body.model);
    if (model instanceof Response) return model;
    if (body.stream === false) return streamOnlyResponse("/api/chat");
    if (fault?.kind === "hang") {
      client.watch();
      await untilAborted(signal);
      // Only a client still waiting when the double closes reads this.
      return errorResponse(500, "OllamaDouble closed while this request hung");
    }
    const plan = planReply(body, {
      model,
      fault,
      wordsPerReply: this.#wordsPerReply,
      tokenDelayMs: this.#tokenDelayMs,
      splitUtf8: this.#splitUtf8,
      started,
    });
    return new Response(chatStream(plan, signal, client.gone), {
      headers: { "content-type": NDJSON_TYPE },
    });
  }
}

/** Ollama's Go request type per route, named in its decoding errors. */
const _GO_TYPES: Record<string, string> = {
  "POST /api/chat": "ChatRequest",
  "POST /api/pull": "PullRequest",
  "POST /api/embed": "EmbedRequest",
};

/**
 * How a handler learns that its client went away. A response body hears it
 * from its `cancel`; before a response exists only `request.signal` tells,
 * but reading that signal makes Deno (legacy abort mode) warn once per
 * process when a response then succeeds, so only a hang watches it.
 */
class _Client {
  readonly gone = new AbortController();
  #request: Request;
  #watching = false;
  #onAbort = () => this.gone.abort();

  constructor(request: Request) {
    this.#request = request;
  }

  watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    this.#request.signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Stops watching once the handler returns: Deno aborts the signal on success too. */
  release(): void {
    if (this.#watching) this.#request.signal.removeEventListener("abort", this.#onAbort);
  }
}

/** Keeps deliberate cuts out of the log; anything else is a bug worth seeing. */
function _onError(error: unknown): Response {
  if (!(error instanceof CutConnection)) console.error("OllamaDouble:", error);
  return errorResponse(500, "internal error in OllamaDouble");
}
