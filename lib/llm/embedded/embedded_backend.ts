/**
 * {@linkcode LlmBackend} over a GGUF model run by llama.cpp (node-llama-cpp)
 * on this machine, without a server. The model lives in a child process
 * ({@linkcode ./model_host.ts}) started on first use: one loaded model and one
 * context of K parallel sequences, so K concurrent generations cost K
 * sequences of KV cache, not K copies of the model. A crash of that process
 * fails the generations in flight and the next call starts a new one.
 *
 * @module
 */
import { basename } from "node:path";
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";
import { log } from "../../base/logger.ts";
import type {
  ChatMessage,
  ChatOptions,
  ChatRequest,
  ChatResult,
  EmbedOptions,
  EnsureModelOptions,
  LlmBackend,
} from "../llm_backend.ts";
import { EMBED_BATCH } from "./host_protocol.ts";
import type { HostAnswer, HostProcess } from "./host_process.ts";
import { HostSupervisor } from "./host_supervisor.ts";
import { untilAborted } from "./until_aborted.ts";
import { type EnvLookup, parseModelSource, resolveModelSource } from "./model_source.ts";
import { Slots } from "../../base/slots.ts";

/** Options of an {@linkcode EmbeddedBackend}. */
export interface EmbeddedBackendOptions {
  /** A GGUF file, or `hf:OWNER/REPO/FILE.gguf` (downloaded by `ensureModel` with `pull`). */
  modelFile: string;
  /** CPU threads of llama.cpp; always explicit (its default oversubscribes a small machine). */
  threads: number;
  /** `auto` uses a GPU when llama.cpp finds one. */
  gpu: "auto" | false;
  /** Context of each sequence, in tokens; capped at the model's training context. */
  contextTokens: number;
  /** Generations run at once (parallel sequences); calls beyond wait for a free one. */
  sequences: number;
  /** A generation running longer than this is cancelled. @default 300000 */
  requestTimeoutMs?: number;
  /** How long `close()` waits for the model process before killing it. @default 10000 */
  closeTimeoutMs?: number;
  /** Environment (data folder, HF_ENDPOINT). @default Deno.env.get */
  env?: EnvLookup;
}

/** What {@linkcode EmbeddedBackend.chat} returns: a {@linkcode ChatResult} and how the history was fitted. */
export interface EmbeddedChatResult extends ChatResult {
  /** Oldest turns left out so the prompt and the reply fit the context. */
  droppedTurns: number;
  /** Whether the system text (or the last turn) was cut to fit. */
  cut: boolean;
}

/** Chat with a GGUF model run in a local llama.cpp process. */
export class EmbeddedBackend implements LlmBackend {
  /** Always `embedded`. */
  readonly kind = "embedded" as const;
  readonly description: string;
  readonly #options: EmbeddedBackendOptions;
  readonly #env: EnvLookup;
  readonly #slots: Slots;
  readonly #hosts: HostSupervisor;

