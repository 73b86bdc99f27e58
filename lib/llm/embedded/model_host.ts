/**
 * The embedded model's host process: loads one GGUF model with llama.cpp
 * (node-llama-cpp, in lib/llm/embedded/llama_host.ts and llama_loading.ts),
 * one context of K parallel sequences, and serves the requests of
 * {@linkcode ./host_protocol.ts} from stdin to stdout. Run by
 * {@linkcode ./embedded_backend.ts}, never imported: a native addon is kept
 * out of the agent's own process, whose exit it could crash (Deno #29911),
 * and a crash here costs the in-flight generations, not the run.
 *
 * Usage: `deno run <flags> model_host.ts '<HostConfig JSON>'`.
 *
 * @module
 */
import { ErrorCode } from "../../base/dialogue_error.ts";
import { firstLine, HostFailure } from "./host_failure.ts";
import type { LlamaHost } from "./llama_host.ts";
import { loadLlamaHost } from "./llama_loading.ts";
import {
  encodeLine,
  HostConfig,
  type HostEvent,
  HostRequest,
  MAX_REQUEST_LINE_CHARS,
  parseLine,
  readLines,
} from "./host_protocol.ts";

/** Serializes writes to stdout, so concurrent generations never interleave a line. */
const _out = Deno.stdout.writable.getWriter();
const _encoder = new TextEncoder();
function _send(event: HostEvent): Promise<void> {
  return _out.write(_encoder.encode(encodeLine(event))).catch(() => {});
}

async function _main(args: readonly string[]): Promise<void> {
  // stdout carries the protocol only: whatever a library logs goes to stderr.
  console.log = console.info = console.debug = console.error;
  const parsed = parseLine(HostConfig, args[0] ?? "");
  if (!parsed.ok) {
    await _send({
      type: "fatal",
      code: ErrorCode.Usage,
      message: `Bad host config: ${parsed.problem}`,
    });
    Deno.exit(2);
  }
  let host: LlamaHost;
  try {
    host = await loadLlamaHost(parsed.value, _send);
  } catch (error) {
    const failure = error instanceof HostFailure ? error : new HostFailure(
      ErrorCode.LlmUnavailable,
      `Cannot start the embedded model: ${firstLine(error)}`,
    );
    await _send({ type: "fatal", code: failure.code, message: failure.message.slice(0, 2000) });
    Deno.exit(1);
  }
  try {
    for await (const line of readLines(Deno.stdin.readable, MAX_REQUEST_LINE_CHARS)) {
      const request = parseLine(HostRequest, line);
      if (!request.ok) {
        console.error(`model host: ignored an invalid request (${request.problem})`);
        continue;
      }
      if (request.value.type === "close") break;
      host.handle(request.value);
    }
  } catch (error) {
    console.error(`model host: stdin failed: ${firstLine(error)}`);
  }
  // "close", or stdin ended because the backend's process is gone: either
  // way nothing is left to serve.
  await host.close();
  await _send({ type: "closed" });
  await _out.close().catch(() => {});
  Deno.exit(0);
}

if (import.meta.main) await _main(Deno.args);
