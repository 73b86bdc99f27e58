/**
 * `deno task fake-openai`: the OpenAI-compatible test double on its own,
 * until interrupted, so every command can be tried with the `openai`
 * backend without a model.
 *
 * @module
 */
import { OpenAiDouble } from "./openai_double.ts";

/** Usage of the standalone server. */
export const FAKE_OPENAI_HELP =
  `Usage: deno task fake-openai [--port N] [--delay MS] [--words N] [--timings] [--no-usage] [--api-key KEY]

Serves a fake OpenAI-compatible server on 127.0.0.1 until interrupted
(point the backend at http://127.0.0.1:PORT/v1).
  --port N       port to listen on (default 8000)
  --delay MS     delay between streamed chunks in milliseconds (default 0)
  --words N      approximate words per generated reply (default 12)
  --timings      add llama.cpp's timings object to the last chunk
  --no-usage     ignore stream_options.include_usage (no usage chunk)
  --api-key KEY  require Authorization: Bearer KEY
  -h, --help     show this help`;

/** The flags of {@linkcode FAKE_OPENAI_HELP}, parsed. */
export interface FakeOpenAiFlags {
  port: number;
  delay: number;
  words: number;
  timings: boolean;
  usage: boolean;
  apiKey?: string;
}

/**
 * Parses the flags of {@linkcode FAKE_OPENAI_HELP}.
 *
 * @throws {TypeError} On an unknown flag, a missing value, or a count that is not a whole number.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseFakeOpenAiFlags } from "./fake_openai.ts";
 *
 * strictEqual(parseFakeOpenAiFlags(["--port", "8081"]).port, 8081);
 * ```
 */
export function parseFakeOpenAiFlags(args: readonly string[]): FakeOpenAiFlags {
  const flags: FakeOpenAiFlags = { port: 8000, delay: 0, words: 12, timings: false, usage: true };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = (args[i] ?? "").replace(/^--/, "").split("=", 2);
    if (name === "timings" || name === "no-usage") {
      if (name === "timings") flags.timings = true;
      else flags.usage = false;
      continue;
    }
    if (name !== "port" && name !== "delay" && name !== "words" && name !== "api-key") {
      throw new TypeError(
        `Cannot parse flag "${
          args[i]
        }": use --port, --delay, --words, --timings, --no-usage or --api-key`,
      );
    }
    const text = inline ?? args[++i];
    if (text === undefined) throw new TypeError(`Cannot use --${name} as it has no value`);
    if (name === "api-key") {
      flags.apiKey = text;
      continue;
    }
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) {
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
    console.log(FAKE_OPENAI_HELP);
    Deno.exit(0);
  }
  let flags: FakeOpenAiFlags;
  try {
    flags = parseFakeOpenAiFlags(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    console.error(FAKE_OPENAI_HELP);
    Deno.exit(1);
  }
  const double = await OpenAiDouble.start({
    port: flags.port,
    tokenDelayMs: flags.delay,
    wordsPerReply: flags.words,
    timings: flags.timings,
    usage: flags.usage ? "final" : "none",
    ...(flags.apiKey === undefined ? {} : { apiKey: flags.apiKey }),
  });
  console.log(`Fake OpenAI-compatible server listening on ${double.url}/v1`);
  const stop = () => double.close().finally(() => Deno.exit(0));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
