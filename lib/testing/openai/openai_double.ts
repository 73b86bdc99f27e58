/**
 * A real HTTP server that speaks the part of the OpenAI API that
 * OpenAI-compatible servers (vLLM, llama.cpp's server, LM Studio) share, for
 * tests and for running the apps without a model: `GET /v1/models`,
 * `POST /v1/chat/completions` (streamed or whole, `response_format`
 * structured output), `POST /v1/embeddings`, llama.cpp's `POST /tokenize`
 * and `GET /health`. Any other path answers 404 as OpenAI does.
 *
 * @module
 */
import { untilAborted } from "../ollama/abortable.ts";
import { embedResponse } from "../ollama/embedding.ts";
import { tokenize } from "../ollama/reply_plan.ts";
import { hashSeed } from "../ollama/prose.ts";
import { planCompletion, type UsageMode } from "./completion_plan.ts";
import { completionBody, completionStream, CutConnection } from "./completion_stream.ts";
import { type OpenAiFault, statusFaultResponse } from "./openai_fault.ts";
import { apiErrorResponse, jsonResponse, SSE_TYPE } from "./openai_wire.ts";

export type { OpenAiFault } from "./openai_fault.ts";

/** How {@linkcode OpenAiDouble.start} sets the double up. */
export interface OpenAiDoubleOptions {
  /** Model ids `GET /v1/models` lists; a request for another answers 404. @default {["tiny", "llama3.2"]} */
  models?: string[];
  /** Delay before each streamed content chunk, in milliseconds. @default {0} */
  tokenDelayMs?: number;
  /** Approximate length in words of a generated reply. @default {12} */
  wordsPerReply?: number;
  /** Require `Authorization: Bearer <apiKey>` on every path but `/health` (401 otherwise). */
  apiKey?: string;
  /** Add llama.cpp's `timings` object to the finish chunk. @default {false} */
  timings?: boolean;
  /**
   * Where usage goes in a stream: `final` honours `include_usage` (null on
   * every chunk, then the `choices: []` chunk), `every` also puts a running
   * count in every chunk as vLLM's `continuous_usage_stats` does, `none` is a
   * server that ignores `include_usage`.
   *
   * @default {"final"}
   */
  usage?: UsageMode;
  /** Serve `POST /tokenize`; false answers it 404. @default {true} */
  tokenize?: boolean;
  /** Answer embeddings last input first, as a server batching them may (entries keep their `index`). @default {false} */
  reverseEmbeddings?: boolean;
  /** Port to listen on, 127.0.0.1 only; 0 picks a free one. @default {0} */
  port?: number;
}

/** One request as the double received it. */
export interface RecordedRequest {
  method: string;
  /** URL path, e.g. `/v1/chat/completions`. */
  path: string;
  /** The parsed JSON body, or `null` when there was none or it was not JSON. */
  body: unknown;
  /** Request headers, lower-case; an Authorization value is `<redacted>`, its scheme kept. */
  headers: Record<string, string>;
  /** Epoch milliseconds when it arrived. */
  at: number;
}

/**
 * The OpenAI-compatible test double. Every request is recorded in
 * `requests`; faults are queued with {@linkcode OpenAiDouble.enqueueFault}.
 *
 * @example Stream a completion from the double
 * ```ts
 * import { OpenAiDouble } from "./openai_double.ts";
 * const double = await OpenAiDouble.start();
 * const response = await fetch(`${double.url}/v1/chat/completions`, {
 *   method: "POST",
 *   body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], stream: true }),
 * });
 * const events = await response.text(); // "data: {…}\n\n" … "data: [DONE]\n\n"
 * await double.close();
 * ```
 */
export class OpenAiDouble {
  /** Base URL without `/v1`, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;
  #closing = new AbortController();
  #faults: OpenAiFault[] = [];
  #options: OpenAiDoubleOptions;
  #models: string[];
  #serial = 0;

  private constructor(options: OpenAiDoubleOptions) {
    this.#options = options;
    this.#models = options.models ?? ["tiny", "llama3.2"];
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
  static start(options: OpenAiDoubleOptions = {}): Promise<OpenAiDouble> {
    return Promise.resolve(new OpenAiDouble(options));
  }

  /** Queues `fault` for the next chat completion (FIFO), whatever that request holds. */
  enqueueFault(fault: OpenAiFault): void {
    this.#faults.push(fault);
  }

