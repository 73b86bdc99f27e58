/**
 * The messages between the embedded backend and its model host process: one
 * JSON object per line (NDJSON) on the host's stdin (requests) and stdout
 * (events). Every line is validated with these schemas and bounded in size on
 * both sides: a host that prints garbage, or a runaway line, is treated as a
 * crashed host rather than trusted.
 *
 * @module
 */
import { z } from "zod";
import { ErrorCode } from "../../base/dialogue_error.ts";
import { MAX_CONTENT_CHARS } from "../../model/dialog_message.ts";
import { CONTENT_MARGIN_CHARS } from "../llm_backend.ts";

/**
 * Longest reply the host returns; a longer one is cut with `doneReason`
 * "length" (the seam's margin, as every backend applies it).
 */
export const MAX_REPLY_CHARS = MAX_CONTENT_CHARS + CONTENT_MARGIN_CHARS;
/** Longest text of one chat message sent to the host. */
export const MAX_MESSAGE_CHARS = 1_000_000;
/** Most messages in one request. */
export const MAX_MESSAGES = 10_000;
/** Longest JSON text of a structured-output schema. */
export const MAX_SCHEMA_CHARS = 256 * 1024;
/** Most texts per embedding request (the backend splits larger calls). */
export const EMBED_BATCH = 32;
/** Most dimensions of an embedding vector. */
export const MAX_EMBEDDING_DIMS = 16_384;
/** Longest line the backend reads from the host (an embedding batch fits). */
export const MAX_EVENT_LINE_CHARS = 16 * 1024 * 1024;
/** Longest line the host reads from the backend (a whole history fits). */
export const MAX_REQUEST_LINE_CHARS = 64 * 1024 * 1024;

/** What the host is started with: its one command-line argument, as JSON. */
export const HostConfig = z.object({
  /** A GGUF file (already checked by the backend). */
  modelFile: z.string().min(1).max(4096),
  threads: z.number().int().min(1).max(256),
  gpu: z.union([z.literal("auto"), z.literal(false)]),
  /** Context per sequence; the host caps it at the model's training context. */
  contextTokens: z.number().int().min(64).max(1_048_576),
  /** Parallel sequences of the one context. */
  sequences: z.number().int().min(1).max(64),
});
/** What the host is started with. */
export type HostConfig = z.infer<typeof HostConfig>;

const id = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().nonnegative();
const ms = z.number().finite().nonnegative();
const text = (max: number) => z.string().max(max);
const problem = text(2000);

/** One chat message as the host takes it. */
export const HostMessage = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: text(MAX_MESSAGE_CHARS),
});
/** One chat message as the host takes it. */
export type HostMessage = z.infer<typeof HostMessage>;

/** A generation: the neutral request's fields the host uses. */
export const ChatCall = z.object({
  type: z.literal("chat"),
  id,
  messages: z.array(HostMessage).min(1).max(MAX_MESSAGES),
  schema: z.record(z.string(), z.unknown()).refine(
    (s) => JSON.stringify(s).length <= MAX_SCHEMA_CHARS,
    `a schema's JSON must be at most ${MAX_SCHEMA_CHARS} characters`,
  ).optional(),
  temperature: z.number().finite().min(0).max(100).optional(),
  /** Context budget of this request; the host uses the smaller of it and its own. */
  contextTokens: z.number().int().positive().optional(),
  maxTokens: z.number().int().positive().optional(),
  seed: z.number().int().optional(),
});

/** Every request the backend writes to the host's stdin. */
export const HostRequest = z.discriminatedUnion("type", [
  ChatCall,
  z.object({ type: z.literal("cancel"), id }),
  z.object({
    type: z.literal("embed"),
    id,
    texts: z.array(text(MAX_MESSAGE_CHARS)).min(1).max(EMBED_BATCH),
  }),
  /** Tokens of the prompt `messages` make, as the chat template renders them. */
  z.object({
    type: z.literal("count"),
    id,
    messages: z.array(HostMessage).min(1).max(MAX_MESSAGES),
  }),
  /** Dispose the context, the model and llama.cpp, in that order, then exit. */
  z.object({ type: z.literal("close") }),
]);
/** A request to the host. */
export type HostRequest = z.infer<typeof HostRequest>;
/** A generation request to the host. */
export type ChatCall = z.infer<typeof ChatCall>;

