/**
 * A real HTTP server that speaks Ollama's protocol, for tests and for running
 * the apps without a model. It streams deterministic English-like text (or
 * JSON that conforms to the requested `format` schema) with nanosecond
 * metrics that match the time it really took, and can be told to fail in the
 * ways a real server fails: an error status, an error line mid-stream, a cut
 * connection, a stream without `done`, a hang, a truncated reply.
 *
 * Run it standalone with
 * `deno run --allow-net=127.0.0.1 lib/testing/ollama_double.ts --port 11434 --delay 50`.
 *
 * @module
 */
import {
  hashSeed,
  Prose,
  type SampleOptions,
  sampleSchema,
  violateSchema,
} from "./schema_sample.ts";

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
   * Port to listen on, 127.0.0.1 only; 0 picks a free one.
   *
   * @default {0}
   */
  port?: number;
}

/**
 * A failure the double plays on the next `/api/chat` or `/api/generate`
 * request. `afterChunks` counts content chunks sent before the failure.
 */
export type Fault =
  | { kind: "status"; status: 404 | 400 | 500 | 503; error?: string }
  | { kind: "error_mid_stream"; afterChunks: number; error?: string }
  | { kind: "cut_connection"; afterChunks: number }
  | { kind: "no_done"; afterChunks: number }
  | { kind: "hang" }
  | { kind: "length"; afterChunks: number }
  | { kind: "invalid_schema" }
  | { kind: "text"; content: string }
  | { kind: "slow"; tokenDelayMs: number };

/** One request as the double received it. */
export interface RecordedRequest {
  /** URL path, e.g. `/api/chat`. */
  path: string;
  /** The parsed JSON body, or `null` when there was none or it was not JSON. */
  body: unknown;
  /** Epoch milliseconds when it arrived. */
  at: number;
}

const _VERSION = "0.13.0";
const _CONTEXT_LENGTH = 4096;
const _EMBEDDING_SIZE = 32;
/** Pause between the two halves of a split UTF-8 character, so they travel apart. */
const _SPLIT_PAUSE_MS = 5;
const _DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;
const _JSON = "application/json; charset=utf-8";
const _NDJSON = "application/x-ndjson";
const _DEFAULT_ERRORS: Record<number, string> = {
  400: "invalid options",
  500: "llama runner process has terminated: exit status 2",
  503: "server busy, please try again.  maximum pending requests exceeded",
};
const _encoder = new TextEncoder();

interface _Plan {
  endpoint: "chat" | "generate";
  model: string;
  /** Content pieces to send, already cut to where the reply stops. */
  tokens: string[];
  doneReason: "stop" | "length";
  ending: "done" | "error" | "cut" | "none";
  error: string;
  delayMs: number;
  promptTokens: number;
  started: number;
  loaded: number;
  firstToken?: number;
}

