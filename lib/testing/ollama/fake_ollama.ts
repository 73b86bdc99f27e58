/**
 * `deno task fake-ollama`: the Ollama test double on its own, until
 * interrupted, so every command can be tried without a model.
 *
 * @module
 */
import { OllamaDouble } from "./ollama_double.ts";

/** Usage of the standalone server. */
export const FAKE_OLLAMA_HELP =
  `Usage: deno task fake-ollama [--port N] [--delay MS] [--words N] [--no-split]

Serves a fake Ollama on 127.0.0.1 until interrupted.
  --port N    port to listen on (default 11434)
  --delay MS  delay between streamed chunks in milliseconds (default 0)
  --words N   approximate words per generated message (default 12)
  --no-split  send multibyte characters whole (no 5 ms split): zero latency
  -h, --help  show this help`;

/** The flags of {@linkcode FAKE_OLLAMA_HELP}, parsed. */
export interface FakeOllamaFlags {
  port: number;
  delay: number;
  words: number;
  /** Split the first multibyte character of a reply (off with --no-split). */
  split: boolean;
}

/**
 * Parses the flags of {@linkcode FAKE_OLLAMA_HELP}.
 *
 * @throws {TypeError} On an unknown flag or a value that is not a whole number.
 */
export function parseFakeOllamaFlags(args: readonly string[]): FakeOllamaFlags {
  const flags: FakeOllamaFlags = { port: 11434, delay: 0, words: 12, split: true };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--no-split") {
      flags.split = false;
      continue;
    }
    const [name, inline] = (args[i] ?? "").replace(/^--/, "").split("=", 2);
    if (name !== "port" && name !== "delay" && name !== "words") {
      throw new TypeError(
        `Cannot parse flag "${args[i]}": use --port, --delay, --words or --no-split`,
      );
    }
    const text = inline ?? args[++i];
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < 0) {
      throw new TypeError(
        `Cannot use --${name} as it is not a whole number: current value is ${text}`,
      );
    }
    flags[name] = value;
  }
  return flags;
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(FAKE_OLLAMA_HELP);
    Deno.exit(0);
  }
  let flags: FakeOllamaFlags;
  try {
    flags = parseFakeOllamaFlags(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    console.error(FAKE_OLLAMA_HELP);
    Deno.exit(1);
  }
  const double = await OllamaDouble.start({
    port: flags.port,
    tokenDelayMs: flags.delay,
    wordsPerReply: flags.words,
    splitUtf8: flags.split,
  });
  console.log(`Fake Ollama listening on ${double.url}`);
  const stop = () => double.close().finally(() => Deno.exit(0));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
