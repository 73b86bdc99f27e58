/**
 * The embedded model's host process: loads one GGUF model with llama.cpp
 * (node-llama-cpp), one context of K parallel sequences, and serves the
 * requests of {@linkcode ./host_protocol.ts} from stdin to stdout. Run by
 * {@linkcode ./embedded_backend.ts}, never imported: a native addon is kept
 * out of the agent's own process, whose exit it could crash (Deno #29911),
 * and a crash here costs the in-flight generations, not the run.
 *
 * Usage: `deno run <flags> model_host.ts '<HostConfig JSON>'`.
 *
 * @module
 */
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  InsufficientMemoryError,
  type Llama,
  LlamaChat,
  type LlamaContext,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { ErrorCode } from "../../base/dialogue_error.ts";
import { type PromptTokenizer, trimHistory } from "./history_trim.ts";
import { SequenceSlots } from "./sequence_slots.ts";
import {
  type ChatCall,
  encodeLine,
  HostConfig,
  type HostEvent,
  type HostMessage,
  HostRequest,
  MAX_REPLY_CHARS,
  MAX_REQUEST_LINE_CHARS,
  parseLine,
  readLines,
} from "./host_protocol.ts";

/** Grammars kept compiled, by schema JSON (a run sends two or three schemas). */
const GRAMMAR_CACHE_SIZE = 16;

class _Failure extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** Serializes writes to stdout, so concurrent generations never interleave a line. */
const _out = Deno.stdout.writable.getWriter();
const _encoder = new TextEncoder();
function _send(event: HostEvent): Promise<void> {
  return _out.write(_encoder.encode(encodeLine(event))).catch(() => {});
}

class _Host {
  readonly #config: HostConfig;
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  /** One chat template for counting and generating, so the counts are what is evaluated. */
  readonly #wrapper: ChatWrapper;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #running = new Map<number, { abort: AbortController; done: Promise<void> }>();
  /** The context's sequences; a generation beyond them waits (the backend sends at most K). */
  readonly #slots: SequenceSlots;
  readonly #tokenizer: PromptTokenizer;
  #embedding: Promise<LlamaEmbeddingContext> | undefined;

