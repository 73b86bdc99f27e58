/**
 * The streamed `/api/chat` reply of the test double: one NDJSON line per
 * content piece, then the `done` object with nanosecond metrics that match
 * the time it really took (zero ones left out, as Ollama does), or the end a
 * fault asked for: an `{"error"}` line, a cut connection, no `done` at all.
 *
 * @module
 */
import { readableFrom, sleep } from "./abortable.ts";
import type { ReplyPlan } from "./reply_plan.ts";
import { ndjsonLine } from "./wire.ts";

/** Pause between the two halves of a split UTF-8 character, so they travel apart. */
const _SPLIT_PAUSE_MS = 5;

/** Thrown inside a response body to drop the connection on purpose. */
export class CutConnection extends Error {
  constructor() {
    super("OllamaDouble cut the connection as a fault asked");
  }
}

/**
 * The body of a streamed chat reply. Unless `plan.splitUtf8` is off, the
 * first multibyte character goes out in two writes with a pause between, so
 * a client really receives it split.
 *
 * @param signal Ends the reply early (the double closes, the client left).
 * @param gone Aborted when the client cancels the body.
 */
export function chatStream(
  plan: ReplyPlan,
  signal: AbortSignal,
  gone: AbortController,
): ReadableStream<Uint8Array> {
  return readableFrom(_lines(plan, signal), gone);
}

async function* _lines(plan: ReplyPlan, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  let split = !plan.splitUtf8;
  for (const token of plan.tokens) {
    if (!(await sleep(plan.delayMs, signal))) return;
    plan.firstToken ??= performance.now();
    const bytes = ndjsonLine(_chunk(plan, token));
    const lead = split ? -1 : bytes.findIndex((byte) => byte >= 0xc0);
    if (lead < 0) {
      yield bytes;
      continue;
    }
    split = true;
    yield bytes.subarray(0, lead + 1);
    if (!(await sleep(_SPLIT_PAUSE_MS, signal))) return;
    yield bytes.subarray(lead + 1);
  }
  if (signal.aborted) return;
  switch (plan.ending) {
    case "error":
      yield ndjsonLine({ error: plan.error });
      return;
    case "cut":
      throw new CutConnection();
    case "none":
      return;
    case "done":
      yield ndjsonLine(_final(plan));
  }
}

function _chunk(plan: ReplyPlan, content: string): Record<string, unknown> {
  return {
    model: plan.model,
    created_at: new Date().toISOString(),
    message: { role: "assistant", content },
    done: false,
  };
}

/** The last object; durations in nanoseconds since the request arrived, zero ones left out. */
function _final(plan: ReplyPlan): Record<string, unknown> {
  const ns = (t: number) => Math.round((t - plan.started) * 1e6);
  const end = ns(performance.now());
  const loaded = ns(plan.loaded);
  const first = plan.firstToken === undefined ? end : ns(plan.firstToken);
  const metrics = Object.entries({
    total_duration: end,
    load_duration: loaded,
    prompt_eval_count: plan.promptTokens,
    prompt_eval_duration: first - loaded,
    eval_count: plan.tokens.length,
    eval_duration: plan.tokens.length > 0 ? end - first : 0,
  }).filter(([, value]) => value > 0);
  const { done: _, ...chunk } = _chunk(plan, "");
  return { ...chunk, done_reason: plan.doneReason, done: true, ...Object.fromEntries(metrics) };
}
