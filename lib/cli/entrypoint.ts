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
import { DialogueError, ErrorCode, exitCodeFor } from "../base/dialogue_error.ts";
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
 * What is printed for a {@linkcode DialogueError}: `name: message`, made
 * inert and bounded. A usage error may be a report of several lines (every
 * configuration mistake of a file at once), written by us about the user's
 * own input: its lines are kept, each made inert and bounded, 25 at most.
 * Any other error can quote a model or a server, so it is kept on one line.
 */
export function errorLine(name: string, error: DialogueError): string {
  if (error.code !== ErrorCode.Usage || !error.message.includes("\n")) {
    return `${name}: ${sanitizeBounded(error.message, MAX_STDERR_TEXT, { keepNewlines: false })}`;
  }
  const lines = error.message.split("\n");
  const shown = lines.slice(0, _MAX_LINES)
    .map((line) => sanitizeBounded(line, MAX_STDERR_TEXT, { keepNewlines: false }));
  if (lines.length > _MAX_LINES) shown.push(`… and ${lines.length - _MAX_LINES} more lines`);
  return `${name}: ${shown.join("\n")}`;
}

const _MAX_LINES = 25;