  constructor(config: HostConfig, llama: Llama, model: LlamaModel, context: LlamaContext) {
    this.#config = config;
    this.#llama = llama;
    this.#model = model;
    this.#context = context;
    this.#wrapper = resolveChatWrapper(model);
    this.#slots = new SequenceSlots(config.sequences);
    this.#tokenizer = {
      tokenize: (text) => model.tokenize(text),
      detokenize: (tokens) => model.detokenize(tokens as Token[]),
      promptTokens: (messages) => this.#promptTokens(messages),
    };
  }

  /** The chat template's name (`Llama2Chat`, `ChatML`, …). */
  get chatWrapper(): string {
    return this.#wrapper.wrapperName;
  }

  handle(request: HostRequest): void {
    switch (request.type) {
      case "chat": {
        const abort = new AbortController();
        const done = this.#chat(request, abort.signal)
          .catch((error) => this.#fail(request.id, error))
          .finally(() => this.#running.delete(request.id));
        this.#running.set(request.id, { abort, done });
        return;
      }
      case "cancel":
        this.#running.get(request.id)?.abort.abort(new _Failure(ErrorCode.Aborted, "cancelled"));
        return;
      case "embed":
        this.#embed(request.id, request.texts).catch((error) => this.#fail(request.id, error));
        return;
      case "count":
        _send({ type: "count", id: request.id, tokens: this.#promptTokens(request.messages) });
        return;
      case "close":
        return;
    }
  }

  async #chat(call: ChatCall, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const grammar = call.schema ? await this.#grammar(call.schema) : undefined;
    const release = await this.#slots.acquire(signal);
    const sequence = this.#context.getSequence();
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: this.#wrapper });
    try {
      // LlamaChat shifts the context (and may refuse to) once prompt plus
      // reply reach contextSize - 1: keep clear of it.
      const budget = Math.min(this.#context.contextSize - 2, call.contextTokens ?? Infinity);
      const prepared = trimHistory(call.messages, {
        budget,
        maxTokens: call.maxTokens,
        tokenizer: this.#tokenizer,
      });
      const cap = new AbortController();
      let content = "";
      let firstAt = 0;
      let lastAt = 0;
      const generating = performance.now();
      const response = await chat.generateResponse(_history(prepared.messages), {
        maxTokens: prepared.maxTokens,
        ...(call.temperature !== undefined ? { temperature: call.temperature } : {}),
        ...(call.seed !== undefined ? { seed: call.seed } : {}),
        ...(grammar ? { grammar } : {}),
        signal: AbortSignal.any([signal, cap.signal]),
        // Cancelled or capped mid-reply: keep what was generated.
        stopOnAbortSignal: true,
        onTextChunk: (text) => {
          if (!text || cap.signal.aborted) return;
          lastAt = performance.now();
          if (!firstAt) firstAt = lastAt;
          const room = MAX_REPLY_CHARS - content.length;
          // A runaway reply stops at the cap and is handed back as cut at
          // the length limit, never buffered whole.
          const piece = text.length >= room ? text.slice(0, room) : text;
          content += piece;
          if (piece) _send({ type: "token", id: call.id, text: piece });
          if (text.length >= room) cap.abort();
        },
      });
      const ended = performance.now();
      const meter = sequence.tokenMeter;
      const reason = cap.signal.aborted
        ? "length"
        : signal.aborted
        ? "cancelled"
        : response.metadata.stopReason === "maxTokens"
        ? "length"
        : "stop";
      await _send({
        type: "done",
        id: call.id,
        content: cap.signal.aborted ? content : response.response.slice(0, MAX_REPLY_CHARS),
        doneReason: reason,
        droppedTurns: prepared.droppedTurns,
        cut: prepared.cut,
        figures: {
          // The meter counts the last prompt token as an output: it is the
          // evaluation that yields the first sampled token.
          promptTokens: meter.usedInputTokens + (meter.usedOutputTokens > 0 ? 1 : 0),
          generatedTokens: meter.usedOutputTokens,
          promptMs: (firstAt || ended) - generating,
          generationMs: firstAt ? lastAt - firstAt : 0,
          totalMs: ended - started,
        },
      });
    } finally {
      chat.dispose();
      // A sequence per generation, disposed after it: its KV cells are freed,
      // so a slot never carries one conversation's state into another's turn
      // and each meter starts at zero; re-evaluating the prompt is cheap next
      // to generating.
      // Reclaiming the sequence id is asynchronous: the slot is free after it.
      await sequence.dispose();
      release();
    }
  }

  /** Tokens of the prompt `messages` render to: what LlamaChat evaluates for them. */
  #promptTokens(messages: readonly HostMessage[]): number {
    const { contextText } = this.#wrapper.generateContextState({ chatHistory: _history(messages) });
    return contextText.tokenize(this.#model.tokenizer).length;
  }

  #grammar(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.#grammars.get(key);
    if (!grammar) {
      grammar = this.#llama.createGrammarForJsonSchema(schema as never).catch((error) => {
        this.#grammars.delete(key);
        const reason = _firstLine(error);
        throw new _Failure(
          ErrorCode.InvalidOutput,
          `Cannot use the structured-output schema as llama.cpp cannot compile its grammar (${reason}): send the generation-sized schema (lib/llm/generation_schema.ts), with smaller string and array bounds`,
        );
      });
      if (this.#grammars.size >= GRAMMAR_CACHE_SIZE) {
        this.#grammars.delete(this.#grammars.keys().next().value!);
      }
      this.#grammars.set(key, grammar);
    }
    return grammar;
  }

  async #embed(id: number, texts: readonly string[]): Promise<void> {
    this.#embedding ??= this.#model.createEmbeddingContext({
      contextSize: this.#context.contextSize,
      threads: this.#config.threads,
    }).catch((error) => {
      this.#embedding = undefined;
      throw new _Failure(
        ErrorCode.ModelNotFound,
        `Cannot embed with ${this.#config.modelFile} as the model gives no embeddings (${
          _firstLine(error)
        }): use a model that does, or turn topic drift off`,
      );
    });
    const embedding = await this.#embedding;
    const vectors: number[][] = [];
    for (const text of texts) {
      // Longer than the context: the start stands for the text.
      const tokens = this.#model.tokenize(text).slice(0, this.#context.contextSize);
      vectors.push([...(await embedding.getEmbeddingFor(tokens)).vector]);
    }
    await _send({ type: "embedding", id, vectors });
  }

  #fail(id: number, error: unknown): Promise<void> {
    const failure = error instanceof _Failure ? error : new _Failure(
      ErrorCode.LlmTransient,
      `llama.cpp failed: ${_firstLine(error)}`,
    );
    return _send({
      type: "error",
      id,
      code: failure.code,
      message: failure.message.slice(0, 2000),
    });
  }

  /** Stops every generation, then disposes the context, the model and llama.cpp, in order. */
  async close(): Promise<void> {
    for (const { abort } of this.#running.values()) {
      abort.abort(new _Failure(ErrorCode.Aborted, "closing"));
    }
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
    const embedding = await this.#embedding?.catch(() => undefined);
    await embedding?.dispose();
    await this.#context.dispose();
    await this.#model.dispose();
    await this.#llama.dispose();
  }
}