/** Figures of one generation, as the host counted and timed them. */
export const HostFigures = z.object({
  /** Tokens of the prompt evaluated (the rendered, fitted history). */
  promptTokens: count,
  /** Tokens sampled (the sequence's token meter). */
  generatedTokens: count,
  /** Prompt evaluated → first token sampled. */
  promptMs: ms,
  /** First token → last token. */
  generationMs: ms,
  /** Request read → reply written. */
  totalMs: ms,
});

/** Every event the host writes to its stdout. */
export const HostEvent = z.discriminatedUnion("type", [
  /** The model and its context are loaded. */
  z.object({
    type: z.literal("ready"),
    loadMs: ms,
    contextTokens: count,
    sequences: count.min(1),
    trainContextTokens: count,
    chatWrapper: text(100),
  }),
  z.object({ type: z.literal("token"), id, text: text(MAX_REPLY_CHARS) }),
  z.object({
    type: z.literal("done"),
    id,
    content: text(MAX_REPLY_CHARS),
    /** `stop`, `length` or `cancelled`. */
    doneReason: z.enum(["stop", "length", "cancelled"]),
    /** Oldest turns left out to fit the context. */
    droppedTurns: count,
    /** Whether the system text (or the last turn) had to be cut to fit. */
    cut: z.boolean(),
    figures: HostFigures,
  }),
  z.object({
    type: z.literal("error"),
    id,
    code: z.enum(ErrorCode),
    message: problem,
  }),
  z.object({
    type: z.literal("embedding"),
    id,
    vectors: z.array(z.array(z.number().finite()).max(MAX_EMBEDDING_DIMS)).max(EMBED_BATCH),
  }),
  z.object({ type: z.literal("count"), id, tokens: count }),
  /** Everything is disposed; the host exits next. */
  z.object({ type: z.literal("closed") }),
  /** The host cannot go on (the model did not load); it exits next. */
  z.object({ type: z.literal("fatal"), code: z.enum(ErrorCode), message: problem }),
]);
/** An event from the host. */
export type HostEvent = z.infer<typeof HostEvent>;

/** Outcome of {@linkcode parseLine}. */
export type ParsedLine<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * Parses one NDJSON line with `schema`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { HostEvent, parseLine } from "./host_protocol.ts";
 * strictEqual(parseLine(HostEvent, '{"type":"token","id":1,"text":"Hi"}').ok, true);
 * strictEqual(parseLine(HostEvent, '{"type":"token","id":-1}').ok, false);
 * ```
 */
export function parseLine<S extends z.ZodType>(schema: S, line: string): ParsedLine<z.infer<S>> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, problem: `not JSON: ${JSON.stringify(line.slice(0, 80))}` };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return { ok: false, problem: `${issue?.path.join(".") || "(root)"}: ${issue?.message}` };
}

/** One message as a line (JSON escapes newlines inside strings, so it stays one line). */
export function encodeLine(message: HostRequest | HostEvent): string {
  return JSON.stringify(message) + "\n";
}

/** Thrown by {@linkcode readLines} when a line passes its bound. */
export class LineTooLongError extends Error {
  /** An error naming the bound that was passed. */
  constructor(maxChars: number) {
    super(`Cannot read a line as it passed ${maxChars} characters without a newline`);
    this.name = "LineTooLongError";
  }
}

/**
 * The lines of a byte stream, without their newlines; a line longer than
 * `maxChars` throws {@linkcode LineTooLongError} instead of growing the
 * buffer. A last line without a newline is yielded too.
 *
 * @throws {LineTooLongError}
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxChars: number,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      if (newline - start > maxChars) throw new LineTooLongError(maxChars);
      yield pending.slice(start, newline);
      start = newline + 1;
      newline = pending.indexOf("\n", start);
    }
    pending = pending.slice(start);
    if (pending.length > maxChars) throw new LineTooLongError(maxChars);
  }
  pending += decoder.decode();
  if (pending.length > maxChars) throw new LineTooLongError(maxChars);
  if (pending) yield pending;
}
