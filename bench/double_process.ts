/**
 * The zero-latency Ollama double of `deno task bench`, as a process of its
 * own (the module `deno task fake-ollama` runs), so its work is not counted
 * in the bench process.
 *
 * @module
 */
import { REPLY_WORDS } from "./persona_load.ts";

/** A running double. */
export interface DoubleProcess {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Stops it and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts the double on a free port: 0 ms per token, 100-word replies, characters never split. */
export async function startDouble(): Promise<DoubleProcess> {
  const script = new URL("../lib/testing/ollama/fake_ollama.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      script,
      "--port",
      "0",
      "--words",
      String(REPLY_WORDS),
      "--no-split",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot start the Ollama double as it exited: ${text}`);
    text += value;
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    url: /http:\/\/\S+/.exec(text)![0],
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}
