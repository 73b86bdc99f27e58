/**
 * The seam between DialogueLLM and whatever generates text: Ollama, an
 * OpenAI-compatible server, or a model embedded in-process (llama.cpp). The
 * manager, the agents and the analysis see only these neutral types; each
 * backend maps them to its own wire names (`num_predict`, `max_tokens`, …).
 *
 * @module
 */

/** The backends a role can use. */
export const BACKEND_KINDS = ["ollama", "openai", "embedded"] as const;
/** One of {@linkcode BACKEND_KINDS}. */
export type BackendKind = typeof BACKEND_KINDS[number];

/**
 * Characters a reply may have beyond `MAX_CONTENT_CHARS` (the longest
 * message body) before a backend stops reading it: room for the JSON around
 * a structured message. Past it the reply is returned cut, `doneReason`
 * "length", so a runaway model cannot fill the heap.
 */
export const CONTENT_MARGIN_CHARS = 8192;

/** One chat message sent to a model. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A chat request, independent of the backend's wire format. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /**
   * A JSON schema the reply must follow (structured output). Send the
   * generation-sized schema (lib/llm/generation_schema.ts), not the
   * validation one: grammars cannot compile string bounds in the thousands.
   */
  schema?: Record<string, unknown>;
  temperature?: number;
  /** Context window in tokens. */
  contextTokens?: number;
  /** Longest reply in tokens. */
  maxTokens?: number;
  seed?: number;
}

/**
 * Where a figure came from: `reported` by the server, `counted` with the
 * model's own tokenizer, `timed` by us with a monotonic clock, `estimated`
 * (e.g. characters / 4 when a stream ended without its usage chunk), or
 * `absent` when nothing is known (the figure is then 0 and must be read as
 * unknown, not zero).
 */
export type FigureSource = "reported" | "counted" | "timed" | "estimated" | "absent";

/** Figures for one generation; durations in milliseconds, 0 when unknown. */
export interface GenerationMetrics {
  /** Tokens of the prompt the model evaluated. */
  promptTokens: number;
  /** Tokens the model generated. */
  generatedTokens: number;
  /** Time spent evaluating the prompt. */
  promptMs: number;
  /** Time spent generating (first to last token, as the backend sees it). */
  generationMs: number;
  /** Time spent loading the model for this request. */
  loadMs: number;
  /** The whole request as the backend measured it. */
  totalMs: number;
  /** Where each group of figures came from. */
  sources: {
    promptTokens: FigureSource;
    generatedTokens: FigureSource;
    timings: FigureSource;
  };
}

/** What a finished generation produced. */
export interface ChatResult {
  content: string;
  /** `stop`, `length`, … as the backend reported it (OpenAI's `finish_reason`). */
  doneReason: string;
  metrics: GenerationMetrics;
  /** Request sent → first content token, measured by the client. */
  timeToFirstTokenMs: number;
  /** Request sent → final chunk, measured by the client. */
  wallMs: number;
}

/** Options of one {@linkcode LlmBackend.chat} call. */
export interface ChatOptions {
  /** Cancels the generation (deadline, shutdown). */
  signal?: AbortSignal;
  /** Called with each piece of content as it arrives. */
  onToken?: (text: string) => void;
}

/** Options of {@linkcode LlmBackend.ensureModel}. */
export interface EnsureModelOptions {
  /** Download the model when it is missing. @default false */
  pull?: boolean;
  /** Download progress, 0..1, when pulling. */
  onProgress?: (status: string, fraction?: number) => void;
  signal?: AbortSignal;
}

/** Options of {@linkcode LlmBackend.embed}. */
export interface EmbedOptions {
  signal?: AbortSignal;
}

/** Something that can hold a chat. */
export interface LlmBackend {
  /** Which backend this is. */
  readonly kind: BackendKind;
  /** Where it runs, safe to show (no credentials). */
  readonly description: string;
  /**
   * Generates a reply, streaming content through `onToken`.
   *
   * @throws {DialogueError} `model_not_found`, `llm_unavailable`,
   * `llm_transient`, `invalid_output` or `aborted`.
   */
  chat(request: ChatRequest, options?: ChatOptions): Promise<ChatResult>;
  /**
   * Checks the backend answers and has `model`, pulling it when asked.
   *
   * @throws {DialogueError} saying what is missing and how to get it.
   */
  ensureModel(model: string, options?: EnsureModelOptions): Promise<void>;
  /**
   * One embedding vector per text, in order (topic drift).
   *
   * @throws {DialogueError} as {@linkcode LlmBackend.chat}.
   */
  embed(model: string, texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
  /** Releases what the backend holds (a model process, sockets). Idempotent. */
  close(): Promise<void>;
}

/** Metrics with every figure 0 and every source `absent`. */
export function emptyMetrics(): GenerationMetrics {
  return {
    promptTokens: 0,
    generatedTokens: 0,
    promptMs: 0,
    generationMs: 0,
    loadMs: 0,
    totalMs: 0,
    sources: { promptTokens: "absent", generatedTokens: "absent", timings: "absent" },
  };
}

/**
 * A rough token count for text whose tokenizer is not at hand: ~4
 * characters a token for English with BPE vocabularies. Label the result
 * `estimated`.
 */
export function estimateTokens(text: string): number {
  return text ? Math.max(1, Math.round(text.length / 4)) : 0;
}
