/**
 * Row (h) of the backend bench: aggregate tokens/s of one
 * {@linkcode EmbeddedBackend} with K parallel sequences, K `chat()` calls
 * kept in flight until a fixed number of generations is done. The prompts
 * are a pipeline run's, replayed in turn order.
 *
 * @module
 */
import { EmbeddedBackend } from "../lib/llm/embedded/embedded_backend.ts";
import type { DirectCall } from "./direct_run.ts";

/** What {@linkcode measureSequences} runs. */
export interface SequencesOptions {
  modelFile: string;
  threads: number;
  contextTokens: number;
  /** K: parallel sequences of the one context, and calls in flight. */
  sequences: number;
  /** The prompts, taken in order and again from the start when they run out. */
  calls: readonly DirectCall[];
  /** Generations timed in all. */
  generations: number;
}

/** What K sequences did. */
export interface SequencesResult {
  sequences: number;
  generations: number;
  tokens: number;
  /** First call started → last call ended (the model already loaded and warmed up). */
  wallMs: number;
  /** Each call's own wall time. */
  callMs: number[];
}

/** Loads the model with K sequences, warms it up, then times `generations` calls K at a time. */
export async function measureSequences(options: SequencesOptions): Promise<SequencesResult> {
  const backend = new EmbeddedBackend({
    modelFile: options.modelFile,
    threads: options.threads,
    gpu: false,
    contextTokens: options.contextTokens,
    sequences: options.sequences,
  });
  const chat = (call: DirectCall) =>
    backend.chat({
      model: "bench",
      messages: call.messages,
      temperature: call.temperature,
      ...(call.seed !== undefined ? { seed: call.seed } : {}),
      maxTokens: call.maxTokens,
      contextTokens: call.contextTokens,
    });
  try {
    await backend.ensureModel("bench");
    await Promise.all(options.calls.slice(0, options.sequences).map(chat));
    let next = 0;
    let tokens = 0;
    const callMs: number[] = [];
    const worker = async () => {
      while (next < options.generations) {
        const call = options.calls[next++ % options.calls.length]!;
        const result = await chat(call);
        tokens += result.metrics.generatedTokens;
        callMs.push(result.wallMs);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: options.sequences }, worker));
    return {
      sequences: options.sequences,
      generations: callMs.length,
      tokens,
      wallMs: performance.now() - started,
      callMs,
    };
  } finally {
    await backend.close();
  }
}
