/**
 * The configuration `deno task chat` hands its children. It travels on the
 * child's standard input, written once by the parent and then closed, never
 * in the environment: `ps eww` and `/proc/PID/environ` show a process's
 * environment, so a Redis password from a 0600 config file would be exposed
 * there. A pipe is read once by the one child it was made for, leaves nothing
 * on disk (a parent killed with SIGKILL cannot leave a secret file behind),
 * and a child started again by the supervisor gets a fresh pipe.
 *
 * @module
 */
import { usageError } from "../base/dialogue_error.ts";

/** Most bytes a parent's configuration may take (prompts included). */
export const INHERITED_CONFIG_MAX_BYTES = 1024 * 1024;

/** The only value `DIALOGUE_CONFIG_FROM` takes. */
export const INHERITED_FROM_STDIN = "stdin";

/** Standard input read to its end, once per stream. */
const _read = new WeakMap<object, Promise<string>>();

/**
 * The parent's configuration as JSON text, read from standard input to its
 * end (once per process: a second call returns the same text).
 *
 * @throws {DialogueError} `usage` when `source` is not `stdin`, stdin is a
 * terminal (the variable was set by hand), or the text is over the cap.
 */
export function readInheritedConfig(
  variable: string,
  source: string,
  stdin: { readable: ReadableStream<Uint8Array>; isTerminal(): boolean } = Deno.stdin,
): Promise<string> {
  if (source !== INHERITED_FROM_STDIN) {
    throw usageError(
      `Cannot read the configuration ${variable} points at as only "stdin" is supported: current value is ${
        JSON.stringify(source.slice(0, 40))
      }; unset ${variable} (deno task chat sets it for its children)`,
    );
  }
  if (stdin.isTerminal()) {
    throw usageError(
      `Cannot read the configuration from stdin as it is a terminal: unset ${variable} (deno task chat sets it for its children, which it feeds the configuration)`,
    );
  }
  let text = _read.get(stdin);
  if (!text) _read.set(stdin, text = _readAll(stdin.readable, variable));
  return text;
}

async function _readAll(readable: ReadableStream<Uint8Array>, variable: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of readable) {
    size += chunk.length;
    if (size > INHERITED_CONFIG_MAX_BYTES) {
      throw usageError(
        `Cannot read the configuration from stdin as it is over ${INHERITED_CONFIG_MAX_BYTES} bytes: unset ${variable}`,
      );
    }
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(all);
}