/**
 * The Ollama test double. Every request is recorded in `requests`; faults are
 * queued with {@linkcode OllamaDouble.enqueueFault}.
 *
 * @example Stream a chat reply from the double
 * ```ts
 * import { Ollama } from "ollama";
 * const double = await OllamaDouble.start();
 * const client = new Ollama({ host: double.url });
 * const reply = await client.chat({ model: "llama3.2", messages: [{ role: "user", content: "hi" }] });
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
  #models = new Map<string, string>();
  #loaded = new Map<string, number>();
  #tokenDelayMs: number;
  #wordsPerReply: number;

  private constructor(options: OllamaDoubleOptions) {
    for (const name of options.models ?? ["llama3.2:latest", "tiny:latest"]) {
      this.#models.set(_canonical(name), new Date().toISOString());
    }
    this.#tokenDelayMs = options.tokenDelayMs ?? 0;
    this.#wordsPerReply = options.wordsPerReply ?? 12;
    this.#server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: options.port ?? 0,
        onListen: () => {},
        onError: _onError,
      },
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

  /** Queues `fault` for the next `/api/chat` or `/api/generate` request (FIFO), whatever that request holds. */
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
    let body: unknown = null;
    try {
      body = raw.trim() === "" ? null : JSON.parse(raw);
    } catch {
      // recorded as null; the route reports the syntax error
    }
    this.requests.push({ path, body, at: Date.now() });
    const route = `${request.method === "HEAD" ? "GET" : request.method} ${path}`;
    switch (route) {
      case "GET /":
        return new Response("Ollama is running", {
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      case "GET /api/version":
        return _json({ version: _VERSION });
      case "GET /api/tags":
        return _json({
          models: [...this.#models].map(([n, m]) => _entry(n, m)),
        });
      case "GET /api/ps":
        return _json({ models: this.#running() });
      case "POST /api/chat":
        return await this.#generation("chat", raw, client, started);
      case "POST /api/generate":
        return await this.#generation("generate", raw, client, started);
    }
    const decoded = _decode(raw, _GO_TYPES[path] ?? "Request");
    if (decoded instanceof Response) return decoded;
    switch (route) {
      case "POST /api/show":
        return this.#show(decoded);
      case "POST /api/pull":
        return this.#pull(decoded, client.gone);
      case "POST /api/embed":
      case "POST /api/embeddings":
        return this.#embed(decoded, path === "/api/embed");
    }
    return new Response("404 page not found", {
      status: 404,
      headers: { "content-type": "text/plain" },
    });
  }

  #resolve(name: unknown): string | Response {
    if (typeof name !== "string" || name === "") {
      return _error(400, "model is required");
    }
    const canonical = _canonical(name);
    return this.#models.has(canonical) ? canonical : _error(404, `model '${name}' not found`);
  }

  #running(): Record<string, unknown>[] {
    const now = Date.now();
    return [...this.#loaded]
      .filter(([name, expires]) => expires > now && this.#models.has(name))
      .map(([name, expires]) => ({
        ..._entry(name, this.#models.get(name) ?? ""),
        expires_at: new Date(expires).toISOString(),
        size_vram: _size(name),
        context_length: _CONTEXT_LENGTH,
      }));
  }

  async #generation(
    endpoint: "chat" | "generate",
    raw: string,
    client: _Client,
    started: number,
  ): Promise<Response> {
    const fault = this.#faults.shift();
    const body = _decode(
      raw,
      endpoint === "chat" ? "ChatRequest" : "GenerateRequest",
    );
    if (body instanceof Response) return body;
    if (fault?.kind === "status") {
      const message = fault.error ??
        (fault.status === 404
          ? `model '${String(body.model ?? "")}' not found`
          : _DEFAULT_ERRORS[fault.status]);
      return _error(fault.status, message ?? "error");
    }
    const model = this.#resolve(body.model);
    if (model instanceof Response) return model;
    if (body.think === true) {
      return _error(400, `"${String(body.model)}" does not support thinking`);
    }
    const signal = AbortSignal.any([this.#closing.signal, client.gone.signal]);
    if (fault?.kind === "hang") {
      client.watch();
      await _aborted(signal);
      // Only a client still waiting when the double closes reads this.
      return _error(500, "OllamaDouble closed while this request hung");
    }
    const keepAlive = _keepAliveMs(body.keep_alive);
    if (keepAlive === 0) this.#loaded.delete(model);
    else this.#loaded.set(model, Date.now() + keepAlive);
    const empty = endpoint === "chat"
      ? !Array.isArray(body.messages) || body.messages.length === 0
      : typeof body.prompt !== "string" || body.prompt === "";
    if (empty) {
      const reply = endpoint === "chat"
        ? { message: { role: "assistant", content: "" } }
        : { response: "" };
      return _json({
        model,
        created_at: new Date().toISOString(),
        ...reply,
        done: true,
        done_reason: keepAlive === 0 ? "unload" : "load",
      });
    }
    const plan = this.#plan(endpoint, model, body, fault, started);
    if (body.stream === false) return await this.#whole(plan, signal, client);
    return new Response(_readable(_replyLines(plan, signal), client.gone), {
      headers: { "content-type": _NDJSON },
    });
  }

  #plan(
    endpoint: "chat" | "generate",
    model: string,
    body: Record<string, unknown>,
    fault: Fault | undefined,
    started: number,
  ): _Plan {
    const options = _asRecord(body.options);
    const prompt = endpoint === "chat"
      ? _asArray(body.messages).map((m) => String(_asRecord(m).content ?? ""))
      : [String(body.system ?? ""), String(body.prompt ?? "")];
    const seed = hashSeed(
      `${JSON.stringify(prompt)}\u0000${String(options.seed ?? "")}`,
    );
    const words = prompt.join(" ").split(/\s+/).filter((w) => w !== "").length;
    const content = this.#content(body.format, fault, {
      prose: new Prose(seed),
      messageWords: this.#wordsPerReply,
    });
    const all = _tokenize(content);
    let tokens = all;
    let doneReason: _Plan["doneReason"] = "stop";
    let ending: _Plan["ending"] = "done";
    const numPredict = typeof options.num_predict === "number" ? options.num_predict : 0;
    if (numPredict > 0 && numPredict < tokens.length) {
      tokens = tokens.slice(0, numPredict);
      doneReason = "length";
    }
    if (fault !== undefined && "afterChunks" in fault) {
      const cap = fault.kind === "length" && body.format !== undefined
        ? all.length - 1
        : all.length;
      tokens = tokens.slice(0, Math.max(0, Math.min(fault.afterChunks, cap)));
      if (fault.kind === "length") doneReason = "length";
      else if (fault.kind === "error_mid_stream") ending = "error";
      else if (fault.kind === "cut_connection") ending = "cut";
      else ending = "none";
    }
    return {
      endpoint,
      model,
      tokens,
      doneReason,
      ending,
      error: (fault?.kind === "error_mid_stream" ? fault.error : undefined) ??
        "an error was encountered while running the model: unexpected EOF",
      delayMs: fault?.kind === "slow" ? fault.tokenDelayMs : this.#tokenDelayMs,
      promptTokens: Math.ceil(words * 1.3) + 4 * prompt.length,
      started,
      loaded: performance.now(),
    };
  }

  #content(
    format: unknown,
    fault: Fault | undefined,
    sample: SampleOptions,
  ): string {
    if (fault?.kind === "text") return fault.content;
    const isSchema = typeof format === "object" && format !== null;
    if (fault?.kind === "invalid_schema") {
      return JSON.stringify(
        isSchema ? violateSchema(format, sample) : [sample.prose.text(this.#wordsPerReply)],
      );
    }
    if (isSchema) return JSON.stringify(sampleSchema(format, sample));
    const text = sample.prose.text(this.#wordsPerReply);
    return format === "json" ? JSON.stringify({ message: text }) : text;
  }

  /**
   * The `stream: false` reply: one JSON object once generation has finished.
   * Its headers go out at once (the body follows when ready) so a client
   * that leaves is noticed through the body's `cancel`; only a reply that
   * ends in an error status has to wait before answering.
   */
  async #whole(
    plan: _Plan,
    signal: AbortSignal,
    client: _Client,
  ): Promise<Response> {
    if (plan.ending === "error") {
      await _collect(plan, signal);
      return _error(500, plan.error);
    }
    return new Response(_readable(_wholeBody(plan, signal), client.gone), {
      headers: { "content-type": _JSON },
    });
  }

  #show(body: Record<string, unknown>): Response {
    const model = this.#resolve(body.model ?? body.name);
    if (model instanceof Response) return model;
    const entry = _entry(model, this.#models.get(model) ?? "");
    return _json({
      license: "",
      modelfile: `# Modelfile generated by "ollama show"\nFROM ${model}\n` +
        `TEMPLATE "{{ .Prompt }}"\nPARAMETER num_ctx ${_CONTEXT_LENGTH}\n`,
      parameters: `num_ctx                        ${_CONTEXT_LENGTH}`,
      template: "{{ .Prompt }}",
      details: entry.details,
      model_info: {
        "general.architecture": "llama",
        "general.parameter_count": _size(model) * 2,
        "llama.context_length": _CONTEXT_LENGTH,
        "llama.embedding_length": _EMBEDDING_SIZE,
      },
      capabilities: ["completion"],
      modified_at: entry.modified_at,
    });
  }

  #pull(body: Record<string, unknown>, gone: AbortController): Response {
    const name = body.name ?? body.model;
    if (typeof name !== "string" || name === "") {
      return _error(400, "model is required");
    }
    const canonical = _canonical(name);
    const missing = name.includes("nonexistent");
    const digest = `sha256:${_hex64(canonical)}`;
    const total = _size(canonical);
    const steps = [0, Math.floor(total / 3), Math.floor(total / 2), total];
    const lines: Record<string, unknown>[] = [
      { status: "pulling manifest" },
      ...(missing ? [{ error: "pull model manifest: file does not exist" }] : [
        ...steps.map((completed) => ({
          status: `pulling ${digest.slice(7, 19)}`,
          digest,
          total,
          completed,
        })),
        { status: "verifying sha256 digest" },
        { status: "writing manifest" },
        { status: "success" },
      ]),
    ];
    const install = () => {
      if (!missing) this.#models.set(canonical, new Date().toISOString());
    };
    if (body.stream === false) {
      install();
      return missing
        ? _error(500, "pull model manifest: file does not exist")
        : _json({ status: "success" });
    }
    const signal = AbortSignal.any([this.#closing.signal, gone.signal]);
    return new Response(
      _readable(_pacedLines(lines, this.#tokenDelayMs, signal, install), gone),
      {
        headers: { "content-type": _NDJSON },
      },
    );
  }

  #embed(body: Record<string, unknown>, batch: boolean): Response {
    const model = this.#resolve(body.model);
    if (model instanceof Response) return model;
    if (!batch) {
      return _json({ embedding: _embedding(String(body.prompt ?? "")) });
    }
    const input = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? "")];
    const words = input.join(" ").split(/\s+/).filter((w) => w !== "").length;
    return _json({
      model,
      embeddings: input.map(_embedding),
      total_duration: 1_000_000 + words * 10_000,
      load_duration: 100_000,
      prompt_eval_count: Math.ceil(words * 1.3),
    });
  }
}

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
    this.#request.signal.addEventListener("abort", this.#onAbort, {
      once: true,
    });
  }

  /** Stops watching once the handler returns: Deno aborts the signal on success too. */
  release(): void {
    if (this.#watching) {
      this.#request.signal.removeEventListener("abort", this.#onAbort);
    }
  }
}