/** Our messages as LlamaChat's history, ending with the reply to generate. */
function _history(messages: readonly HostMessage[]): ChatHistoryItem[] {
  const items: ChatHistoryItem[] = messages.map((m): ChatHistoryItem =>
    m.role === "system"
      ? { type: "system", text: m.content }
      : m.role === "user"
      ? { type: "user", text: m.content }
      : { type: "model", response: [m.content] }
  );
  if (messages.at(-1)?.role !== "assistant") items.push({ type: "model", response: [] });
  return items;
}

async function _load(config: HostConfig): Promise<_Host> {
  const started = performance.now();
  let llama: Llama;
  try {
    llama = await getLlama({ gpu: config.gpu, build: "never", logLevel: LlamaLogLevel.error });
  } catch (error) {
    throw new _Failure(
      ErrorCode.LlmUnavailable,
      `Cannot start llama.cpp as no prebuilt binary of node-llama-cpp loads here (${
        _firstLine(error)
      }): check the platform is supported, or use --backend ollama`,
    );
  }
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: config.modelFile });
  } catch (error) {
    await llama.dispose();
    throw new _Failure(
      ErrorCode.ModelNotFound,
      `Cannot load the model file ${config.modelFile} as llama.cpp refused it (${
        _firstLine(error)
      }): pass --model-file PATH with a GGUF model llama.cpp supports`,
    );
  }
  const contextSize = Math.min(
    config.contextTokens,
    model.trainContextSize || config.contextTokens,
  );
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize,
      sequences: config.sequences,
      // Always explicit: llama.cpp's default oversubscribes a small machine.
      threads: config.threads,
    });
  } catch (error) {
    await model.dispose();
    await llama.dispose();
    const memory = error instanceof InsufficientMemoryError;
    throw new _Failure(
      memory ? ErrorCode.LlmUnavailable : ErrorCode.ModelNotFound,
      `Cannot create a context of ${contextSize} tokens × ${config.sequences} sequences for ${config.modelFile} as ${
        memory ? "memory is insufficient" : _firstLine(error)
      }: lower embedded.context_tokens or the concurrency`,
    );
  }
  const host = new _Host(config, llama, model, context);
  await _send({
    type: "ready",
    loadMs: performance.now() - started,
    contextTokens: context.contextSize,
    sequences: config.sequences,
    trainContextTokens: model.trainContextSize,
    chatWrapper: host.chatWrapper.slice(0, 100),
  });
  return host;
}

function _firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0]!.slice(0, 300);
}

async function _main(args: readonly string[]): Promise<void> {
  // stdout carries the protocol only: whatever a library logs goes to stderr.
  console.log = console.info = console.debug = console.error;
  const parsed = parseLine(HostConfig, args[0] ?? "");
  if (!parsed.ok) {
    await _send({
      type: "fatal",
      code: ErrorCode.Usage,
      message: `Bad host config: ${parsed.problem}`,
    });
    Deno.exit(2);
  }
  let host: _Host;
  try {
    host = await _load(parsed.value);
  } catch (error) {
    const failure = error instanceof _Failure ? error : new _Failure(
      ErrorCode.LlmUnavailable,
      `Cannot start the embedded model: ${_firstLine(error)}`,
    );
    await _send({ type: "fatal", code: failure.code, message: failure.message.slice(0, 2000) });
    Deno.exit(1);
  }
  try {
    for await (const line of readLines(Deno.stdin.readable, MAX_REQUEST_LINE_CHARS)) {
      const request = parseLine(HostRequest, line);
      if (!request.ok) {
        console.error(`model host: ignored an invalid request (${request.problem})`);
        continue;
      }
      if (request.value.type === "close") break;
      host.handle(request.value);
    }
  } catch (error) {
    console.error(`model host: stdin failed: ${_firstLine(error)}`);
  }
  // "close", or stdin ended because the backend's process is gone: either
  // way nothing is left to serve.
  await host.close();
  await _send({ type: "closed" });
  await _out.close().catch(() => {});
  Deno.exit(0);
}

if (import.meta.main) await _main(Deno.args);