  /** @throws {RangeError} when threads, sequences or the context are not positive integers. */
  constructor(options: EmbeddedBackendOptions) {
    for (const key of ["threads", "sequences", "contextTokens"] as const) {
      if (!Number.isInteger(options[key]) || options[key] < 1) {
        throw new RangeError(
          `Cannot create the embedded backend as ${key} must be a positive integer: current value is ${
            options[key]
          }`,
        );
      }
    }
    this.#options = options;
    this.#env = options.env ?? ((name) => Deno.env.get(name));
    this.#slots = new Slots(options.sequences);
    this.#hosts = new HostSupervisor(async () => ({
      // Checked (and an `hf:` model found in the cache) at each start.
      modelFile: await resolveModelSource(options.modelFile, { env: this.#env }),
      threads: options.threads,
      gpu: options.gpu,
      contextTokens: options.contextTokens,
      sequences: options.sequences,
    }));
    const source = parseModelSource(options.modelFile);
    const name = source.kind === "file" ? basename(source.path) : source.file;
    this.description = `embedded llama.cpp (${name}, ${options.sequences} sequence${
      options.sequences === 1 ? "" : "s"
    })`;
  }

  /** The model process's id while it runs (for diagnostics and tests). */
  get pid(): number | undefined {
    return this.#hosts.pid;
  }

  /**
   * Generates a reply in one of the model's sequences (waiting for a free
   * one), streaming it through `onToken`. A history longer than the context
   * is trimmed, oldest turns first; the result says how.
   *
   * @throws {DialogueError} `model_not_found`, `llm_unavailable` (the model
   * process cannot start), `llm_transient` (it exited, or the request timed
   * out), `invalid_output` (a schema llama.cpp cannot compile) or `aborted`.
   */
  async chat(request: ChatRequest, options: ChatOptions = {}): Promise<EmbeddedChatResult> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.#options.requestTimeoutMs ?? 300_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const release = await this.#slots.acquire(signal).catch((error) => {
      throw this.#stopped(signal, options.signal, error);
    });
    let sent = false;
    try {
      const { host, loadMs } = await this.#hosts.ready(signal);
      let firstAt = 0;
      const { id, answer } = host.send({
        type: "chat",
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        ...(request.schema ? { schema: request.schema } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.contextTokens !== undefined ? { contextTokens: request.contextTokens } : {}),
        ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
      }, (text) => {
        if (!firstAt) firstAt = performance.now();
        options.onToken?.(text);
      });
      // The slot is the host's sequence: it is free when the host says the
      // generation ended, not when a cancelled caller stops waiting.
      sent = true;
      answer.then(release, release);
      const event = await untilAborted(answer, signal, () => host.cancel(id)).catch((error) => {
        throw this.#stopped(signal, options.signal, error);
      });
      if (event.type === "error") throw new DialogueError(event.code, event.message);
      if (event.type !== "done") throw _unexpected(event);
      if (event.doneReason === "cancelled") {
        throw new DialogueError(
          ErrorCode.Aborted,
          "Generation cancelled as the embedded model is closing",
        );
      }
      if (event.droppedTurns > 0 || event.cut) {
        log("llm").debug(
          "Fitted the history into the context: {dropped} turns dropped, cut {cut}",
          {
            dropped: event.droppedTurns,
            cut: event.cut,
          },
        );
      }
      const f = event.figures;
      const ended = performance.now();
      return {
        content: event.content,
        doneReason: event.doneReason,
        metrics: {
          promptTokens: f.promptTokens,
          generatedTokens: f.generatedTokens,
          promptMs: f.promptMs,
          generationMs: f.generationMs,
          loadMs,
          totalMs: f.totalMs + loadMs,
          sources: { promptTokens: "counted", generatedTokens: "counted", timings: "timed" },
        },
        timeToFirstTokenMs: firstAt ? firstAt - started : 0,
        wallMs: ended - started,
        droppedTurns: event.droppedTurns,
        cut: event.cut,
      };
    } catch (error) {
      throw this.#stopped(signal, options.signal, error);
    } finally {
      if (!sent) release();
    }
  }

  /**
   * Checks the model file (exists, is GGUF; an `hf:` model is downloaded
   * with `pull`) and loads it in the model process. `model` is the run's
   * model name, which this backend does not use: it serves its one file.
   *
   * @throws {DialogueError} `model_not_found` in one line naming the file
   * and `--model-file`; `llm_unavailable` when the process cannot start.
   */
  async ensureModel(_model: string, options: EnsureModelOptions = {}): Promise<void> {
    if (options.pull && parseModelSource(this.#options.modelFile).kind === "hf") {
      const name = this.#options.modelFile.split("#")[0];
      await resolveModelSource(this.#options.modelFile, {
        env: this.#env,
        pull: true,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (bytes, total) =>
          options.onProgress?.(
            `Downloading ${name}: ${(bytes / 1e6).toFixed(0)} MB${
              total ? ` of ${(total / 1e6).toFixed(0)} MB` : ""
            }`,
            total ? bytes / total : undefined,
          ),
      });
    }
    await this.#hosts.ready(options.signal);
  }

  /**
   * One embedding vector per text, from the model's own embeddings (a
   * generative model gives them too; a model without them fails clearly).
   */
  async embed(
    _model: string,
    texts: readonly string[],
    options: EmbedOptions = {},
  ): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let at = 0; at < texts.length; at += EMBED_BATCH) {
      const event = await this.#ask(
        { type: "embed", texts: texts.slice(at, at + EMBED_BATCH) },
        options.signal,
      );
      if (event.type !== "embedding") throw _unexpected(event);
      vectors.push(...event.vectors);
    }
    return vectors;
  }

  /** Tokens of the prompt `messages` make with this model's chat template, before any fitting. */
  async promptTokens(
    messages: readonly ChatMessage[],
    options: EmbedOptions = {},
  ): Promise<number> {
    const event = await this.#ask(
      { type: "count", messages: messages.map((m) => ({ ...m })) },
      options.signal,
    );
    if (event.type !== "count") throw _unexpected(event);
    return event.tokens;
  }

  /**
   * Asks the model process to dispose the context, the model and llama.cpp
   * and exit, then waits (killing it after `closeTimeoutMs`). Idempotent; a
   * later call starts a new process.
   */
  async close(): Promise<void> {
    await this.#hosts.close(this.#options.closeTimeoutMs ?? 10_000);
  }

  async #ask(
    call: Parameters<HostProcess["send"]>[0],
    signal: AbortSignal | undefined,
  ): Promise<HostAnswer> {
    const { host } = await this.#hosts.ready(signal);
    const { id, answer } = host.send(call);
    const event = await untilAborted(answer, signal, () => host.cancel(id)).catch((error) => {
      throw this.#stopped(signal, signal, error);
    });
    if (event.type === "error") throw new DialogueError(event.code, event.message);
    return event;
  }

  #stopped(
    signal: AbortSignal | undefined,
    callerSignal: AbortSignal | undefined,
    cause: unknown,
  ): DialogueError {
    if (cause instanceof DialogueError) return cause;
    if (callerSignal?.aborted && callerSignal !== signal) {
      return new DialogueError(ErrorCode.Aborted, "Generation cancelled", { cause });
    }
    if (signal?.aborted) {
      const reason = signal.reason as Error | undefined;
      if (reason?.name === "TimeoutError") {
        return new DialogueError(
          ErrorCode.LlmTransient,
          `The ${this.description} did not finish within ${
            this.#options.requestTimeoutMs ?? 300_000
          } ms: use a smaller model, fewer reply tokens, or more threads`,
          { cause },
        );
      }
      return new DialogueError(ErrorCode.Aborted, "Generation cancelled", { cause });
    }
    return new DialogueError(
      ErrorCode.LlmTransient,
      `The ${this.description} failed: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
}

/**
 * The backend for the `embedded` configuration section, serving `sequences`
 * generations at once.
 */
export function embeddedBackendFor(
  settings: { model_file: string; threads: number; gpu: "auto" | "off"; context_tokens: number },
  sequences: number,
): EmbeddedBackend {
  return new EmbeddedBackend({
    modelFile: settings.model_file,
    threads: settings.threads,
    gpu: settings.gpu === "off" ? false : "auto",
    contextTokens: settings.context_tokens,
    sequences,
  });
}

function _unexpected(event: HostAnswer): DialogueError {
  return new DialogueError(
    ErrorCode.LlmTransient,
    `The embedded model answered '${event.type}' out of turn`,
  );
}
