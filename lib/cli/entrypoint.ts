/**
 * What every entrypoint does around its one `lib/` call: wire SIGINT and
 * SIGTERM to an AbortSignal, and turn a {@linkcode DialogueError} into one
 * line on stderr and an exit code. Any other error is a bug: it keeps its
 * stack trace.
 *
 * The message can quote a model's reply or text read back from Redis, so the
 * line is made inert (control characters written as `\uXXXX` escapes, see
 * `sanitizeBounded` in lib/base/sanitize.ts), kept on one line and cut to
 * `MAX_STDERR_TEXT`.
 *
 * @module
 */
import { DialogueError, exitCodeFor } from "../base/dialogue_error.ts";
import { closeLogging } from "../base/logger.ts";
import { MAX_STDERR_TEXT, sanitizeBounded } from "../base/sanitize.ts";

/** Signals closer together than this count as one. */
const SAME_SIGNAL_MS = 1000;

/**
 * Runs an entrypoint's body and exits with the code it returns.
 * A second Ctrl-C (a second or more after the first) exits at once with 130.
 */
export async function runEntrypoint(
  name: string,
  body: (signal: AbortSignal) => Promise<number>,
): Promise<never> {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = () => {
    // A second signal a moment later means "now"; one that arrives with the
    // first (terminal Ctrl-C plus a parent passing it on) is the same request.
    if (controller.signal.aborted) {
      if (Date.now() - firstAt > SAME_SIGNAL_MS) Deno.exit(130);
      return;
    }
    firstAt = Date.now();
    controller.abort();
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, onSignal);
  let code: number;
  try {
    code = await body(controller.signal);
  } catch (error) {
    if (!(error instanceof DialogueError)) throw error;
    console.error(errorLine(name, error));
    code = exitCodeFor(error);
  }
  await closeLogging().catch(() => {});
  Deno.exit(code);
}

/**
 * The one line printed for a {@linkcode DialogueError}: `name: message`, the
 * message made inert and kept on one line and bounded.
 */
export function errorLine(name: string, error: DialogueError): string {
  return `${name}: ${sanitizeBounded(error.message, MAX_STDERR_TEXT, { keepNewlines: false })}`;
}
