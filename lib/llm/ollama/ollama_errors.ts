/**
 * Ollama's failures as {@linkcode DialogueError}s whose code says what a
 * caller can do (retry, stop, tell the user) and whose message says how to
 * fix it. The server's own text is untrusted: bounded here; escaped where it
 * is shown (the log sink, the entrypoint's line, the manager's failure line),
 * so the run's record keeps it as the server said it.
 *
 * @module
 */
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";

/** Most characters of a server's error text quoted in a message. */
const SERVER_TEXT_CHARS = 2000;

/** What {@linkcode translateOllamaError} needs to say where and why. */
export interface OllamaErrorContext {
  /** The backend's description, e.g. `Ollama at http://127.0.0.1:11434`. */
  where: string;
  model: string;
  /** The request's time bound, for the timeout's advice. */
  timeoutMs: number;
  /** The request's own signal (caller's and timeout combined). */
  signal?: AbortSignal | undefined;
  /** The caller's signal: aborted means cancelled, not timed out. */
  callerSignal?: AbortSignal | undefined;
}

/**
 * The error a failed Ollama call becomes: `aborted` (the caller cancelled),
 * `llm_transient` (timeout, 5xx, a cut stream), `model_not_found` (404),
 * `invalid_output` (400), `llm_unavailable` (nothing listening).
 */
export function translateOllamaError(error: unknown, ctx: OllamaErrorContext): DialogueError {
  if (error instanceof DialogueError) return error;
  const err = error as Error & { status_code?: number; cause?: unknown };
  const { where, model } = ctx;
  if (ctx.callerSignal?.aborted) {
    return new DialogueError(ErrorCode.Aborted, "Generation cancelled", { cause: error });
  }
  if (ctx.signal?.aborted || err.name === "TimeoutError") {
    return new DialogueError(
      ErrorCode.LlmTransient,
      `${where} did not finish within ${ctx.timeoutMs} ms: raise ollama.request_timeout_ms or use a smaller model`,
      { cause: error },
    );
  }
  const text = String(err.message ?? "").slice(0, SERVER_TEXT_CHARS);
  if (err.name === "ResponseError") {
    if (err.status_code === 404) {
      return new DialogueError(
        ErrorCode.ModelNotFound,
        `Model '${model}' is not installed on ${where}: run 'ollama pull ${model}' or pass --pull`,
        { cause: error },
      );
    }
    const code = err.status_code === 400 ? ErrorCode.InvalidOutput : ErrorCode.LlmTransient;
    return new DialogueError(code, `${where} answered ${err.status_code}: ${text}`, {
      cause: error,
    });
  }
  if (_isConnectionRefused(err)) {
    return new DialogueError(
      ErrorCode.LlmUnavailable,
      `Cannot reach ${where} as the connection was refused: start Ollama ('ollama serve') or set OLLAMA_HOST / --ollama-host`,
      { cause: error },
    );
  }
  return new DialogueError(ErrorCode.LlmTransient, `${where} failed mid-reply: ${text}`, {
    cause: error,
  });
}

function _isConnectionRefused(err: Error & { cause?: unknown }): boolean {
  const text = `${err.message} ${String((err.cause as Error)?.message ?? "")} ${
    String((err.cause as { code?: string })?.code ?? "")
  }`;
  return /refused|ECONNREFUSED|fetch failed|dns error|failed to lookup/i.test(text);
}
