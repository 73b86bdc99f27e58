/**
 * The floor of the backend bench: the embedded model driven directly by
 * node-llama-cpp, in its own `deno run` process ({@linkcode ./embedded_direct.ts})
 * started with the model host's own flags, so the two differ only in what
 * the pipeline adds. The job goes in on stdin, the figures come out as one
 * JSON line on stdout.
 *
 * @module
 */
import { HOST_PERMISSIONS } from "../lib/llm/embedded/host_process.ts";
import type { HostMessage } from "../lib/llm/embedded/host_protocol.ts";

/** One generation to replay: what the agent sent to its backend for one turn. */
export interface DirectCall {
  /** Turn number it replays. */
  seq: number;
  /** The agent that spoke. */
  agent: 1 | 2;
  messages: HostMessage[];
  temperature: number;
  seed?: number;
  maxTokens: number;
  /** The request's context budget (`generation.num_ctx`); the context's own size caps it. */
  contextTokens: number;
}

/** What {@linkcode runDirect} runs. */
export interface DirectJob {
  modelFile: string;
  threads: number;
  /** Context of a sequence, capped at the model's training context (as the host does). */
  contextTokens: number;
  /**
   * `per-agent`: a sequence kept per agent, so what an agent's prompt
   * shares with its previous one (the persona, the opening) stays evaluated,
   * as the model host keeps them (the floor). `one`: one sequence and one
   * LlamaChat for every generation (a diagnostic: what keeping sequences
   * saves).
   */
  sequences: "one" | "per-agent";
  /** Generated first and not timed (the pipeline's first turn, which loads the model). */
  warmup: DirectCall;
  calls: DirectCall[];
}

/** One timed generation. */
export interface DirectGeneration {
  seq: number;
  generatedTokens: number;
  promptTokens: number;
  /** `generateResponse` called → returned. */
  wallMs: number;
  /** Called → first text chunk. */
  promptMs: number;
  /** First text chunk → last. */
  streamMs: number;
  content: string;
}

/** What the direct driver reports. */
export interface DirectResult {
  /** The context's size as created. */
  contextTokens: number;
  chatWrapper: string;
  loadMs: number;
  generations: DirectGeneration[];
}

/**
 * Runs `job` in a new process and returns its figures.
 *
 * @throws {Error} when the driver exits without a result; the message carries its stderr.
 */
export async function runDirect(job: DirectJob): Promise<DirectResult> {
  // Started as the backend starts its model host: `deno` by name, which
  // may fork its own binary once to test node-llama-cpp's native one.
  const binary = Deno.realPathSync(Deno.execPath());
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      ...HOST_PERMISSIONS,
      `--allow-run=${binary}`,
      new URL("./embedded_direct.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(job)));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
  if (code !== 0 || !text.startsWith("{")) {
    const why = new TextDecoder().decode(stderr).trim().split("\n").slice(-3).join(" / ");
    throw new Error(
      `Cannot drive the model directly as the driver exited with code ${code}: ${why}`,
    );
  }
  return JSON.parse(text) as DirectResult;
}
