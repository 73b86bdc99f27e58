/**
 * Waiting out a `deno task chat` a bench started: Ctrl-C (SIGINT) at its
 * time limit, as a user would; chat and its children killed by pid if still
 * there 15 s later (they would outlive the bench); the tail of its stderr
 * kept for the report.
 *
 * @module
 */
import { processTree } from "./process_tree.ts";

/** How a bench's chat process ended. */
export interface ChatEnding {
  status: Deno.CommandStatus;
  /** The last 8,000 characters of its stderr. */
  stderr: string;
}

/** Waits for `child` (spawned with `stderr: "piped"`), ending it after `timeLimitMs`. */
export async function awaitChat(
  child: Deno.ChildProcess,
  timeLimitMs: number,
): Promise<ChatEnding> {
  const stderr = _tail(child.stderr);
  const timer = setTimeout(() => child.kill("SIGINT"), timeLimitMs);
  const killer = setTimeout(async () => {
    for (const { pid } of (await processTree(child.pid)).reverse()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, timeLimitMs + 15_000);
  const status = await child.status;
  clearTimeout(timer);
  clearTimeout(killer);
  return { status, stderr: await stderr };
}

async function _tail(stream: ReadableStream<Uint8Array>): Promise<string> {
  // A decoder by hand rather than TextDecoderStream: its typings differ
  // between Deno's and the DOM's libs, which the web assets bring in.
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text = (text + decoder.decode(chunk, { stream: true })).slice(-8000);
  }
  return text;
}
