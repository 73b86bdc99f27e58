/**
 * The chat completion replies of the test double: the streamed one (one
 * `chat.completion.chunk` event per piece, the finish chunk, the usage
 * chunk with `choices: []`, `data: [DONE]`, or the end a fault asked for)
 * and the whole one for `"stream": false`.
 *
 * @module
 */
import { readableFrom, sleep } from "../ollama/abortable.ts";
import type { CompletionPlan } from "./completion_plan.ts";
import { sseEvent } from "./openai_wire.ts";

/** Pause between the two halves of a split UTF-8 character, so they travel apart. */
const _SPLIT_PAUSE_MS = 5;

/** Thrown inside a response body to drop the connection on purpose. */
export class CutConnection extends Error {
  constructor() {
    super("OpenAiDouble cut the connection as a fault asked");
  }
}

/**
 * The body of a streamed completion.
 *
 * @param signal Ends the reply early (the double closes, the client left).
 * @param gone Aborted when the client cancels the body.
 */
export function completionStream(
  plan: CompletionPlan,
  signal: AbortSignal,
  gone: AbortController,
): ReadableStream<Uint8Array> {
  return readableFrom(_events(plan, signal), gone);
}

/** The `"stream": false` reply: the whole message and its usage. */
export function completionBody(plan: CompletionPlan): Record<string, unknown> {
  const now = performance.now();
  plan.firstToken = plan.lastToken = now;
  return {
    id: plan.id,
    object: "chat.completion",
    created: plan.created,
    model: plan.model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: plan.tokens.join(""), refusal: null },
      logprobs: null,
      finish_reason: plan.finishReason,
    }],
    usage: _usage(plan, plan.tokens.length),
    ...(plan.timings ? { timings: _timings(plan, now) } : {}),
  };
}

async function* _events(plan: CompletionPlan, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  yield sseEvent(_chunk(plan, { role: "assistant", content: "" }, null, 0));
  let sent = 0;
  for (const token of plan.tokens) {
    if (!(await sleep(plan.delayMs, signal))) return;
    plan.firstToken ??= performance.now();
    plan.lastToken = performance.now();
    const bytes = sseEvent(_chunk(plan, { content: token }, null, ++sent));
    const lead = plan.splitUtf8 ? bytes.findIndex((byte) => byte >= 0xc0) : -1;
    if (lead < 0) {
      yield bytes;
      continue;
    }
    yield bytes.subarray(0, lead + 1);
    if (!(await sleep(_SPLIT_PAUSE_MS, signal))) return;
    yield bytes.subarray(lead + 1);
  }
  if (signal.aborted) return;
  switch (plan.ending) {
    case "cut":
      throw new CutConnection();
    case "error":
      yield sseEvent({ error: { message: plan.error, type: "server_error", code: null } });
      yield sseEvent("[DONE]");
      return;
    case "none":
      if (plan.finishSent) yield sseEvent(_finish(plan, sent));
      return;
    case "done":
      yield sseEvent(_finish(plan, sent));
      if (plan.includeUsage && plan.usage !== "none") {
        yield sseEvent({ ..._chunk(plan, {}, null, sent), choices: [], usage: _usage(plan, sent) });
      }
      yield sseEvent("[DONE]");
  }
}

function _finish(plan: CompletionPlan, sent: number): Record<string, unknown> {
  const chunk = _chunk(plan, {}, plan.finishReason, sent);
  return plan.timings ? { ...chunk, timings: _timings(plan, performance.now()) } : chunk;
}

/** One chunk; `usage` is null on it when usage was asked for, a running count in `every` mode. */
function _chunk(
  plan: CompletionPlan,
  delta: Record<string, unknown>,
  finishReason: string | null,
  sent: number,
): Record<string, unknown> {
  const chunk: Record<string, unknown> = {
    id: plan.id,
    object: "chat.completion.chunk",
    created: plan.created,
    model: plan.model,
    system_fingerprint: "fp_openai_double",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
  if (plan.usage === "every") chunk.usage = _usage(plan, sent);
  else if (plan.includeUsage && plan.usage === "final") chunk.usage = null;
  return chunk;
}

function _usage(plan: CompletionPlan, generated: number): Record<string, number> {
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: generated,
    total_tokens: plan.promptTokens + generated,
  };
}

/** llama.cpp's figures: prompt from arrival to the first piece, prediction from there to the last. */
function _timings(plan: CompletionPlan, now: number): Record<string, number> {
  const first = plan.firstToken ?? now;
  const promptMs = first - plan.started;
  const predictedMs = (plan.lastToken ?? first) - first;
  const n = plan.tokens.length;
  return {
    cache_n: 0,
    prompt_n: plan.promptTokens,
    prompt_ms: promptMs,
    prompt_per_token_ms: plan.promptTokens > 0 ? promptMs / plan.promptTokens : 0,
    prompt_per_second: promptMs > 0 ? (plan.promptTokens * 1000) / promptMs : 0,
    predicted_n: n,
    predicted_ms: predictedMs,
    predicted_per_token_ms: n > 0 ? predictedMs / n : 0,
    predicted_per_second: predictedMs > 0 ? (n * 1000) / predictedMs : 0,
  };
}