const _GO_TYPES: Record<string, string> = {
  "/api/show": "ShowRequest",
  "/api/pull": "PullRequest",
  "/api/embed": "EmbedRequest",
  "/api/embeddings": "EmbeddingRequest",
};

/** Go type of each request field whose JS type the double checks. */
const _FIELD_TYPES: Record<string, [js: string, go: string]> = {
  model: ["string", "string"],
  name: ["string", "string"],
  prompt: ["string", "string"],
  system: ["string", "string"],
  stream: ["boolean", "*bool"],
  messages: ["array", "[]api.Message"],
  options: ["object", "map[string]interface {}"],
};

/** Parses a request body the way Ollama's Go JSON binding reports failures. */
function _decode(
  raw: string,
  goType: string,
): Record<string, unknown> | Response {
  if (raw.trim() === "") return _error(400, "missing request body");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return _error(400, _goSyntaxError(raw, error));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return _error(
      400,
      `json: cannot unmarshal ${_goKind(value)} into Go value of type api.${goType}`,
    );
  }
  const record = value as Record<string, unknown>;
  for (const [field, [js, go]] of Object.entries(_FIELD_TYPES)) {
    const actual = record[field];
    if (actual === undefined || actual === null) continue;
    const kind = Array.isArray(actual) ? "array" : typeof actual;
    if (kind !== js) {
      return _error(
        400,
        `json: cannot unmarshal ${
          _goKind(actual)
        } into Go struct field ${goType}.${field} of type ${go}`,
      );
    }
  }
  return record;
}

