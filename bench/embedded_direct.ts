/**
 * The backend bench's floor process: loads the GGUF model with
 * node-llama-cpp with the model host's settings (no GPU, explicit threads,
 * one sequence unless asked for one per agent, the same context size) and generates the replies of a
 * {@linkcode DirectJob} read from stdin, text only (no grammar), timing each
 * `generateResponse`. Each history is fitted to the context beforehand, as
 * the host fits it, so both evaluate the same prompt; the fitting is not
 * timed here, as it is part of what the pipeline adds.
 *
 * Usage: `deno run <the model host's flags> bench/embedded_direct.ts < job.json`
 * (as `runDirect` in {@linkcode ./direct_run.ts} starts it).
 *
 * @module
 */
import {
  type ChatHistoryItem,
  getLlama,
  LlamaChat,
  type LlamaContext,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import type { HostMessage } from "../lib/llm/embedded/host_protocol.ts";
import { type PromptTokenizer, trimHistory } from "../lib/llm/embedded/history_trim.ts";
import type { DirectCall, DirectGeneration, DirectJob, DirectResult } from "./direct_run.ts";

/** A call fitted to the context: the history items and the reply's token budget. */
interface _Prepared {
  call: DirectCall;
  history: ChatHistoryItem[];
  maxTokens: number;
  promptTokens: number;
}

function _history(messages: readonly HostMessage[]): ChatHistoryItem[] {
  const items = messages.map((m): ChatHistoryItem =>
    m.role === "system"
      ? { type: "system", text: m.content }
      : m.role === "user"
      ? { type: "user", text: m.content }
      : { type: "model", response: [m.content] }
  );
  if (messages.at(-1)?.role !== "assistant") items.push({ type: "model", response: [] });
  return items;
}

function _prepare(model: LlamaModel, context: LlamaContext, call: DirectCall): _Prepared {
  const wrapper = resolveChatWrapper(model);
  const tokenizer: PromptTokenizer = {
    tokenize: (text) => model.tokenize(text),
    detokenize: (tokens) => model.detokenize(tokens as Token[]),
    promptTokens: (messages) =>
      wrapper.generateContextState({ chatHistory: _history(messages) }).contextText
        .tokenize(model.tokenizer).length,
  };
  const fitted = trimHistory(call.messages, {
    budget: Math.min(context.contextSize - 2, call.contextTokens),
    maxTokens: call.maxTokens,
    tokenizer,
  });
  return {
    call,
    history: _history(fitted.messages),
    maxTokens: fitted.maxTokens,
    promptTokens: fitted.promptTokens,
  };
}

/** One timed generation (the host streams its chunks too: so does this). */
async function _generate(
  chat: LlamaChat,
  sequence: LlamaContextSequence,
  prepared: _Prepared,
): Promise<DirectGeneration> {
  const before = sequence.tokenMeter.usedOutputTokens;
  const { call } = prepared;
  let firstAt = 0;
  let lastAt = 0;
  const started = performance.now();
  const response = await chat.generateResponse(prepared.history, {
    maxTokens: prepared.maxTokens,
    temperature: call.temperature,
    ...(call.seed !== undefined ? { seed: call.seed } : {}),
    onTextChunk: (text) => {
      if (!text) return;
      lastAt = performance.now();
      if (!firstAt) firstAt = lastAt;
    },
  });
  const ended = performance.now();
  return {
    seq: call.seq,
    generatedTokens: sequence.tokenMeter.usedOutputTokens - before,
    promptTokens: prepared.promptTokens,
    wallMs: ended - started,
    promptMs: (firstAt || ended) - started,
    streamMs: firstAt ? lastAt - firstAt : 0,
    content: response.response,
  };
}

async function _main(): Promise<void> {
  // stdout carries the result only.
  console.log = console.info = console.debug = console.error;
  const job = JSON.parse(await new Response(Deno.stdin.readable).text()) as DirectJob;
  const loading = performance.now();
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: job.modelFile });
  const context = await model.createContext({
    contextSize: Math.min(job.contextTokens, model.trainContextSize || job.contextTokens),
    sequences: job.sequences === "one" ? 1 : 2,
    threads: job.threads,
  });
  const loadMs = performance.now() - loading;
  const wrapper = resolveChatWrapper(model);
  const prepared = job.calls.map((call) => _prepare(model, context, call));
  const generations: DirectGeneration[] = [];
  const slots = Array.from({ length: job.sequences === "one" ? 1 : 2 }, () => {
    const sequence = context.getSequence();
    return { sequence, chat: new LlamaChat({ contextSequence: sequence, chatWrapper: wrapper }) };
  });
  const slot = (call: DirectCall) => slots[job.sequences === "one" ? 0 : call.agent - 1]!;
  const warm = slot(job.warmup);
  await _generate(warm.chat, warm.sequence, _prepare(model, context, job.warmup));
  for (const item of prepared) {
    const { chat, sequence } = slot(item.call);
    generations.push(await _generate(chat, sequence, item));
  }
  for (const { chat, sequence } of slots) {
    chat.dispose();
    await sequence.dispose();
  }
  const result: DirectResult = {
    contextTokens: context.contextSize,
    chatWrapper: wrapper.wrapperName,
    loadMs,
    generations,
  };
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify(result)}\n`));
  Deno.exit(0);
}

if (import.meta.main) await _main();
