/**
 * The seam between DialogueLLM and whatever generates text. Ollama is the
 * first backend; an embedded model or an OpenAI-compatible server plug in
 * here without touching the manager or the agents.
 *
 * @module
 */

/** One chat message sent to a model. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A chat request, independent of the backend's wire format. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** A JSON schema the reply must follow, or `"json"` for any JSON. */
  format?: Record<string, unknown> | "json";
  temperature?: number;
  /** Context window in tokens. */
  numCtx?: number;
  /** Longest reply in tokens. */
  numPredict?: number;
  seed?: number;
  keepAlive?: string;
}

/** Figures for one generation; durations in nanoseconds, 0 when unknown. */
export interface GenerationMetrics {
  eval_count: number;
  eval_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  load_duration: number;
  total_duration: number;
}

/** What a finished generation produced. */
export interface ChatResult {
  content: string;
  /** `stop`, `length`, … as the backend reported it. */
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

/** Something that can hold a chat. */
export interface LlmBackend {
  /** Where it runs, safe to show (no credentials). */
  readonly description: string;
  /**
   * Generates a reply, streaming content through `onToken`.
   *
   * @throws {DialogueError} `model_not_found`, `llm_unavailable`,
   * `llm_transient` or `aborted`.
   */
  chat(request: ChatRequest, options?: ChatOptions): Promise<ChatResult>;
  /**
   * Checks the backend answers and has `model`, pulling it when asked.
   *
   * @throws {DialogueError} saying what is missing and how to get it.
   */
  ensureModel(model: string, options?: EnsureModelOptions): Promise<void>;
}

/** Metrics with every field 0. */
export function emptyMetrics(): GenerationMetrics {
  return {
    eval_count: 0,
    eval_duration: 0,
    prompt_eval_count: 0,
    prompt_eval_duration: 0,
    load_duration: 0,
    total_duration: 0,
  };
}