function _goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

function _goSyntaxError(raw: string, error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (/end of JSON input|Unterminated/i.test(message)) return "unexpected EOF";
  const position = Number(
    /position (\d+)/.exec(message)?.[1] ?? raw.search(/\S/),
  );
  const char = raw[position] ?? raw.trim()[0] ?? "?";
  return `invalid character '${char}' looking for beginning of value`;
}

function _json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": _JSON },
  });
}

function _error(status: number, message: string): Response {
  return _json({ error: message }, status);
}

/** `llama3.2` → `llama3.2:latest`; names compare case-insensitively. */
function _canonical(name: string): string {
  const trimmed = name.trim().toLowerCase();
  const base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return base.includes(":") ? trimmed : `${trimmed}:latest`;
}

function _entry(name: string, modifiedAt: string) {
  const tiny = name.startsWith("tiny");
  return {
    name,
    model: name,
    modified_at: modifiedAt,
    size: _size(name),
    digest: _hex64(name),
    details: {
      parent_model: "",
      format: "gguf",
      family: "llama",
      families: ["llama"],
      parameter_size: tiny ? "135M" : "3.2B",
      quantization_level: "Q4_K_M",
    },
  };
}

function _size(name: string): number {
  return 100_000_000 + (hashSeed(name) % 2_000_000_000);
}

