/**
 * What the test double will answer to one chat completion, decided before
 * the first byte: the content (prose, or JSON fitting a `response_format`
 * schema), cut into word-sized pieces, limited by `max_tokens`, shaped by a
 * fault, and how the stream carries usage and timings.
 *
 * @module
 */
import { hashSeed, Prose } from "../ollama/prose.ts";
import { tokenize } from "../ollama/reply_plan.ts";
import { sampleSchema } from "../ollama/schema_sample.ts";
import { type OpenAiFault, SPLIT_UTF8_TEXT } from "./openai_fault.ts";
import { asRecord } from "./openai_wire.ts";

/** Where token usage goes in a stream. */
export type UsageMode = "final" | "every" | "none";

/** How a streamed reply ends. */
export type Ending =
  /** finish chunk, usage chunk (when asked), `[DONE]` */
  | "done"
  /** the connection dropped */
  | "cut"
  /** a clean end with no `[DONE]` (after the finish chunk when `finishSent`) */
  | "none"
  /** an `{"error"}` event, then `[DONE]` */
  | "error";

/** One completion, planned. Times are `performance.now()` milliseconds. */
export interface CompletionPlan {
  id: string;
  /** Unix seconds, as `created` carries them. */
  created: number;
  model: string;
  /** Content pieces to send, already cut to where the reply stops. */
  tokens: string[];
  finishReason: string;
  ending: Ending;
  /** With ending `none`: the finish chunk still goes out first. */
  finishSent: boolean;
  /** The message of an `error` ending. */
  error: string;
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
  usage: UsageMode;
  /** Put llama.cpp's `timings` in the finish chunk. */
  timings: boolean;
  promptTokens: number;
  delayMs: number;
  /** Send each chunk's first multibyte character in two writes. */
  splitUtf8: boolean;
  /** When the request arrived. */
  started: number;
  /** When the first and the last piece went out; set while streaming. */
  firstToken?: number;
  lastToken?: number;
}

/** What the double's settings add to a request. */
export interface PlanSettings {
  /** The model, already checked to exist. */
  model: string;
  fault: OpenAiFault | undefined;
  wordsPerReply: number;
  tokenDelayMs: number;
  usage: UsageMode;
  timings: boolean;
  started: number;
  /** Makes completion ids unique within the double. */
  serial: number;
}

/**
 * Plans the reply to a chat completion body. The content is seeded by the
 * messages and `seed`, so a request always gets the same reply.
 */
export function planCompletion(
  body: Record<string, unknown>,
  settings: PlanSettings,
): CompletionPlan {
  const { fault } = settings;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const prompt = messages.map((m) => String(asRecord(m).content ?? ""));
  const seed = hashSeed(`${JSON.stringify(prompt)}\u0000${String(body.seed ?? "")}`);
  const schema = responseSchema(body.response_format);
  const all = tokenize(_content(body.response_format, schema, fault, settings, new Prose(seed)));
  let tokens = all;
  let finishReason = fault?.kind === "text" ? fault.finishReason ?? "stop" : "stop";
  const limit = Number(body.max_completion_tokens ?? body.max_tokens ?? 0);
  if (limit > 0 && limit < tokens.length) {
    tokens = tokens.slice(0, limit);
    finishReason = "length";
  }
  let ending: Ending = "done";
  let finishSent = false;
  if (fault !== undefined && "afterChunks" in fault) {
    // Structured output cut at the length limit always loses its end.
    const cap = fault.kind === "length" && schema !== undefined ? all.length - 1 : all.length;
    tokens = tokens.slice(0, Math.max(0, Math.min(fault.afterChunks, cap)));
    if (fault.kind === "length") finishReason = "length";
    if (fault.kind === "cut_connection") ending = "cut";
    if (fault.kind === "error_mid_stream") ending = "error";
    if (fault.kind === "no_done") {
      ending = "none";
      finishSent = fault.finish ?? false;
    }
  }
  const options = asRecord(body.stream_options);
  return {
    id: `chatcmpl-double${settings.serial}`,
    created: Math.floor(Date.now() / 1000),
    model: settings.model,
    tokens,
    finishReason,
    ending,
    finishSent,
    error: (fault?.kind === "error_mid_stream" ? fault.error : undefined) ??
      "The server had an error while processing your request.",
    includeUsage: options.include_usage === true,
    usage: settings.usage,
    timings: settings.timings,
    promptTokens: tokenize(prompt.join("\n")).length + 3 * prompt.length,
    delayMs: settings.tokenDelayMs,
    splitUtf8: fault?.kind === "split_utf8",
    started: settings.started,
  };
}

/**
 * The JSON schema a `response_format` asks for: OpenAI's
 * `{type: "json_schema", json_schema: {schema}}` or llama.cpp's flat
 * `{type: "json_schema", schema}`.
 */
export function responseSchema(format: unknown): Record<string, unknown> | undefined {
  const record = asRecord(format);
  if (record.type !== "json_schema") return undefined;
  const schema = asRecord(record.json_schema).schema ?? record.schema;
  return typeof schema === "object" && schema !== null ? asRecord(schema) : undefined;
}

function _content(
  format: unknown,
  schema: Record<string, unknown> | undefined,
  fault: OpenAiFault | undefined,
  settings: PlanSettings,
  prose: Prose,
): string {
  if (fault?.kind === "text") return fault.content;
  if (fault?.kind === "split_utf8") return fault.content ?? SPLIT_UTF8_TEXT;
  if (schema !== undefined) {
    return JSON.stringify(sampleSchema(schema, { prose, messageWords: settings.wordsPerReply }));
  }
  const text = prose.text(settings.wordsPerReply);
  return asRecord(format).type === "json_object" ? JSON.stringify({ message: text }) : text;
}
