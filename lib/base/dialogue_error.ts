/**
 * The one error family callers branch on. Entrypoints turn a
 * `DialogueError` into a one-line message and an exit code; anything else is
 * a bug and keeps its stack trace.
 *
 * @module
 */

/** Conditions callers branch on. */
export enum ErrorCode {
  /** A flag or configuration value is invalid (exit code 2). */
  Usage = "usage",
  /** Redis cannot be reached or refused us. */
  RedisUnavailable = "redis_unavailable",
  /** Ollama (or another LLM backend) cannot be reached. */
  LlmUnavailable = "llm_unavailable",
  /** The model is not installed on the LLM host. */
  ModelNotFound = "model_not_found",
  /** The LLM host answered with an error worth retrying (busy, 5xx, cut). */
  LlmTransient = "llm_transient",
  /** The model's output failed validation after every retry. */
  InvalidOutput = "invalid_output",
  /** A conversation or file the user named does not exist. */
  NotFound = "not_found",
  /** The run was cancelled (signal or deadline). */
  Aborted = "aborted",
}

/** Options of a {@linkcode DialogueError}. */
export interface DialogueErrorOptions extends ErrorOptions {
  /**
   * How long the server asked to be left alone before a retry (a 429's or
   * 503's `Retry-After`), in milliseconds.
   */
  retryAfterMs?: number;
}

/** An error with a message meant for the user. */
export class DialogueError extends Error {
  /** What kind of failure this is. */
  readonly code: ErrorCode;
  /** The server's `Retry-After`, when it gave one (ms). */
  readonly retryAfterMs: number | undefined;

  /** Creates an error; `message` must say what was wrong and what to do. */
  constructor(code: ErrorCode, message: string, options?: DialogueErrorOptions) {
    super(message, options);
    this.name = "DialogueError";
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Exit code for a user error of this kind: 2 for usage, 1 otherwise. */
export function exitCodeFor(error: DialogueError): number {
  return error.code === ErrorCode.Usage ? 2 : 1;
}

/** Shorthand for a usage error (bad flag or configuration value). */
export function usageError(message: string): DialogueError {
  return new DialogueError(ErrorCode.Usage, message);
}
