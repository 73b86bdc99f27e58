/**
 * A failure inside the embedded model's process, with the code the backend
 * turns into a {@linkcode DialogueError} of the same code.
 *
 * @module
 */
import type { ErrorCode } from "../../base/dialogue_error.ts";

/** A failure with the error code the backend reports it as. */
export class HostFailure extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** The first line of an error's message, bounded: what a one-line reason quotes. */
export function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0]!.slice(0, 300);
}