  /** Ends every reply in progress (hung ones too) and stops the server. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    const started = performance.now();
    const path = new URL(request.url).pathname;
    const raw = request.method === "POST" ? await request.text() : "";
    let body: unknown = null;
    try {
      body = raw.trim() === "" ? null : JSON.parse(raw);
    } catch {
      // recorded as null; the route answers 400
    }
    this.requests.push({
      method: request.method,
      path,
      body,
      headers: _recordedHeaders(request.headers),
      at: Date.now(),
    });
    const route = `${request.method} ${path}`;
    if (route === "GET /health") return jsonResponse({ status: "ok" });
    const denied = this.#authorize(request.headers.get("authorization"));
    if (denied) return denied;
    if (route === "GET /v1/models") return this.#list();
    const post = route === "POST /v1/chat/completions" || route === "POST /v1/embeddings" ||
      (route === "POST /tokenize" && this.#options.tokenize !== false);
    if (!post) return apiErrorResponse(404, `Invalid URL (${route})`);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return apiErrorResponse(400, "We could not parse the JSON body of your request.");
    }
    const fields = body as Record<string, unknown>;
    if (path === "/tokenize") return this.#tokenize(fields);
    if (path === "/v1/embeddings") return await this.#embed(fields);
    return await this.#chat(fields, started);
  }

  #authorize(header: string | null): Response | undefined {
    const key = this.#options.apiKey;
    if (key === undefined || header === `Bearer ${key}`) return undefined;
    const given = /^Bearer (.*)$/.exec(header ?? "")?.[1];
    // OpenAI's wording, showing the refused key only masked, as OpenAI does.
    const message = given === undefined
      ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
      : `Incorrect API key provided: ${_mask(given)}.`;
    return apiErrorResponse(401, message, { code: given === undefined ? null : "invalid_api_key" });
  }

  #list(): Response {
    const created = 1_700_000_000;
    return jsonResponse({
      object: "list",
      data: this.#models.map((id) => ({ id, object: "model", created, owned_by: "openai-double" })),
    });
  }

  /** The model by its exact id, or OpenAI's 400/404. */
  #model(name: unknown): string | Response {
    if (typeof name !== "string" || name === "") {
      return apiErrorResponse(400, "you must provide a model parameter", { param: "model" });
    }
    return this.#models.includes(name) ? name : apiErrorResponse(
      404,
      `The model \`${name}\` does not exist or you do not have access to it.`,
      { code: "model_not_found" },
    );
  }

  async #chat(body: Record<string, unknown>, started: number): Promise<Response> {
    const fault = this.#faults.shift();
    if (fault?.kind === "status") return statusFaultResponse(fault, body.model);
    const model = this.#model(body.model);
    if (model instanceof Response) return model;
    if (!Array.isArray(body.messages)) {
      return apiErrorResponse(400, "Missing required parameter: 'messages'.", {
        param: "messages",
      });
    }
    const signal = this.#closing.signal;
    if (fault?.kind === "hang") {
      // Until the double closes, not until the client leaves: merely reading
      // `request.signal` makes Deno (legacy abort mode) print a warning, and
      // a client that gave up needs no answer.
      await untilAborted(signal);
      return apiErrorResponse(500, "OpenAiDouble closed while this request hung");
    }
    const plan = planCompletion(body, {
      model,
      fault,
      wordsPerReply: this.#options.wordsPerReply ?? 12,
      tokenDelayMs: this.#options.tokenDelayMs ?? 0,
      usage: this.#options.usage ?? "final",
      timings: this.#options.timings ?? false,
      started,
      serial: ++this.#serial,
    });
    if (body.stream !== true) return jsonResponse(completionBody(plan));
    const gone = new AbortController();
    return new Response(completionStream(plan, AbortSignal.any([signal, gone.signal]), gone), {
      headers: { "content-type": SSE_TYPE, "cache-control": "no-cache" },
    });
  }

  async #embed(body: Record<string, unknown>): Promise<Response> {
    const model = this.#model(body.model);
    if (model instanceof Response) return model;
    const input = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? "")];
    // The same vectors as the Ollama double's, in OpenAI's envelope.
    const { embeddings } = await embedResponse(model, { input }).json() as {
      embeddings: number[][];
    };
    const data = embeddings.map((embedding, index) => ({ object: "embedding", index, embedding }));
    if (this.#options.reverseEmbeddings) data.reverse();
    const tokens = tokenize(input.join(" ")).length;
    return jsonResponse({
      object: "list",
      data,
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  /** llama.cpp's shape: `{"tokens": [ids]}` for `content` (vLLM's `prompt` read too). */
  #tokenize(body: Record<string, unknown>): Response {
    const text = String(body.content ?? body.prompt ?? "");
    return jsonResponse({ tokens: tokenize(text).map((piece) => hashSeed(piece) % 32_000) });
  }
}

function _recordedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    out[name] = name === "authorization" ? `${value.split(" ")[0]} <redacted>` : value;
  }
  return out;
}

function _mask(key: string): string {
  return key.length <= 8 ? "*".repeat(key.length) : `${key.slice(0, 3)}***${key.slice(-4)}`;
}

/** Keeps deliberate cuts out of the log; anything else is a bug worth seeing. */
function _onError(error: unknown): Response {
  if (!(error instanceof CutConnection)) console.error("OpenAiDouble:", error);
  return apiErrorResponse(500, "internal error in OpenAiDouble", { type: "server_error" });
}
