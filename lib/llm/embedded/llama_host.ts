/**
 * The model side of the embedded backend, run only in its own process
 * (lib/llm/embedded/model_host.ts): one GGUF model loaded by llama.cpp
 * (node-llama-cpp), one context of K parallel sequences, serving the
 * requests of lib/llm/embedded/host_protocol.ts. Never imported by the
 * agent's process: the native addon stays out of it.
 *
 * @module
 */
import {
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  LlamaChat,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { ErrorCode } from "../../base/dialogue_error.ts";
import { type PromptTokenizer, trimHistory } from "./history_trim.ts";
import { Slots } from "../../base/slots.ts";
import { firstLine, HostFailure } from "./host_failure.ts";
import {
  type ChatCall,
  type HostConfig,
  type HostEvent,
  type HostMessage,
  type HostRequest,
  MAX_REPLY_CHARS,
} from "./host_protocol.ts";

/**
 * Share of a prompt an idle sequence must already hold to be reused while
 * new sequences are left: a turn's prompt holds the agent's previous prompt
 * (persona and history) and little more, far above half; another agent's
 * shares only the template's opening, far below.
 */
const REUSE_SHARE = 0.5;

/** Grammars kept compiled, by schema JSON (a run sends two or three schemas). */
const GRAMMAR_CACHE_SIZE = 16;

/** Sends one event to the backend (serialized: lines never interleave). */
export type SendEvent = (event: HostEvent) => Promise<void>;

/**
 * One loaded model serving the backend's requests: generations in the
 * context's K sequences, grammars compiled once per schema, embeddings, and
 * an orderly close.
 */
export class LlamaHost {
  readonly #config: HostConfig;
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  /** One chat template for counting and generating, so the counts are what is evaluated. */
  readonly #wrapper: ChatWrapper;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #running = new Map<number, { abort: AbortController; done: Promise<void> }>();
  /** The context's sequences; a generation beyond them waits (the backend sends at most K). */
  readonly #slots: Slots;
  /**
   * Sequences between generations, kept with what they evaluated: a prompt
   * that begins as an earlier one did (the same agent's persona and the
   * history so far) evaluates only what follows. Measured with the tiny
   * model: prompt evaluation was two thirds of a turn when every turn began
   * from nothing.
   */
  readonly #idle: LlamaContextSequence[] = [];
  readonly #tokenizer: PromptTokenizer;
  readonly #send: SendEvent;
  #embedding: Promise<LlamaEmbeddingContext> | undefined;

  constructor(
    parts: { config: HostConfig; llama: Llama; model: LlamaModel; context: LlamaContext },
    send: SendEvent,
  ) {
    const { config, llama, model, context } = parts;
    this.#send = send;
    this.#config = config;
    this.#llama = llama;
    this.#model = model;
    this.#context = context;
    this.#wrapper = resolveChatWrapper(model);
    this.#slots = new Slots(config.sequences);
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

  /** Starts serving `request`; its answer goes out through `send`. */
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
        this.#running.get(request.id)?.abort.abort(new HostFailure(ErrorCode.Aborted, "cancelled"));
        return;
      case "embed":
        this.#embed(request.id, request.texts).catch((error) => this.#fail(request.id, error));
        return;
      case "count":
        this.#send({ type: "count", id: request.id, tokens: this.#promptTokens(request.messages) });
        return;
      case "close":
        return;
    }
  }

  async #chat(call: ChatCall, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const grammar = call.schema ? await this.#grammar(call.schema) : undefined;
    const release = await this.#slots.acquire(signal);
    // LlamaChat shifts the context (and may refuse to) once prompt plus
    // reply reach contextSize - 1: keep clear of it.
    const budget = Math.min(this.#context.contextSize - 2, call.contextTokens ?? Infinity);
    let prepared: ReturnType<typeof trimHistory>;
    try {
      prepared = trimHistory(call.messages, {
        budget,
        maxTokens: call.maxTokens,
        tokenizer: this.#tokenizer,
      });
    } catch (error) {
      release();
      throw error;
    }
    const sequence = this.#sequenceFor(this.#promptTokenList(prepared.messages));
    const before = {
      input: sequence.tokenMeter.usedInputTokens,
      output: sequence.tokenMeter.usedOutputTokens,
    };
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: this.#wrapper });
    try {
      const cap = new AbortController();
      let content = "";
      let firstAt = 0;
      let lastAt = 0;
      const generating = performance.now();
      const response = await chat.generateResponse(chatHistory(prepared.messages), {
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
          if (piece) this.#send({ type: "token", id: call.id, text: piece });
          if (text.length >= room) cap.abort();
        },
      });
      const ended = performance.now();
      // This generation's share of the kept sequence's meter.
      const meter = {
        usedInputTokens: sequence.tokenMeter.usedInputTokens - before.input,
        usedOutputTokens: sequence.tokenMeter.usedOutputTokens - before.output,
      };
      const reason = cap.signal.aborted
        ? "length"
        : signal.aborted
        ? "cancelled"
        : response.metadata.stopReason === "maxTokens"
        ? "length"
        : "stop";
      await this.#send({
        type: "done",
        id: call.id,
        content: cap.signal.aborted ? content : response.response.slice(0, MAX_REPLY_CHARS),
        doneReason: reason,
        droppedTurns: prepared.droppedTurns,
        cut: prepared.cut,
        figures: {
          // The prompt tokens evaluated (a kept prefix is not evaluated again,
          // as Ollama counts a cached prompt). The meter counts the last
          // prompt token as an output: it is the evaluation that yields the
          // first sampled token.
          promptTokens: meter.usedInputTokens + (meter.usedOutputTokens > 0 ? 1 : 0),
          generatedTokens: meter.usedOutputTokens,
          promptMs: (firstAt || ended) - generating,
          generationMs: firstAt ? lastAt - firstAt : 0,
          totalMs: ended - started,
        },
      });
    } finally {
      // The chat goes; the sequence stays, with its evaluated tokens, for
      // the next prompt that begins the same way. A generation never sees
      // another's state: LlamaChat erases the sequence from the first token
      // its own prompt does not share.
      chat.dispose();
      this.#idle.push(sequence);
      release();
    }
  }

  /**
   * The idle sequence whose evaluated tokens share the longest prefix with
   * `tokens` when it shares most of them; else a new one while the context
   * has sequences left (so each agent of a conversation keeps its own: two
   * prompts of one template share their first few tokens, which is no reason
   * to evict the other agent's state); else the best idle one.
   */
  #sequenceFor(tokens: Token[]): LlamaContextSequence {
    let best = -1;
    let shared = 0;
    this.#idle.forEach((sequence, i) => {
      const same = sequence.compareContextTokens(tokens).firstDifferentIndex;
      if (same > shared || best < 0) [best, shared] = [i, same];
    });
    const worthKeeping = shared >= tokens.length * REUSE_SHARE;
    if ((best < 0 || !worthKeeping) && this.#context.sequencesLeft > 0) {
      return this.#context.getSequence();
    }
    return this.#idle.splice(best, 1)[0]!;
  }

  /** The tokens the prompt `messages` render to. */
  #promptTokenList(messages: readonly HostMessage[]): Token[] {
    const { contextText } = this.#wrapper.generateContextState({
      chatHistory: chatHistory(messages),
    });
    return contextText.tokenize(this.#model.tokenizer);
  }

  /** Tokens of the prompt `messages` render to: what LlamaChat evaluates for them. */
  #promptTokens(messages: readonly HostMessage[]): number {
    return this.#promptTokenList(messages).length;
  }

  #grammar(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.#grammars.get(key);
    if (!grammar) {
      grammar = this.#llama.createGrammarForJsonSchema(schema as never).catch((error) => {
        this.#grammars.delete(key);
        const reason = firstLine(error);
        throw new HostFailure(
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
      throw new HostFailure(
        ErrorCode.ModelNotFound,
        `Cannot embed with ${this.#config.modelFile} as the model gives no embeddings (${
          firstLine(error)
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
    await this.#send({ type: "embedding", id, vectors });
  }

  #fail(id: number, error: unknown): Promise<void> {
    const failure = error instanceof HostFailure ? error : new HostFailure(
      ErrorCode.LlmTransient,
      `llama.cpp failed: ${firstLine(error)}`,
    );
    return this.#send({
      type: "error",
      id,
      code: failure.code,
      message: failure.message.slice(0, 2000),
    });
  }

  /** Stops every generation, then disposes the context, the model and llama.cpp, in order. */
  async close(): Promise<void> {
    for (const { abort } of this.#running.values()) {
      abort.abort(new HostFailure(ErrorCode.Aborted, "closing"));
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
export function chatHistory(messages: readonly HostMessage[]): ChatHistoryItem[] {
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