function _hex64(text: string): string {
  let hex = "";
  for (let i = 0; i < 8; i++) {
    hex += hashSeed(`${i}:${text}`).toString(16).padStart(8, "0");
  }
  return hex;
}

/** Hashed bag of words, L2-normalised: similar texts get similar vectors. */
function _embedding(text: string): number[] {
  const vector = new Array<number>(_EMBEDDING_SIZE).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = hashSeed(word);
    vector[hash % _EMBEDDING_SIZE]! += (hash >>> 16) & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

/** Go duration or seconds → milliseconds; negative means "keep forever". */
function _keepAliveMs(value: unknown): number {
  let ms = _DEFAULT_KEEP_ALIVE_MS;
  if (typeof value === "number") ms = value * 1000;
  if (typeof value === "string" && value !== "") {
    const units: Record<string, number> = {
      ms: 1,
      s: 1000,
      m: 60_000,
      h: 3_600_000,
    };
    const parts = [...value.matchAll(/(-?\d+(?:\.\d+)?)(ms|s|m|h)?/g)];
    ms = parts.reduce(
      (sum, [, n, unit]) => sum + Number(n) * units[unit ?? "s"]!,
      0,
    );
  }
  return ms < 0 ? 8_640_000_000_000 : ms;
}

/**
 * Word-sized pieces (with their leading space), runs of up to three other
 * characters, or whitespace runs; joined they give `text` back exactly.
 */
function _tokenize(text: string): string[] {
  return text.match(
    / ?[\p{L}\p{M}\p{N}'’]+| ?[^\p{L}\p{M}\p{N}\s]{1,3}|\s+/gu,
  ) ?? [];
}

function _chunk(plan: _Plan, content: string): Record<string, unknown> {
  const created_at = new Date().toISOString();
  return plan.endpoint === "chat"
    ? {
      model: plan.model,
      created_at,
      message: { role: "assistant", content },
      done: false,
    }
    : { model: plan.model, created_at, response: content, done: false };
}

/** The last object of a reply; durations in nanoseconds, zero ones left out. */
function _final(plan: _Plan, content: string): Record<string, unknown> {
  const ns = (t: number) => Math.round((t - plan.started) * 1e6);
  const end = ns(performance.now());
  const loaded = ns(plan.loaded);
  const first = plan.firstToken === undefined ? end : ns(plan.firstToken);
  const metrics = Object.entries({
    total_duration: end,
    load_duration: loaded,
    prompt_eval_count: plan.promptTokens,
    prompt_eval_duration: first - loaded,
    eval_count: plan.tokens.length,
    eval_duration: plan.tokens.length > 0 ? end - first : 0,
  }).filter(([, value]) => value > 0);
  const { done: _, ...chunk } = _chunk(plan, content);
  if (plan.endpoint === "chat") {
    return {
      ...chunk,
      done_reason: plan.doneReason,
      done: true,
      ...Object.fromEntries(metrics),
    };
  }
  const context = Array.from(
    { length: plan.promptTokens + plan.tokens.length },
    (_, i) => hashSeed(`${plan.model}${i}`) % 128_000,
  );
  return {
    ...chunk,
    done: true,
    done_reason: plan.doneReason,
    context,
    ...Object.fromEntries(metrics),
  };
}

/** The NDJSON body of a streamed chat or generate reply. */
async function* _replyLines(
  plan: _Plan,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const split = { done: false };
  for (const token of plan.tokens) {
    if (!(await _sleep(plan.delayMs, signal))) return;
    plan.firstToken ??= performance.now();
    yield* _splitBytes(_line(_chunk(plan, token)), split, signal);
  }
  if (signal.aborted) return;
  switch (plan.ending) {
    case "error":
      yield _line({ error: plan.error });
      return;
    case "cut":
      throw new _CutConnection();
    case "none":
      return;
    case "done":
      yield _line(_final(plan, ""));
  }
}

function _line(value: unknown): Uint8Array {
  return _encoder.encode(JSON.stringify(value) + "\n");
}

/**
 * Yields `bytes`; the first multibyte character of a reply goes out in two
 * writes with a pause between, so a client really receives it split.
 */
async function* _splitBytes(
  bytes: Uint8Array,
  split: { done: boolean },
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const lead = split.done ? -1 : bytes.findIndex((byte) => byte >= 0xc0);
  if (lead < 0) {
    yield bytes;
    return;
  }
  split.done = true;
  yield bytes.subarray(0, lead + 1);
  if (!(await _sleep(_SPLIT_PAUSE_MS, signal))) return;
  yield bytes.subarray(lead + 1);
}

async function* _pacedLines(
  lines: Record<string, unknown>[],
  delayMs: number,
  signal: AbortSignal,
  onSuccess: () => void,
): AsyncGenerator<Uint8Array> {
  for (const line of lines) {
    if (!(await _sleep(delayMs, signal))) return;
    if (line.status === "success") onSuccess();
    yield _line(line);
  }
}

/** Thrown inside a response body to drop the connection on purpose. */
class _CutConnection extends Error {
  constructor() {
    super("OllamaDouble cut the connection as a fault asked");
  }
}

/** Keeps deliberate cuts out of the log; anything else is a bug worth seeing. */
function _onError(error: unknown): Response {
  if (!(error instanceof _CutConnection)) console.error("OllamaDouble:", error);
  return _error(500, "internal error in OllamaDouble");
}

/** Waits out the token delays; the content, or undefined if aborted. */
async function _collect(
  plan: _Plan,
  signal: AbortSignal,
): Promise<string | undefined> {
  let content = "";
  for (const token of plan.tokens) {
    if (!(await _sleep(plan.delayMs, signal))) return undefined;
    plan.firstToken ??= performance.now();
    content += token;
  }
  return content;
}

/** The body of a `stream: false` reply, written once generation ends. */
async function* _wholeBody(
  plan: _Plan,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const content = await _collect(plan, signal);
  if (content === undefined) return;
  if (plan.ending === "cut") {
    const partial = _encoder.encode(JSON.stringify(_chunk(plan, content)));
    yield partial.subarray(0, Math.floor(partial.length / 2));
    throw new _CutConnection();
  }
  const reply = plan.ending === "none" ? _chunk(plan, content) : _final(plan, content);
  const bytes = _encoder.encode(JSON.stringify(reply));
  yield* _splitBytes(bytes, { done: false }, signal);
}

/**
 * A byte stream pulled from `source`. Cancelling it (the client went away)
 * aborts `local`, which ends any pending delay at once.
 */
function _readable(
  source: AsyncGenerator<Uint8Array>,
  local: AbortController,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await source.next();
      try {
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch {
        // cancelled while this chunk was being made
      }
    },
    async cancel() {
      local.abort();
      await source.return(undefined);
    },
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts; leaves no timer. */
function _sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function _aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

function _asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

function _asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Usage of the standalone server. */
export const OLLAMA_DOUBLE_HELP = `Usage: ollama_double.ts [--port N] [--delay MS] [--words N]

Serves a fake Ollama on 127.0.0.1 until interrupted.
  --port N    port to listen on (default 11434)
  --delay MS  delay between streamed chunks in milliseconds (default 0)
  --words N   approximate words per generated message (default 12)`;

function _flags(args: string[]): Record<string, number> {
  const flags: Record<string, number> = { port: 11434, delay: 0, words: 12 };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = (args[i] ?? "").replace(/^--/, "").split("=", 2);
    if (name === undefined || !(name in flags)) {
      throw new TypeError(
        `Cannot parse flag "${args[i]}": use --port, --delay or --words`,
      );
    }
    const value = Number(inline ?? args[++i]);
    if (!Number.isInteger(value) || value < 0) {
      throw new TypeError(
        `Cannot use --${name} as it is not a whole number: current value is ${inline ?? args[i]}`,
      );
    }
    flags[name] = value;
  }
  return flags;
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(OLLAMA_DOUBLE_HELP);
    Deno.exit(0);
  }
  let flags: Record<string, number>;
  try {
    flags = _flags(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    console.error(OLLAMA_DOUBLE_HELP);
    Deno.exit(1);
  }
  const double = await OllamaDouble.start({
    port: flags.port,
    tokenDelayMs: flags.delay,
    wordsPerReply: flags.words,
  });
  console.log(`Fake Ollama listening on ${double.url}`);
  const stop = () => double.close().finally(() => Deno.exit(0));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
