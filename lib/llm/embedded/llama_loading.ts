/**
 * Starting the model side of the embedded backend: llama.cpp's prebuilt
 * binary, the GGUF model, one context of K sequences (threads always
 * explicit), each failure said in one line with what to do.
 *
 * @module
 */
import {
  getLlama,
  InsufficientMemoryError,
  type Llama,
  type LlamaContext,
  LlamaLogLevel,
  type LlamaModel,
} from "node-llama-cpp";
import { ErrorCode } from "../../base/dialogue_error.ts";
import { firstLine, HostFailure } from "./host_failure.ts";
import type { HostConfig } from "./host_protocol.ts";
import { LlamaHost, type SendEvent } from "./llama_host.ts";

/**
 * Loads llama.cpp, the model and a context of `config.sequences`
 * sequences, then says `ready` through `send`.
 *
 * @throws {HostFailure} `llm_unavailable` (no prebuilt binary, no memory) or
 * `model_not_found` (a file llama.cpp refuses), each in one line.
 */
export async function loadLlamaHost(config: HostConfig, send: SendEvent): Promise<LlamaHost> {
  const started = performance.now();
  let llama: Llama;
  try {
    llama = await getLlama({ gpu: config.gpu, build: "never", logLevel: LlamaLogLevel.error });
  } catch (error) {
    throw new HostFailure(
      ErrorCode.LlmUnavailable,
      `Cannot start llama.cpp as no prebuilt binary of node-llama-cpp loads here (${
        firstLine(error)
      }): check the platform is supported, or use --backend ollama`,
    );
  }
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: config.modelFile });
  } catch (error) {
    await llama.dispose();
    throw new HostFailure(
      ErrorCode.ModelNotFound,
      `Cannot load the model file ${config.modelFile} as llama.cpp refused it (${
        firstLine(error)
      }): pass --model-file PATH with a GGUF model llama.cpp supports`,
    );
  }
  const contextSize = Math.min(
    config.contextTokens,
    model.trainContextSize || config.contextTokens,
  );
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize,
      // One beyond K = 1, so the two agents of a conversation each keep
      // their own prompt evaluated between turns (llama_host.ts).
      sequences: Math.max(2, config.sequences),
      // Always explicit: llama.cpp's default oversubscribes a small machine.
      threads: config.threads,
    });
  } catch (error) {
    await model.dispose();
    await llama.dispose();
    const memory = error instanceof InsufficientMemoryError;
    throw new HostFailure(
      memory ? ErrorCode.LlmUnavailable : ErrorCode.ModelNotFound,
      `Cannot create a context of ${contextSize} tokens × ${config.sequences} sequences for ${config.modelFile} as ${
        memory ? "memory is insufficient" : firstLine(error)
      }: lower embedded.context_tokens or the concurrency`,
    );
  }
  const host = new LlamaHost({ config, llama, model, context }, send);
  await send({
    type: "ready",
    loadMs: performance.now() - started,
    contextTokens: context.contextSize,
    sequences: config.sequences,
    trainContextTokens: model.trainContextSize,
    chatWrapper: host.chatWrapper.slice(0, 100),
  });
  return host;
}
