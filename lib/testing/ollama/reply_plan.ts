/**
 * What the test double will answer to one `/api/chat` request, decided
 * before the first byte: the content (prose, or JSON for a `format`), cut
 * into word-sized pieces, limited by `num_predict`, shaped by a fault.
 *
 * @module
 */
import { applyFault, type Ending, type Fault } from "./fault.ts";
import { hashSeed, Prose } from "./prose.ts";
import { type SampleOptions, sampleSchema, violateSchema } from "./schema_sample.ts";
import { asRecord } from "./wire.ts";

/** One reply, planned. Times are `performance.now()` milliseconds. */
export interface ReplyPlan {
  /** The canonical model name echoed in every chunk. */
  model: string;
  /** Content pieces to send, already cut to where the reply stops. */
  tokens: string[];
  doneReason: "stop" | "length";
  ending: Ending;
  /** The message of an `error` ending. */
  error: string;
  /** Delay before each piece. */
  delayMs: number;
  /** Whether the first multibyte character goes out split in two writes. */
  splitUtf8: boolean;
  /** Reported `prompt_eval_count`. */
  promptTokens: number;
  /** When the request arrived. */
  started: number;
  /** When the model counts as loaded (the plan is made). */
  loaded: number;
  /** When the first piece went out; set while streaming. */
  firstToken?: number;
}

/** How {@linkcode planReply} writes a reply. */
export interface PlanOptions {
  /** The canonical model name. */
  model: string;
  /** The fault to play, if any. */
  fault: Fault | undefined;
  /** Approximate length in words of a message. */
  wordsPerReply: number;
  /** Delay before each piece unless a `slow` fault says otherwise. */
  tokenDelayMs: number;
  /** Whether the first multibyte character goes out split in two writes. */
  splitUtf8: boolean;
  /** When the request arrived (`performance.now()`). */
  started: number;
}

/**
 * Plans the reply to a chat request body. The content is seeded by the
 * messages and `options.seed`, so a request always gets the same reply.
 */
export function planReply(body: Record<string, unknown>, options: PlanOptions): ReplyPlan {
  const { fault } = options;
  const settings = asRecord(body.options);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const prompt = messages.map((m) => String(asRecord(m).content ?? ""));
  const seed = hashSeed(`${JSON.stringify(prompt)}\u0000${String(settings.seed ?? "")}`);
  const words = prompt.join(" ").split(/\s+/).filter((w) => w !== "").length;
  const all = tokenize(_content(body.format, fault, {
    prose: new Prose(seed),
    messageWords: options.wordsPerReply,
  }));
  let tokens = all;
  let doneReason: ReplyPlan["doneReason"] = "stop";
  const numPredict = typeof settings.num_predict === "number" ? settings.num_predict : 0;
  if (numPredict > 0 && numPredict < tokens.length) {
    tokens = tokens.slice(0, numPredict);
    doneReason = "length";
  }
  const faulted = applyFault(tokens, all, fault, body.format !== undefined);
  return {
    model: options.model,
    tokens: faulted.tokens,
    doneReason: faulted.doneReason ?? doneReason,
    ending: faulted.ending,
    error: faulted.error,
    delayMs: fault?.kind === "slow" ? fault.tokenDelayMs : options.tokenDelayMs,
    splitUtf8: options.splitUtf8,
    promptTokens: Math.ceil(words * 1.3) + 4 * prompt.length,
    started: options.started,
    loaded: performance.now(),
  };
}

/**
 * Word-sized pieces (with their leading space), runs of up to three other
 * characters, or whitespace runs; joined they give `text` back exactly.
 */
export function tokenize(text: string): string[] {
  return text.match(/ ?[\p{L}\p{M}\p{N}'’]+| ?[^\p{L}\p{M}\p{N}\s]{1,3}|\s+/gu) ?? [];
}

function _content(format: unknown, fault: Fault | undefined, sample: SampleOptions): string {
  if (fault?.kind === "text") return fault.content;
  const words = sample.messageWords ?? 12;
  const isSchema = typeof format === "object" && format !== null;
  if (fault?.kind === "invalid_schema") {
    return JSON.stringify(isSchema ? violateSchema(format, sample) : [sample.prose.text(words)]);
  }
  if (isSchema) return JSON.stringify(sampleSchema(format, sample));
  const text = sample.prose.text(words);
  return format === "json" ? JSON.stringify({ message: text }) : text;
}
